"""Exclusions with evidence (issue 18, docs/exclusions.md): what the enclave checks in an opened update, the
evidence it publishes when one fails, and the check anyone runs on that evidence from public data alone.

One check, three users: the enclave (:func:`content_fault` decides an exclusion, :func:`build_evidence` proves
it), the excluded hospital's agent (:func:`check_evidence` decides a dispute) and the auditor (a failing check
is a finding naming the aggregator). The check never trusts the evidence's words: it re-derives the shared
secret from ``m'`` and the enclave's registered public key, decrypts, and re-runs :func:`content_fault`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from zkfl_dapp.chain.enums import ExclusionReason
from zkfl_dapp.chain.views import SubmissionView, commitment_bytes
from zkfl_dapp.circuits.kzg import KzgBasis
from zkfl_dapp.core.exclusions import EvidenceReason, ExclusionEvidence
from zkfl_dapp.core.formats import UpdatePayload
from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.crypto.envelope import associated_data
from zkfl_dapp.crypto.evidence import kem_message, open_with_message, sha256_hex, split_envelope
from zkfl_dapp.exceptions import (
    CryptoError,
    DecryptionError,
    EvidenceError,
    ExclusionWindowOpen,
    ModelFileError,
    RoundError,
)
from zkfl_dapp.protocol.hospital import opens
from zkfl_dapp.storage.base import Storage


class CommitmentScheme(Protocol):
    """What checking an update against its commitment needs: the circuits' suite (enclave, hospitals) and the
    auditor's context both have it."""

    @property
    def scale_bits(self) -> int: ...

    @property
    def basis(self) -> KzgBasis | None: ...

    @property
    def layout(self) -> CommitmentLayout | None: ...


def content_fault(plaintext: bytes, round_id: int, sub: SubmissionView, suite: CommitmentScheme) -> str | None:
    """Why a decrypted update cannot be aggregated (``None``: it is valid and opens its commitment)."""
    if suite.basis is None or suite.layout is None:
        raise EvidenceError("no checked KZG basis and layout: an update cannot be checked against its commitment")
    try:
        payload = UpdatePayload.parse(plaintext, expected_size=suite.layout.total_rows)
    except ModelFileError as exc:
        return f"malformed update: {exc}"
    if payload.round_id != round_id or payload.hospital.lower() != sub.hospital.lower():
        return f"update names round {payload.round_id} / {payload.hospital}, not this submission"
    if payload.sample_count != sub.sample_count:
        return f"update declares {payload.sample_count} samples, the chain says {sub.sample_count}"
    if payload.scale_bits != suite.scale_bits:
        return f"update quantized at 2^{payload.scale_bits}, the circuits use 2^{suite.scale_bits}"
    if not opens(payload.values, sub.commitment, suite.basis, suite.layout):
        return "update does not open its on-chain commitment"
    return None


def submission_ad(round_id: int, sub: SubmissionView, enclave_public_key: bytes) -> bytes:
    """The associated data the submission's envelope must authenticate under, sealed to ``enclave_public_key``."""
    key_hash = hashlib.sha256(enclave_public_key).digest()
    return associated_data(round_id, sub.hospital, commitment_bytes(sub.commitment), enclave_key_hash=key_hash)


def build_evidence(
    seed: bytes,
    public_key: bytes,
    round_id: int,
    sub: SubmissionView,
    envelope: bytes,
    reason: EvidenceReason,
    finding: str,
) -> ExclusionEvidence:
    """The evidence file of excluding ``sub`` (whose ``envelope`` the enclave fetched) for ``reason``: the
    decapsulation evidence ``m'`` of its KEM ciphertext (an all-zero ``m'`` for bytes that are no envelope).
    """
    try:
        kem, _, _ = split_envelope(envelope)
        message = kem_message(seed, kem)
    except (DecryptionError, CryptoError):
        message = bytes(32)  # not an envelope at all: anyone sees it without a key
    return ExclusionEvidence(
        round_id=round_id,
        slot=sub.slot,
        hospital=sub.hospital,
        reason=reason,
        ciphertext_cid=sub.cid,
        envelope_sha256=sha256_hex(envelope),
        enclave_key_sha256=sha256_hex(public_key),
        kem_message=message.hex(),
        finding=finding[:512],
    )


@dataclass(frozen=True)
class EvidenceVerdict:
    """The outcome of checking one exclusion's evidence: ``holds`` or not, and why, in words."""

    holds: bool
    why: str
    #: the check could not run (the ciphertext is not served): neither proven nor refuted
    unverifiable: bool = False


def _fails(why: str) -> EvidenceVerdict:
    return EvidenceVerdict(False, why)


def check_evidence(
    reason: int,
    declared_hash: bytes,
    evidence_file: bytes | None,
    envelope: bytes | None,
    *,
    round_id: int,
    sub: SubmissionView,
    public_key: bytes,
    suite: CommitmentScheme,
) -> EvidenceVerdict:
    """Check one declared exclusion of ``sub`` from public data: the on-chain ``reason`` and evidence hash, the
    evidence file and the envelope as the store serves them (``None``: not served), the enclave's registered
    public key. An ``Unavailable`` exclusion has no evidence: the contract applied it only after an
    unanswered re-announce window, so it holds.
    """
    if reason == ExclusionReason.UNAVAILABLE:
        return EvidenceVerdict(True, "unavailable: no evidence exists; the hospital let its re-announce window pass")
    if reason not in (ExclusionReason.UNDECRYPTABLE, ExclusionReason.INVALID_CONTENT):
        return _fails(f"no exclusion reason declared (code {reason})")
    if evidence_file is None:
        return _fails("the evidence file is not served by the store")
    if hashlib.sha256(evidence_file).digest() != bytes(declared_hash):
        return _fails("the evidence file's SHA-256 differs from the hash declared on-chain")
    try:
        evidence = ExclusionEvidence.parse(evidence_file)
    except ModelFileError as exc:
        return _fails(f"the evidence file is malformed: {exc}")
    expected = (round_id, sub.slot, sub.hospital.lower(), sub.cid, int(reason), sha256_hex(public_key))
    actual = (
        evidence.round_id,
        evidence.slot,
        evidence.hospital.lower(),
        evidence.ciphertext_cid,
        evidence.reason_code,
        evidence.enclave_key_sha256,
    )
    if actual != expected:
        return _fails(f"the evidence names {actual}, the chain {expected} (round, slot, hospital, CID, reason, key)")
    if envelope is None:
        return EvidenceVerdict(False, "the ciphertext is not served: the evidence cannot be checked", True)
    if sha256_hex(envelope) != evidence.envelope_sha256:
        return _fails("the evidence is about other bytes than the ciphertext the store serves")
    try:
        split_envelope(envelope)
    except DecryptionError as exc:
        if reason == ExclusionReason.UNDECRYPTABLE:
            return EvidenceVerdict(True, f"undecryptable: {exc}")
        return _fails(f"the ciphertext is no envelope ({exc}), yet the reason is invalid content")
    try:
        message = bytes.fromhex(evidence.kem_message)
        plaintext = open_with_message(public_key, envelope, submission_ad(round_id, sub, public_key), message)
    except EvidenceError as exc:
        return _fails(str(exc))
    if reason == ExclusionReason.UNDECRYPTABLE:
        if plaintext is None:
            return EvidenceVerdict(True, "undecryptable: the proven key fails AES-GCM authentication")
        return _fails("the envelope decrypts under the proven key: it is not undecryptable")
    if plaintext is None:
        return _fails("the envelope does not decrypt, yet the reason is invalid content")
    try:
        fault = content_fault(plaintext, round_id, sub, suite)
    except EvidenceError as exc:
        return _fails(str(exc))
    if fault is None:
        return _fails("the update decrypts and opens its on-chain commitment: the exclusion was unjustified")
    return EvidenceVerdict(True, f"invalid content: {fault}")


def declare_exclusions(
    round_manager: Any, account: Any, storage: Storage, round_id: int, outcomes: Sequence[Any]
) -> None:
    """Declare on-chain every exclusion among ``outcomes`` (``SlotOutcome``s) that is not declared yet: evidence
    files go to the store first, their SHA-256 and CID into ``declareExclusion``. Idempotent, so a finalization
    that had to wait can simply be run again.

    Raises:
        ExclusionWindowOpen: an ``Unavailable`` exclusion's re-announce window has not passed (chain time).
        RoundError: the hospital answered an ``Unavailable`` exclusion on-chain (``UpdateReannounced``): its
            envelope must be opened from that event before the round can finalize.
    """
    window_end = 0
    for o in outcomes:
        if o.included:
            continue
        record = round_manager.getExclusion(round_id, o.slot)
        if int(record.reason) == ExclusionReason.UNAVAILABLE and bool(record.reannounced):
            raise RoundError(
                f"round {round_id}: slot {o.slot}'s hospital posted its envelope on-chain (UpdateReannounced): "
                "open it from that event and declare evidence, or include it"
            )
        if int(record.reason) == ExclusionReason.NONE:
            if o.evidence is not None:
                data = o.evidence.to_bytes()
                cid = str(storage.put(data))
                digest = hashlib.sha256(data).digest()
                round_manager.declareExclusion(round_id, o.slot, o.code, digest, cid, sender=account)
            else:
                round_manager.declareExclusion(round_id, o.slot, o.code, bytes(32), "", sender=account)
            record = round_manager.getExclusion(round_id, o.slot)
        if int(record.reason) == ExclusionReason.UNAVAILABLE:
            window_end = max(window_end, int(record.declaredAt) + int(round_manager.REANNOUNCE_WINDOW()))
    if window_end and int(round_manager.chain_manager.pending_timestamp) <= window_end:
        raise ExclusionWindowOpen(
            f"round {round_id}: a ciphertext was declared unavailable; its hospital may post it on-chain until "
            f"{window_end} (chain time): finalize after that",
            window_end=window_end,
        )
