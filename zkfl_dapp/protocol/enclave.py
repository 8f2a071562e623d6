"""The aggregator enclave: decrypt, check each update opens its commitment, aggregate, finalize.

The enclave is the only party that sees individual updates in the clear. It never trusts a
submission: each ciphertext must authenticate under (round, hospital, commitment), its payload must
name the same round, hospital and sample count as the chain, and its values (model and pad rows) must
open the on-chain KZG commitment (every chunk's point, for a chunked model). A submission that fails any
check is excluded from the aggregate (zero weight, an ``UpdateExcluded`` event on-chain) and the reason is
reported; it is never silently dropped.

FedAvg needs no proof: the enclave computes the exact aggregate ``S = sum_i w_i u_i`` (the on-chain
weights), checks that it opens the commitment RoundManager will derive (``aggregateCommitment``),
publishes the model file and finalizes; the contract derives ``C(S)`` itself. The median rule is proven
with the median circuit over the same commitments.

Attestation is not wired in yet: the measurement registered on-chain is zero, and this process is a
stand-in for the TEE, not a TEE (see docs/auditors.md, "Trust model").
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from zkfl_dapp.attestation.evidence import EvidenceFile, EvidenceKind, measurement_id
from zkfl_dapp.attestation.verify import verify_evidence_file
from zkfl_dapp.chain.enums import ExclusionReason, Rule
from zkfl_dapp.chain.views import (
    Commitment,
    SubmissionView,
    as_commitment,
    read_round,
    read_submissions,
)
from zkfl_dapp.circuits.kzg_median import KzgMedianProof, prove_kzg_median
from zkfl_dapp.circuits.proving import verify_offchain
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.core.aggregation import aggregate, normalized_weights
from zkfl_dapp.core.exclusions import EvidenceReason, ExclusionEvidence
from zkfl_dapp.core.formats import ModelFile, UpdatePayload
from zkfl_dapp.core.median import fill_slots, median_quantized
from zkfl_dapp.core.norms import bound_from_quantized, update_norm
from zkfl_dapp.core.policy import NormBoundPolicy, NormStatistic, enclave_rng
from zkfl_dapp.crypto.envelope import EnclaveKeyPair, open_sealed
from zkfl_dapp.exceptions import (
    AttestationError,
    CircuitError,
    CryptoError,
    ExclusionWindowOpen,
    RoundError,
    StorageError,
)
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.protocol.challenges import challenge_false_claims
from zkfl_dapp.protocol.exclusions import build_evidence, content_fault, declare_exclusions, submission_ad
from zkfl_dapp.protocol.hospital import fetch_global_model, opens
from zkfl_dapp.storage.base import Storage


@dataclass(frozen=True)
class SlotOutcome:
    """What the enclave made of one submission."""

    slot: int
    hospital: str
    commitment: Commitment
    sample_count: int
    cid: str
    values: tuple[int, ...] | None  # None when excluded
    reason: str | None = None  # why it was excluded
    #: IRoundManager.ExclusionReason of an exclusion (0 when included)
    code: int = 0
    #: the public evidence of an Undecryptable / InvalidContent exclusion (docs/exclusions.md)
    evidence: ExclusionEvidence | None = None

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
    excluded_mask: int
    tx_hash: str
    gas_used: int
    #: seconds to compute the aggregate and check that it opens the chain's commitment (no prover)
    aggregate_seconds: float
    #: of which the check that the aggregate opens the chain's commitment (one ezkl commitment per chunk)
    check_seconds: float = 0.0
    #: FedAvg: wall time of the finalizeRound transaction, in which the chain derives C(S) (send to receipt)
    finalize_seconds: float = 0.0
    #: the new model's commitment (a point per chunk), which the model file opens and the chain stored
    commitment: Commitment = ()
    #: "fedavg" or "median"
    rule: str = "fedavg"
    #: a bounded round's published bound-policy input (core.policy): a noised count, never an exact norm
    norm_statistic: NormStatistic | None = None
    #: median rounds: the proof, its file's CID, and how long verifying it off-chain took
    proof: KzgMedianProof | None = None
    proof_cid: str = ""
    verify_seconds: float = 0.0

    @property
    def prove_seconds(self) -> float:
        return float(self.proof.prove_seconds) if self.proof is not None else 0.0

    @property
    def proof_bytes(self) -> int:
        return len(self.proof.proof) if self.proof is not None else 0


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
        circuits: CircuitSuite,
        spec: ModelSpec,
        workdir: Path,
        policy: NormBoundPolicy | None = None,
    ) -> None:
        #: the bound policy whose statistic the enclave publishes (its threshold and count noise)
        self.policy = policy or NormBoundPolicy()
        #: the count noise's generator per round: the system's entropy (an experiment that must replay a
        #: simulation seeds it: zkfl_dapp.experiments.attack_proven)
        self.noise: Callable[[int], np.random.Generator] = lambda _round_id: enclave_rng()
        self.account = account
        self._key_pair = key_pair
        self.storage = storage
        self.circuits = circuits
        self.spec = spec
        self.workdir = workdir

    @property
    def scale_bits(self) -> int:
        return self.circuits.scale_bits

    def publish_key(self, registry: Any, evidence: EvidenceFile | None = None) -> str:
        """Put the public key and its evidence file on IPFS and register the key's hash and CID, the evidence
        kind, measurement and CID on-chain; returns the key's CID.

        ``evidence``: the TEE's evidence binding this key (REPORTDATA/user_data from
        :func:`zkfl_dapp.attestation.policy.report_data_for`, see :mod:`zkfl_dapp.attestation.sources`); None
        registers a development enclave (no TEE: measurement zero, shown red everywhere).
        """
        evidence = evidence or EvidenceFile(EvidenceKind.DEVELOPMENT, {})
        if evidence.kind is EvidenceKind.DEVELOPMENT:
            measurement = measurement_id(EvidenceKind.DEVELOPMENT, b"")
        else:
            measurement = verify_evidence_file(evidence, at=int(time.time())).measurement
        cid = str(self.storage.put(self._key_pair.public_key))
        evidence_cid = str(self.storage.put(evidence.to_bytes()))
        if evidence.kind is not EvidenceKind.DEVELOPMENT and not registry.isMeasurementAllowed(measurement):
            raise AttestationError(
                f"the enclave's {evidence.kind.label} evidence is published ({evidence_cid}, measurement "
                f"0x{measurement.hex()}) but the registry does not allow that measurement yet: each hospital checks "
                "it (`zkfl attestation verify`) and approves it (`zkfl attestation approve`); then start the "
                "aggregator again"
            )
        digest = hashlib.sha256(self._key_pair.public_key).digest()
        registry.registerEnclaveKey(digest, cid, int(evidence.kind), measurement, evidence_cid, sender=self.account)
        return cid

    def open_submissions(self, round_manager: Any, round_id: int) -> list[SlotOutcome]:
        """Fetch, decrypt and check every submission of the round (and, with a challenge window, its norm proofs:
        :meth:`challenge_false_proofs`)."""
        outcomes = [self._open_one(round_id, sub) for sub in read_submissions(round_manager, round_id)]
        if int(round_manager.challengeWindow()):
            outcomes = self.challenge_false_proofs(round_manager, round_id, outcomes)
        return outcomes

    def challenge_false_proofs(
        self, round_manager: Any, round_id: int, outcomes: list[SlotOutcome]
    ) -> list[SlotOutcome]:
        """Optimistic deployments: check every submission's chunk proofs off-chain (protocol.challenges), challenge
        the first false proof of each on-chain (the contract excludes the submission), and leave every faulted
        slot out (a finalization that includes one reverts)."""
        challenge_false_claims(
            round_manager, self.account, round_id, self.storage, self.circuits, self.workdir / "claims"
        )
        faulted = int(round_manager.faultedSlots(round_id))
        reason = "a chunk norm proof failed its on-chain challenge (ChunkProofFaulted)"
        return [
            replace(o, values=None, reason=reason, code=int(ExclusionReason.INVALID_PROOF), evidence=None)
            if (faulted >> o.slot) & 1
            else o
            for o in outcomes
        ]

    def _open_one(self, round_id: int, sub: SubmissionView) -> SlotOutcome:
        slot, hospital, commitment, count, cid = sub.slot, sub.hospital, sub.commitment, sub.sample_count, sub.cid

        def excluded(reason: str, code: ExclusionReason, envelope: bytes = b"") -> SlotOutcome:
            evidence = None
            if code != ExclusionReason.UNAVAILABLE:
                kind: EvidenceReason = "undecryptable" if code == ExclusionReason.UNDECRYPTABLE else "invalid_content"
                key = self._key_pair
                evidence = build_evidence(key.private_key, key.public_key, round_id, sub, envelope, kind, reason)
            return SlotOutcome(slot, hospital, commitment, count, cid, None, reason, int(code), evidence)

        try:
            envelope = self.storage.get(cid)
        except StorageError as exc:
            return excluded(f"ciphertext unavailable: {exc}", ExclusionReason.UNAVAILABLE)
        try:
            plaintext = open_sealed(self._key_pair, envelope, submission_ad(round_id, sub, self._key_pair.public_key))
        except CryptoError as exc:
            return excluded(f"ciphertext rejected: {exc}", ExclusionReason.UNDECRYPTABLE, envelope)
        fault = content_fault(plaintext, round_id, sub, self.circuits)
        if fault is not None:
            return excluded(fault, ExclusionReason.INVALID_CONTENT, envelope)
        payload = UpdatePayload.parse(plaintext, expected_size=self.circuits.rows)  # content_fault parsed it
        return SlotOutcome(slot, hospital, commitment, count, cid, payload.values)

    def aggregate(self, round_id: int, outcomes: list[SlotOutcome], quorum: int) -> tuple[tuple[int, ...], int]:
        """The exact FedAvg aggregate of the included updates (the chain's weights); returns it and the
        exclusion mask."""
        _require_quorum(round_id, outcomes, quorum)
        counts = [o.sample_count if o.included else 0 for o in outcomes]
        weights = normalized_weights(counts, self.scale_bits)
        zero = (0,) * self.circuits.rows
        rows = [o.values if o.values is not None else zero for o in outcomes]
        return aggregate(rows, weights), _excluded_mask(outcomes)

    def aggregate_median(
        self, round_id: int, outcomes: list[SlotOutcome], quorum: int, prev: tuple[int, ...]
    ) -> tuple[tuple[int, ...], int, KzgMedianProof]:
        """Prove the coordinate-wise median of the included updates (other slots carry the previous aggregate);
        returns the median, the exclusion mask and the proof."""
        median_art = self.circuits.median
        if median_art is None:
            raise CircuitError(f"round {round_id} uses the median rule but this consortium has no median circuit")
        _require_quorum(round_id, outcomes, quorum)
        padded = [o.values for o in outcomes] + [None] * (self.circuits.slots - len(outcomes))
        slots = fill_slots(padded, prev, self.scale_bits)
        proof = prove_kzg_median(median_art, slots, self.workdir / f"round-{round_id}")
        result = median_quantized(slots)
        return result, _excluded_mask(outcomes), proof

    def finalize(self, round_manager: Any, round_id: int) -> Finalization:
        """Run the enclave's whole part of a round and finalize it on-chain.

        Raises:
            RoundError: the aggregator's deadline to finalize (``RoundManager.finalizeDeadline``) has passed.
        """
        last_call = int(round_manager.finalizeDeadline(round_id))
        now = int(round_manager.chain_manager.pending_timestamp)
        if last_call and now > last_call:
            raise RoundError(
                f"round {round_id}: the aggregator's deadline to finalize ({last_call}) passed {now - last_call} s ago;"
                " the round can only be aborted now (abortRound)"
            )
        outcomes = self.open_submissions(round_manager, round_id)
        challenge_end = int(round_manager.challengeEnd(round_id))
        if now <= challenge_end:  # proofs checked (and false ones challenged): the window must pass first
            raise ExclusionWindowOpen(
                f"round {round_id}: the challenge window is open until {challenge_end}", window_end=challenge_end
            )
        info = read_round(round_manager, round_id)
        prev = fetch_global_model(
            self.storage, self.spec, info.prev_model_commitment, info.prev_model_cid, suite=self.circuits
        ).values
        median = info.rule == Rule.MEDIAN
        s, layout = self.scale_bits, self.circuits.layout
        norms = tuple(update_norm(o.values, prev, s, layout) for o in outcomes if o.values is not None)
        t0 = time.perf_counter()
        proof: KzgMedianProof | None = None
        proof_cid, verify_seconds = "", 0.0
        if median:
            values, mask, proof = self.aggregate_median(round_id, outcomes, info.quorum, prev)
            t1 = time.perf_counter()
            assert self.circuits.median is not None  # aggregate_median refuses otherwise
            if not verify_offchain(self.circuits.median, proof.path):
                raise CircuitError(f"round {round_id}: the median proof does not verify off-chain")
            verify_seconds = time.perf_counter() - t1
            proof_cid = str(self.storage.put(proof.path.read_bytes()))
            expected: Commitment = (proof.commitments[-1].as_uint256(),)
        else:
            values, mask = self.aggregate(round_id, outcomes, info.quorum)
            expected = as_commitment(round_manager.aggregateCommitment(round_id, mask))
        t_check = time.perf_counter()
        # the model file must open the commitment the chain stores, or hospitals would report it (implied by
        # the homomorphism once every included update opened its point; checked anyway: one commitment
        # per chunk, the bulk of this step for a chunked model)
        if not opens(values, expected, self.circuits.basis, self.circuits.layout):
            raise CircuitError(f"round {round_id}: the aggregate does not open the commitment the chain derives")
        check_seconds = time.perf_counter() - t_check
        aggregate_seconds = time.perf_counter() - t0 - verify_seconds
        model = ModelFile.of_layout(
            layout, model_kind=self.spec.kind, num_features=self.spec.num_features, scale_bits=s, values=values
        )
        model_cid = str(self.storage.put(model.to_bytes()))
        # every exclusion is declared on-chain with its evidence first (RoundManager refuses undeclared ones)
        declare_exclusions(round_manager, self.account, self.storage, round_id, outcomes)
        if proof is not None:
            receipt = round_manager.finalizeMedianRound(
                round_id, proof.proof, list(proof.instances), model_cid, proof_cid, mask, sender=self.account
            )
        else:
            t_tx = time.perf_counter()
            receipt = round_manager.finalizeRound(round_id, model_cid, mask, sender=self.account)
            finalize_seconds = time.perf_counter() - t_tx
        statistic = None
        if info.norm_bound_sq and norms:  # the exact norms never leave the enclave: only the noised count
            statistic = self.policy.statistic(norms, bound_from_quantized(info.norm_bound_sq, s), self.noise(round_id))
        return Finalization(
            round_id=round_id,
            outcomes=tuple(outcomes),
            model=model,
            model_cid=model_cid,
            excluded_mask=mask,
            tx_hash=str(receipt.txn_hash),
            gas_used=int(receipt.gas_used),
            aggregate_seconds=aggregate_seconds,
            check_seconds=check_seconds,
            finalize_seconds=finalize_seconds if proof is None else 0.0,
            commitment=expected,
            rule="median" if median else "fedavg",
            norm_statistic=statistic,
            proof=proof,
            proof_cid=proof_cid,
            verify_seconds=verify_seconds,
        )
