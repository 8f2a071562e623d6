"""A hospital: fetch and check the global model, train locally, commit, encrypt, submit.

Only ciphertext, the Poseidon commitment and the sample count leave the hospital; the patient data and
the plaintext update never do.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zkfl_dapp.attacks import Attack, AttackContext
from zkfl_dapp.circuits import AggregationProof
from zkfl_dapp.crypto import associated_data, seal
from zkfl_dapp.data import Dataset
from zkfl_dapp.exceptions import ChainError, CommitmentMismatchError, NormBoundError
from zkfl_dapp.formats import ModelFile, UpdatePayload
from zkfl_dapp.model import ModelSpec, num_params
from zkfl_dapp.quantization import dequantize, quantize
from zkfl_dapp.robust import bound_from_quantized, provable_distance, squared_distance_quantized
from zkfl_dapp.robust_circuits import NormArtifacts, prove_norm
from zkfl_dapp.storage import Storage
from zkfl_dapp.training import TrainConfig, train_local


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
    norm_proof: AggregationProof | None = None


def fetch_global_model(storage: Storage, spec: ModelSpec, commitment: int, cid: str) -> ModelFile:
    """Fetch a global model by CID and check it against its on-chain commitment."""
    model = ModelFile.parse(storage.get(cid), expected_size=num_params(spec))
    if model.commitment() != commitment:
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
        raise CommitmentMismatchError(f"enclave key {key_cid} does not match its registered SHA-256")
    return public_key


@dataclass
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
    #: A poisoning behaviour (zkfl_dapp.attacks) for attack evaluations: the hospital then submits the
    #: attack's vector instead of its trained model, and tries to submit it even against the norm bound.
    attack: Attack | None = None
    index: int = 0

    @property
    def address(self) -> str:
        return str(self.account.address)

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
        if self.attack is None:
            local = train_local(self.spec, start, self.shard, self.train_config, round_id=round_id)
        else:
            bound = bound_from_quantized(norm_bound_sq, self.scale_bits) if norm_bound_sq else None
            ctx = AttackContext(self.spec, start, self.shard, self.train_config, round_id, self.index, bound)
            local = self.attack.craft(ctx)
        t1 = time.perf_counter()
        payload = UpdatePayload(
            round_id=round_id,
            hospital=self.address,
            sample_count=self.shard.num_samples,
            scale_bits=self.scale_bits,
            values=quantize(local, self.scale_bits),
        )
        commitment = payload.commitment()
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
    ) -> AggregationProof:
        """The norm proof of ``values`` against the previous global model ``prev`` and the round's bound.

        An honest hospital refuses (NormBoundError) to prove an update beyond the bound. A hospital playing
        an attack proves it anyway: its proof then shows the violation and the contract reverts.
        """
        if self.norm_artifacts is None:
            raise NormBoundError("this round has a norm bound but the hospital has no norm circuit")
        dist2 = squared_distance_quantized(values, prev, self.scale_bits)
        if not provable_distance(values, prev, self.scale_bits) or (dist2 > norm_bound_sq and self.attack is None):
            raise NormBoundError(
                f"{self.name}: update is {bound_from_quantized(dist2, self.scale_bits):.4g} from the global model, "
                f"the round's bound is {bound_from_quantized(norm_bound_sq, self.scale_bits):.4g}: not submitting"
            )
        workdir = (self.workdir or Path("build")) / "norm-proofs" / f"{self.name}-round-{round_id}"
        return prove_norm(self.norm_artifacts, values, prev, norm_bound_sq, workdir)

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
