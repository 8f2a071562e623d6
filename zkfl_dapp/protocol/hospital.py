"""A hospital: fetch and check the global model, train locally, commit, prove, encrypt, submit.

Only ciphertext, the KZG commitment of the padded update, the norm proof and the sample count leave the
hospital; the patient data and the plaintext update never do. The commitment hides the update: random
pad rows (>= 128 bits, :func:`zkfl_dapp.circuits.kzg.hiding_pad`) go into it with the model rows.

Every model is committed and proven in chunks (:class:`zkfl_dapp.core.layout.CommitmentLayout`; a small
model is one chunk): one point and one pad per chunk, one norm proof per chunk within a budget (the budgets
add up to the round's bound; :func:`zkfl_dapp.circuits.kzg_chunk_norm.chunk_budgets`), proven in parallel
worker processes with progress, all in one ``submitUpdate``: the proofs themselves, or (a deployment with a
challenge window) their hashes and the CID of the proof bundle (zkfl_dapp.chain.norm_claims).
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.chain.norm_claims import NO_CLAIM, norm_claim, proof_bundle
from zkfl_dapp.chain.views import Commitment, commitment_bytes
from zkfl_dapp.circuits.artifacts import Progress, _quiet
from zkfl_dapp.circuits.chunk_prover import prove_chunks
from zkfl_dapp.circuits.kzg import G1Point, KzgBasis, KzgError, commit_vectors, hiding_pad
from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkProof, chunk_budgets
from zkfl_dapp.circuits.kzg_distance import PAD_ENTRY_BITS
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.core.dp import DpConfig
from zkfl_dapp.core.fixedpoint import dequantize, quantize
from zkfl_dapp.core.formats import ModelFile, UpdatePayload
from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.core.norms import bound_from_quantized, chunk_distances, provable_distance, squared_distance
from zkfl_dapp.core.privacy import check_shard_size, declared_sample_count
from zkfl_dapp.crypto.envelope import associated_data, seal
from zkfl_dapp.exceptions import (
    ChainError,
    CircuitError,
    CommitmentMismatchError,
    ConfigError,
    DigestMismatchError,
    NormBoundError,
    ZkflError,
)
from zkfl_dapp.ml.data import Dataset
from zkfl_dapp.ml.model import ModelSpec, num_params
from zkfl_dapp.ml.training import TrainConfig, TrainingContext
from zkfl_dapp.storage.base import Storage


@dataclass(frozen=True)
class PreparedUpdate:
    """What a hospital submits for one round, plus how long each step took."""

    round_id: int
    #: one point per committed vector (chunk)
    commitment: tuple[G1Point, ...]
    cid: str
    sample_count: int
    local_params: np.ndarray
    train_seconds: float
    commit_seconds: float
    encrypt_seconds: float
    #: The norm proofs, one per chunk in chunk order (empty for an unbounded round).
    chunk_proofs: tuple[KzgChunkProof, ...] = ()
    #: Wall time of the norm proof(s) (chunk proofs run in parallel: less than :attr:`prove_seconds`).
    prove_wall_seconds: float = 0.0

    @property
    def points(self) -> list[list[int]]:
        """The commitment as the contract takes it (``uint256[2][]``)."""
        return [list(p.as_uint256()) for p in self.commitment]

    @property
    def prove_seconds(self) -> float:
        """Proving time summed over the chunk proofs (CPU-side, not wall time in parallel)."""
        return float(sum(p.prove_seconds for p in self.chunk_proofs))


def opens(
    values: tuple[int, ...], commitment: Commitment, basis: KzgBasis, layout: CommitmentLayout | None = None
) -> bool:
    """Whether flat ``values`` open the on-chain ``commitment`` (a point per vector of ``layout``; default: one
    vector of all the values) in ``basis``: one commitment computation per vector."""
    try:
        layout = layout or CommitmentLayout(len(values), len(values), 0)
        points = commit_vectors(values, layout, basis)
    except (KzgError, ZkflError):
        return False
    return tuple(p.as_uint256() for p in points) == tuple(tuple(p) for p in commitment)


def fetch_global_model(
    storage: Storage, spec: ModelSpec, commitment: Commitment, cid: str, *, suite: CircuitSuite
) -> ModelFile:
    """Fetch a global model (an aggregate) by CID and check that it opens its on-chain KZG commitment, and
    the consortium's metadata (``spec``'s kind and feature count, the circuits' scale and pad rows), which
    the commitment does not cover.

    Raises:
        StorageError: the content is unavailable or does not match its CID.
        ModelFileError: malformed, or metadata other than the consortium's.
        CommitmentMismatchError: the values do not open the on-chain commitment.
    """
    model = ModelFile.parse(
        storage.get(cid),
        expected_size=num_params(spec),
        chunk=suite.layout.chunk if suite.chunked else 0,
        pad_rows=suite.pad_rows,
        kind=spec.kind,
        num_features=spec.num_features,
        scale_bits=suite.scale_bits,
    )
    if not opens(model.values, commitment, suite.basis, suite.layout):
        raise CommitmentMismatchError(
            f"global model {cid} does not open its on-chain commitment "
            f"(0x{commitment_bytes(commitment)[:8].hex()}...): "
            "refusing to train on it"
        )
    return model


def fetch_enclave_key(storage: Storage, registry: Any) -> bytes:
    """The enclave's ML-KEM-768 public key, checked against the hash registered on-chain."""
    key_hash, key_cid, _measurement = registry.enclaveKey()
    if not key_cid:
        raise ChainError("no enclave key is registered: the aggregator must publish its key first")
    public_key = storage.get(key_cid)
    if hashlib.sha256(public_key).digest() != bytes(key_hash):
        raise DigestMismatchError(f"enclave key {key_cid} does not match its registered SHA-256")
    return public_key


class UpdateSource(Protocol):
    """Where the parameters a hospital submits come from: honest local training (:class:`LocalTraining`)
    by default; the attack evaluation injects malicious sources (zkfl_dapp.experiments.attacks)."""

    #: Whether the hospital refuses locally (NormBoundError) to prove an update beyond the round's bound.
    #: An honest source does; an attack proves it anyway, so that the chain is seen to refuse it.
    @property
    def refuses_out_of_bound(self) -> bool: ...

    def local_update(self, ctx: TrainingContext) -> NDArray[np.float64]:
        """The local model ``u`` to submit (float64, the model's length)."""
        ...


@dataclass(frozen=True)
class LocalTraining:
    """The honest update source: local training from the global model on the hospital's own shard."""

    refuses_out_of_bound: bool = True

    def local_update(self, ctx: TrainingContext) -> NDArray[np.float64]:
        return ctx.train()


@dataclass(frozen=True)
class HospitalClient:
    """One hospital's side of the protocol."""

    name: str
    account: Any
    shard: Dataset
    spec: ModelSpec
    train_config: TrainConfig
    storage: Storage
    circuits: CircuitSuite
    workdir: Path | None = None
    index: int = 0
    #: Chunked models: parallel prover processes (each holds the chunk circuit's ~1.1 GB proving key).
    prover_workers: int = 2
    #: Where chunk-proof progress lines go ("chunk i of n ... ETA").
    progress: Progress = _quiet
    #: Where the submitted parameters come from (honest local training unless an experiment injects another).
    source: UpdateSource = field(default_factory=LocalTraining)
    #: The training-sample count it trains on when that is not ``shard`` (a Flower app's own loaders,
    #: zkfl_flower); None: ``shard``'s size.
    declared_samples: int | None = None
    #: Fewer records than this: the hospital refuses to train (core.privacy.check_shard_size).
    min_samples: int = 10
    #: The declared sample count is the record count rounded down to a multiple of this (core.privacy).
    count_granularity: int = 10
    #: Distributed DP (core.dp): clip and noise the update before committing (None: off).
    dp: DpConfig | None = None

    def __post_init__(self) -> None:
        check_shard_size(self.record_count, self.min_samples, self.name)

    @property
    def record_count(self) -> int:
        """The records it trains on (``shard``, or ``declared_samples`` for a Flower app's own loaders)."""
        return self.shard.num_samples if self.declared_samples is None else self.declared_samples

    @property
    def sample_count(self) -> int:
        """The sample count this hospital declares on-chain (its FedAvg weight): its record count, coarsened."""
        return declared_sample_count(self.record_count, self.count_granularity)

    @property
    def address(self) -> str:
        return str(self.account.address)

    @property
    def scale_bits(self) -> int:
        return self.circuits.scale_bits

    def with_source(self, source: UpdateSource) -> HospitalClient:
        """The same hospital (account, shard, circuits) submitting what ``source`` produces."""
        return dataclasses.replace(self, source=source)

    def prepare_update(
        self, round_id: int, global_model: ModelFile, enclave_public_key: bytes, *, norm_bound_sq: int = 0
    ) -> PreparedUpdate:
        """Train on local data from the global model; quantize, pad, commit, encrypt and store the update.

        With ``norm_bound_sq`` (the round's on-chain bound), also prove that the update is within it.

        Raises:
            NormBoundError: the update is farther from the global model than the round allows; nothing
                is stored or submitted.
        """
        t0 = time.perf_counter()
        start = dequantize(global_model.training_values(), self.scale_bits)
        bound = bound_from_quantized(norm_bound_sq, self.scale_bits) if norm_bound_sq else None
        ctx = TrainingContext(self.spec, start, self.shard, self.train_config, round_id, self.index, bound)
        local = self.source.local_update(ctx)
        if self.dp is not None and self.source.refuses_out_of_bound:  # an honest source privatizes its update
            if bound is None:
                raise ConfigError("differential privacy needs a norm-bounded round: the bound is the clip's budget")
            local = self.dp.privatize(start, local, bound, np.random.default_rng())  # the OS's entropy
        t1 = time.perf_counter()
        layout = self.circuits.layout
        rng = secrets.SystemRandom()
        pads = [hiding_pad((), layout.pad_rows, rng, entry_bits=PAD_ENTRY_BITS) for _ in range(layout.chunks)]
        padded = layout.assemble(quantize(local, self.scale_bits), pads)
        payload = UpdatePayload(
            round_id=round_id,
            hospital=self.address,
            sample_count=self.sample_count,
            scale_bits=self.scale_bits,
            values=padded,
        )
        commitment = commit_vectors(padded, layout, self.circuits.basis)
        t2 = time.perf_counter()
        chunk_proofs: tuple[KzgChunkProof, ...] = ()
        if norm_bound_sq:
            chunk_proofs = self.prove_within_bound(round_id, padded, global_model.values, norm_bound_sq)
        t3 = time.perf_counter()  # the norm proofs' own time is prove_seconds
        ad = associated_data(
            round_id,
            self.address,
            b"".join(p.to_bytes() for p in commitment),
            enclave_key_hash=hashlib.sha256(enclave_public_key).digest(),
        )
        envelope = seal(enclave_public_key, payload.to_bytes(), ad)
        cid = self.storage.put(envelope)
        t4 = time.perf_counter()
        return PreparedUpdate(
            round_id=round_id,
            commitment=commitment,
            cid=str(cid),
            sample_count=payload.sample_count,
            local_params=local,
            train_seconds=t1 - t0,
            commit_seconds=t2 - t1,
            encrypt_seconds=t4 - t3,
            chunk_proofs=chunk_proofs,
            prove_wall_seconds=t3 - t2,
        )

    def _check_provable(self, padded: tuple[int, ...], aggregate: tuple[int, ...], norm_bound_sq: int) -> None:
        s, layout = self.scale_bits, self.circuits.layout
        dist2 = squared_distance(padded, aggregate, s, layout)
        beyond = dist2 > norm_bound_sq and self.source.refuses_out_of_bound
        if not provable_distance(padded, aggregate, s, layout) or beyond:
            # the message names the public bound only: the update's own distance is this hospital's figure, and
            # it travels to logs, journals and round reports (docs/privacy.md)
            raise NormBoundError(
                f"{self.name}: update is farther from the global model than the round's bound is "
                f"({bound_from_quantized(norm_bound_sq, s):.4g}), or not provable: not submitting"
            )

    def prove_within_bound(
        self, round_id: int, padded: tuple[int, ...], aggregate: tuple[int, ...], norm_bound_sq: int
    ) -> tuple[KzgChunkProof, ...]:
        """The norm proofs (one per chunk, :attr:`prover_workers` in parallel for several chunks, progress to
        :attr:`progress`), each bound to its chunk of the update, the previous aggregate's chunk, its budget,
        the chunk index and count, and this hospital's address.

        An honest hospital refuses (NormBoundError) to prove an update beyond the bound. A hospital whose
        source is an attack proves it anyway, with budgets that are its chunks' exact sums: they add up to
        more than the bound, and the contract reverts.
        """
        self._check_provable(padded, aggregate, norm_bound_sq)
        layout = self.circuits.layout
        sums = chunk_distances(padded, aggregate, self.scale_bits, layout)
        budgets = chunk_budgets(sums, norm_bound_sq) if sum(sums) <= norm_bound_sq else sums
        workdir = (self.workdir or Path("build")) / "norm-proofs" / f"{self.name}-round-{round_id}"

        def report(line: str) -> None:
            self.progress(f"{self.name}: {line}")

        try:
            proofs = prove_chunks(
                self.circuits.norm,
                layout.vectors(padded),
                layout.vectors(aggregate),
                budgets,
                self.address,
                workdir,
                workers=self.prover_workers,
                progress=report,
            )
        except CircuitError as exc:
            raise NormBoundError(f"{self.name}: the norm proofs cannot be made: {exc}") from exc
        return tuple(proofs)

    def report_unavailable_model(self, round_manager: Any, round_id: int) -> Any:
        """Report on-chain that round ``round_id``'s new model file cannot be fetched or does not open its
        commitment; a quorum of such reports rolls the round back. Returns the receipt."""
        return round_manager.reportModelUnavailable(round_id, sender=self.account)

    def submit(self, round_manager: Any, update: PreparedUpdate) -> Any:
        """Submit (round, commitment, CID, sample count) on-chain, with the norm claim where the round has a
        bound: the chunk proofs themselves, or, where the deployment has a challenge window, their hashes and
        the CID of the proof bundle (stored here first). One transaction; returns its receipt."""
        claim: tuple[Any, ...] = NO_CLAIM
        if update.chunk_proofs:
            window = int(round_manager.challengeWindow())
            bundle_cid = str(self.storage.put(proof_bundle(update.chunk_proofs))) if window else ""
            claim = norm_claim(update.chunk_proofs, window, bundle_cid)
        return round_manager.submitUpdate(
            update.round_id, update.points, update.cid, update.sample_count, claim, sender=self.account
        )

    def submit_all(self, round_manager: Any, update: PreparedUpdate) -> list[Any]:
        """:meth:`submit`, as a list of receipts (one: every norm proof travels in the submission)."""
        return [self.submit(round_manager, update)]
