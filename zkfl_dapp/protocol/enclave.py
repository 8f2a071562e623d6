"""The aggregator enclave: decrypt, check against commitments, average, prove, finalize.

The enclave is the only party that sees individual updates in the clear. It never trusts a
submission: each ciphertext must authenticate under (round, hospital, commitment), its payload must
name the same round, hospital and sample count as the chain, and its Poseidon hash must equal the
on-chain commitment. A submission that fails any check is excluded from the aggregate (zero weight,
an ``UpdateExcluded`` event on-chain) and the reason is reported; it is never silently dropped.

Attestation is not wired in yet: the measurement registered on-chain is zero, and this process is a
stand-in for the TEE, not a TEE (see README, "Trust model").
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfl_dapp.chain.enums import Rule
from zkfl_dapp.chain.views import SubmissionView, read_round, read_submissions
from zkfl_dapp.circuits.aggregation import AggregationArtifacts, prove_aggregation
from zkfl_dapp.circuits.artifacts import CircuitProof, verify_offchain
from zkfl_dapp.circuits.median import MedianArtifacts, prove_median
from zkfl_dapp.core.aggregation import fedavg_quantized, normalized_weights
from zkfl_dapp.core.fixedpoint import from_field
from zkfl_dapp.core.formats import ModelFile, UpdatePayload
from zkfl_dapp.core.median import fill_slots, median_quantized
from zkfl_dapp.core.norms import update_norm
from zkfl_dapp.crypto.envelope import EnclaveKeyPair, associated_data, open_sealed
from zkfl_dapp.exceptions import CircuitError, CryptoError, ModelFileError, RoundError, StorageError
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.protocol.hospital import fetch_global_model
from zkfl_dapp.storage.base import Storage

NO_MEASUREMENT = b"\x00" * 32


@dataclass(frozen=True)
class SlotOutcome:
    """What the enclave made of one submission."""

    slot: int
    hospital: str
    commitment: int
    sample_count: int
    cid: str
    values: tuple[int, ...] | None  # None when excluded
    reason: str | None = None  # why it was excluded

    @property
    def included(self) -> bool:
        return self.values is not None


@dataclass(frozen=True)
class Finalization:
    """A finalized round, as the enclave saw it."""

    round_id: int
    outcomes: tuple[SlotOutcome, ...]
    model: ModelFile
    model_cid: str
    proof: CircuitProof
    proof_cid: str
    excluded_mask: int
    tx_hash: str
    gas_used: int
    verify_seconds: float
    #: "fedavg" or "median": the rule the proof covers.
    rule: str = "fedavg"
    #: L2 distance of each included update to the previous global model (for the next round's norm bound).
    update_norms: tuple[float, ...] = ()


def _require_quorum(round_id: int, outcomes: list[SlotOutcome], quorum: int) -> None:
    included = sum(1 for o in outcomes if o.included)
    if included < quorum:
        raise RoundError(f"round {round_id}: only {included} valid updates, quorum is {quorum}")


def _excluded_mask(outcomes: list[SlotOutcome]) -> int:
    """Bit i set: slot i's submission is left out (what finalizeRound's ``excludedMask`` takes)."""
    return sum(1 << o.slot for o in outcomes if not o.included)


class AggregatorEnclave:
    """The aggregator's protocol logic; holds the ML-KEM-768 secret key."""

    def __init__(
        self,
        account: Any,
        key_pair: EnclaveKeyPair,
        storage: Storage,
        artifacts: AggregationArtifacts,
        spec: ModelSpec,
        workdir: Path,
        median_artifacts: MedianArtifacts | None = None,
    ) -> None:
        self.account = account
        self.median_artifacts = median_artifacts
        self._key_pair = key_pair
        self.storage = storage
        self.artifacts = artifacts
        self.spec = spec
        self.workdir = workdir

    @property
    def scale_bits(self) -> int:
        return self.artifacts.spec.scale_bits

    def publish_key(self, registry: Any) -> str:
        """Put the public key on IPFS and register its hash and CID on-chain; returns the CID."""
        cid = str(self.storage.put(self._key_pair.public_key))
        digest = hashlib.sha256(self._key_pair.public_key).digest()
        registry.registerEnclaveKey(digest, cid, NO_MEASUREMENT, sender=self.account)
        return cid

    def open_submissions(self, round_manager: Any, round_id: int) -> list[SlotOutcome]:
        """Fetch, decrypt and check every submission of the round."""
        return [self._open_one(round_id, sub) for sub in read_submissions(round_manager, round_id)]

    def _open_one(self, round_id: int, sub: SubmissionView) -> SlotOutcome:
        slot, hospital, commitment, count, cid = sub.slot, sub.hospital, sub.commitment, sub.sample_count, sub.cid

        def excluded(reason: str) -> SlotOutcome:
            return SlotOutcome(slot, hospital, commitment, count, cid, None, reason)

        try:
            envelope = self.storage.get(cid)
        except StorageError as exc:
            return excluded(f"ciphertext unavailable: {exc}")
        try:
            plaintext = open_sealed(self._key_pair, envelope, associated_data(round_id, hospital, commitment))
        except CryptoError as exc:
            return excluded(f"ciphertext rejected: {exc}")
        try:
            payload = UpdatePayload.parse(plaintext, expected_size=self.artifacts.spec.model_size)
        except ModelFileError as exc:
            return excluded(f"malformed update: {exc}")
        if payload.round_id != round_id or payload.hospital.lower() != hospital.lower():
            return excluded(f"update names round {payload.round_id} / {payload.hospital}, not this submission")
        if payload.sample_count != count:
            return excluded(f"update declares {payload.sample_count} samples, the chain says {count}")
        if payload.scale_bits != self.scale_bits:
            return excluded(f"update quantized at 2^{payload.scale_bits}, the circuit uses 2^{self.scale_bits}")
        if payload.poseidon_commitment() != commitment:
            return excluded("update content does not match its on-chain commitment")
        return SlotOutcome(slot, hospital, commitment, count, cid, payload.values)

    def aggregate(self, round_id: int, outcomes: list[SlotOutcome], quorum: int) -> tuple[CircuitProof, int]:
        """Prove the weighted average of the included updates; returns the proof and the exclusion mask."""
        circuit = self.artifacts.spec
        _require_quorum(round_id, outcomes, quorum)
        zero = (0,) * circuit.model_size
        rows = [o.values if o.values is not None else zero for o in outcomes]
        rows += [zero] * (circuit.slots - len(rows))
        counts = [o.sample_count if o.included else 0 for o in outcomes]
        counts += [0] * (circuit.slots - len(counts))
        weights = normalized_weights(counts, circuit.scale_bits)
        proof = prove_aggregation(self.artifacts, rows, weights, self.workdir / f"round-{round_id}")
        expected = fedavg_quantized(rows, weights, circuit.scale_bits)
        if tuple(from_field(v) for v in proof.model_values(circuit)) != expected:
            raise CircuitError("the proven aggregate differs from the reference average: refusing to publish it")
        return proof, _excluded_mask(outcomes)

    def aggregate_median(
        self, round_id: int, outcomes: list[SlotOutcome], quorum: int, prev: tuple[int, ...]
    ) -> tuple[CircuitProof, int]:
        """Prove the coordinate-wise median of the included updates (other slots carry the previous model)."""
        if self.median_artifacts is None:
            raise CircuitError(f"round {round_id} uses the median rule but this enclave has no median circuit")
        circuit = self.median_artifacts.spec
        _require_quorum(round_id, outcomes, quorum)
        slots = fill_slots([o.values for o in outcomes] + [None] * (circuit.slots - len(outcomes)), prev)
        proof = prove_median(self.median_artifacts, slots, prev, self.workdir / f"round-{round_id}")
        if tuple(from_field(v) for v in proof.model_values(circuit)) != median_quantized(slots):
            raise CircuitError("the proven median differs from the reference median: refusing to publish it")
        return proof, _excluded_mask(outcomes)

    def finalize(self, round_manager: Any, round_id: int) -> Finalization:
        """Run the enclave's whole part of a round and finalize it on-chain."""
        outcomes = self.open_submissions(round_manager, round_id)
        info = read_round(round_manager, round_id)
        prev = fetch_global_model(
            self.storage, self.spec, info.prev_model_commitment, info.prev_model_cid, scale_bits=self.scale_bits
        ).values
        median = info.rule == Rule.MEDIAN
        if median:
            proof, mask = self.aggregate_median(round_id, outcomes, info.quorum, prev)
        else:
            proof, mask = self.aggregate(round_id, outcomes, info.quorum)
        norms = tuple(update_norm(o.values, prev, self.scale_bits) for o in outcomes if o.values is not None)
        art = self.median_artifacts if median and self.median_artifacts is not None else self.artifacts
        proof_file = self.workdir / f"round-{round_id}" / "proof.json"
        t0 = time.perf_counter()
        if not verify_offchain(art, proof_file):
            raise CircuitError(f"round {round_id}: the proof does not verify off-chain")
        verify_seconds = time.perf_counter() - t0
        proof_cid = str(self.storage.put(proof_file.read_bytes()))
        model = ModelFile(
            model_kind=self.spec.kind,
            num_features=self.spec.num_features,
            scale_bits=self.scale_bits,
            values=tuple(from_field(v) for v in proof.model_values(self.artifacts.spec)),  # same offset, both rules
        )
        model_cid = str(self.storage.put(model.to_bytes()))
        receipt = round_manager.finalizeRound(
            round_id, proof.proof, list(proof.instances), model_cid, proof_cid, mask, sender=self.account
        )
        return Finalization(
            round_id=round_id,
            outcomes=tuple(outcomes),
            model=model,
            model_cid=model_cid,
            proof=proof,
            proof_cid=proof_cid,
            excluded_mask=mask,
            tx_hash=str(receipt.txn_hash),
            gas_used=int(receipt.gas_used),
            verify_seconds=verify_seconds,
            rule="median" if median else "fedavg",
            update_norms=norms,
        )
