"""A hospital: fetch and check the global model, train locally, commit, encrypt, submit.

Only ciphertext, the Poseidon commitment and the sample count leave the hospital; the patient data and
the plaintext update never do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.circuits.artifacts import CircuitProof
from zkfl_dapp.circuits.norm import NormArtifacts, prove_norm
from zkfl_dapp.core.fixedpoint import dequantize, quantize
from zkfl_dapp.core.formats import ModelFile, UpdatePayload
from zkfl_dapp.core.norms import bound_from_quantized, provable_distance, squared_distance_quantized
from zkfl_dapp.crypto.envelope import associated_data, seal
from zkfl_dapp.exceptions import ChainError, CommitmentMismatchError, DigestMismatchError, NormBoundError
from zkfl_dapp.ml.data import Dataset
from zkfl_dapp.ml.model import ModelSpec, num_params
from zkfl_dapp.ml.training import TrainConfig, TrainingContext
from zkfl_dapp.storage.base import Storage


@dataclass(frozen=True)
class PreparedUpdate:
    """What a hospital submits for one round, plus how long each step took."""

    round_id: int
    commitment: int
    cid: str
    sample_count: int
    local_params: np.ndarray
    train_seconds: float
    commit_seconds: float
    encrypt_seconds: float
    #: The norm proof for a round with a norm bound (None for an unbounded round).
    norm_proof: CircuitProof | None = None


def fetch_global_model(storage: Storage, spec: ModelSpec, commitment: int, cid: str, *, scale_bits: int) -> ModelFile:
    """Fetch a global model by CID and check it against its on-chain commitment and the consortium's
    metadata (``spec``'s kind and feature count, the circuits' ``scale_bits``), which the commitment does
    not cover.

    Raises:
        StorageError: the content is unavailable or does not match its CID.
        ModelFileError: malformed, or metadata other than the consortium's.
        CommitmentMismatchError: the values do not match the on-chain commitment.
    """
    model = ModelFile.parse(
        storage.get(cid),
        expected_size=num_params(spec),
        kind=spec.kind,
        num_features=spec.num_features,
        scale_bits=scale_bits,
    )
    if model.keccak_commitment() != commitment:
        raise CommitmentMismatchError(
            f"global model {cid} does not match its on-chain commitment {commitment:#x}: refusing to train on it"
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
    scale_bits: int
    norm_artifacts: NormArtifacts | None = None
    workdir: Path | None = None
    index: int = 0
    #: Where the submitted parameters come from (honest local training unless an experiment injects another).
    source: UpdateSource = field(default_factory=LocalTraining)

    @property
    def address(self) -> str:
        return str(self.account.address)

    def with_source(self, source: UpdateSource) -> HospitalClient:
        """The same hospital (account, shard, circuits) submitting what ``source`` produces."""
        return dataclasses.replace(self, source=source)

    def prepare_update(
        self, round_id: int, global_model: ModelFile, enclave_public_key: bytes, *, norm_bound_sq: int = 0
    ) -> PreparedUpdate:
        """Train on local data from the global model; quantize, commit, encrypt and store the update.

        With ``norm_bound_sq`` (the round's on-chain bound), also prove that the update is within it.

        Raises:
            NormBoundError: the update is farther from the global model than the round allows; nothing
                is stored or submitted.
        """
        t0 = time.perf_counter()
        start = dequantize(global_model.values, global_model.scale_bits)
        bound = bound_from_quantized(norm_bound_sq, self.scale_bits) if norm_bound_sq else None
        ctx = TrainingContext(self.spec, start, self.shard, self.train_config, round_id, self.index, bound)
        local = self.source.local_update(ctx)
        t1 = time.perf_counter()
        payload = UpdatePayload(
            round_id=round_id,
            hospital=self.address,
            sample_count=self.shard.num_samples,
            scale_bits=self.scale_bits,
            values=quantize(local, self.scale_bits),
        )
        commitment = payload.poseidon_commitment()
        t2 = time.perf_counter()
        norm_proof = None
        if norm_bound_sq:
            norm_proof = self.prove_within_bound(round_id, payload.values, global_model.values, norm_bound_sq)
        t3 = time.perf_counter()  # the norm proof's own time is norm_proof.prove_seconds
        envelope = seal(enclave_public_key, payload.to_bytes(), associated_data(round_id, self.address, commitment))
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
            norm_proof=norm_proof,
        )

    def prove_within_bound(
        self, round_id: int, values: tuple[int, ...], prev: tuple[int, ...], norm_bound_sq: int
    ) -> CircuitProof:
        """The norm proof of ``values`` against the previous global model ``prev`` and the round's bound.

        An honest hospital refuses (NormBoundError) to prove an update beyond the bound. A hospital whose
        source is an attack proves it anyway: its proof then shows the violation and the contract reverts.
        """
        if self.norm_artifacts is None:
            raise NormBoundError("this round has a norm bound but the hospital has no norm circuit")
        dist2 = squared_distance_quantized(values, prev, self.scale_bits)
        beyond = dist2 > norm_bound_sq and self.source.refuses_out_of_bound
        if not provable_distance(values, prev, self.scale_bits) or beyond:
            raise NormBoundError(
                f"{self.name}: update is {bound_from_quantized(dist2, self.scale_bits):.4g} from the global model, "
                f"the round's bound is {bound_from_quantized(norm_bound_sq, self.scale_bits):.4g}: not submitting"
            )
        workdir = (self.workdir or Path("build")) / "norm-proofs" / f"{self.name}-round-{round_id}"
        return prove_norm(self.norm_artifacts, values, prev, norm_bound_sq, workdir)

    def report_unavailable_model(self, round_manager: Any, round_id: int) -> Any:
        """Report on-chain that round ``round_id``'s new model file cannot be fetched or does not match its
        commitment; a quorum of such reports rolls the round back. Returns the receipt."""
        return round_manager.reportModelUnavailable(round_id, sender=self.account)

    def submit(self, round_manager: Any, update: PreparedUpdate) -> Any:
        """Submit (round, commitment, CID, sample count) on-chain, with the norm proof where the round has a
        bound; returns the receipt."""
        if update.norm_proof is not None:
            p = update.norm_proof
            return round_manager.submitBoundedUpdate(
                update.round_id,
                update.commitment,
                update.cid,
                update.sample_count,
                p.proof,
                list(p.instances),
                sender=self.account,
            )
        return round_manager.submitUpdate(
            update.round_id, update.commitment, update.cid, update.sample_count, sender=self.account
        )
