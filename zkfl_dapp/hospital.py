"""A hospital: fetch and check the global model, train locally, commit, encrypt, submit.

Only ciphertext, the Poseidon commitment and the sample count leave the hospital; the patient data and
the plaintext update never do.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from zkfl_dapp.crypto import associated_data, seal
from zkfl_dapp.data import Dataset
from zkfl_dapp.exceptions import ChainError, CommitmentMismatchError
from zkfl_dapp.formats import ModelFile, UpdatePayload
from zkfl_dapp.model import ModelSpec, num_params
from zkfl_dapp.quantization import dequantize, quantize
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

    @property
    def address(self) -> str:
        return str(self.account.address)

    def prepare_update(self, round_id: int, global_model: ModelFile, enclave_public_key: bytes) -> PreparedUpdate:
        """Train on local data from the global model; quantize, commit, encrypt and store the update."""
        t0 = time.perf_counter()
        start = dequantize(global_model.values, global_model.scale_bits)
        local = train_local(self.spec, start, self.shard, self.train_config, round_id=round_id)
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
        envelope = seal(enclave_public_key, payload.to_bytes(), associated_data(round_id, self.address, commitment))
        cid = self.storage.put(envelope)
        t3 = time.perf_counter()
        return PreparedUpdate(
            round_id=round_id,
            commitment=commitment,
            cid=str(cid),
            sample_count=payload.sample_count,
            local_params=local,
            train_seconds=t1 - t0,
            commit_seconds=t2 - t1,
            encrypt_seconds=t3 - t2,
        )

    def submit(self, round_manager: Any, update: PreparedUpdate) -> Any:
        """Submit (round, commitment, CID, sample count) on-chain; returns the receipt."""
        return round_manager.submitUpdate(
            update.round_id, update.commitment, update.cid, update.sample_count, sender=self.account
        )
