"""The audit of a round's exclusions (issue 18, docs/exclusions.md): every update left out must have been
declared with a reason (``ExclusionDeclared``) and, for ``Undecryptable`` and ``InvalidContent``, evidence that
holds when re-checked here from public data alone: the evidence file under its CID (whose SHA-256 the chain
holds), the ciphertext under the submission's CID and the enclave's registered public key. An exclusion whose
evidence is missing or fails, and one whose dispute a majority upheld, is a finding of the ``weights`` check
naming the aggregator that declared it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from zkfl_dapp.audit.context import AuditContext
from zkfl_dapp.audit.events import _args, _logs
from zkfl_dapp.audit.report import Finding, RoundAudit, SubmissionRecord
from zkfl_dapp.chain.enums import ExclusionReason
from zkfl_dapp.chain.views import SubmissionView, parse_commitment_hex
from zkfl_dapp.exceptions import StorageError
from zkfl_dapp.protocol.exclusions import check_evidence


class ExclusionChecks(AuditContext):
    """Exclusions of a finalized (or invalidated) round."""

    def _enclave_public_key(self) -> bytes | None:
        """The registered ML-KEM-768 public key, fetched and checked against its on-chain hash (None: not found)."""
        if self.registry is None:
            return None
        key_hash, key_cid, _ = self.registry.enclaveKey()
        try:
            key = self.storage.get(str(key_cid))
        except StorageError:
            return None
        return key if hashlib.sha256(key).digest() == bytes(key_hash) else None

    def _fetch(self, cid: str) -> bytes | None:
        try:
            return self.storage.get(cid) if cid else None
        except StorageError:
            return None

    def _exclusions(self, ra: RoundAudit) -> None:
        excluded = [s for s in ra.submissions if s.excluded]
        if not excluded:
            return
        head = ra.closed_block if ra.closed_block is not None else 0
        evidence_cids: dict[int, str] = {}
        for log in _logs(self.rm.ExclusionDeclared, head):
            a = _args(log)
            if int(a["roundId"]) == ra.round_id:
                evidence_cids[int(a["slot"])] = str(a["evidenceCid"])  # the last declaration of a slot counts
        public_key = self._enclave_public_key()
        for sub in excluded:
            self._exclusion(
                ra, sub, self.rm.getExclusion(ra.round_id, sub.slot), evidence_cids.get(sub.slot, ""), public_key
            )

    def _exclusion(
        self, ra: RoundAudit, sub: SubmissionRecord, record: Any, evidence_cid: str, public_key: bytes | None
    ) -> None:
        reason = int(record.reason)
        aggregator = str(record.aggregator) if int(str(record.aggregator), 16) else "the aggregator"
        item = f"exclusion of submission {sub.slot} ({sub.hospital})"
        if reason == ExclusionReason.NONE:
            self._fail(
                ra, "weights", item, "a declared reason and evidence", f"none: {aggregator} excluded it silently"
            )
            return
        if bool(record.upheld):
            self._fail(
                ra,
                "weights",
                item,
                "an exclusion that stands",
                f"a dispute upheld by a majority of the members: {aggregator} excluded it unjustifiably",
            )
        if reason == ExclusionReason.UNAVAILABLE:
            return  # no evidence exists: the contract applied it only after an unanswered re-announce window
        if public_key is None:  # already a deployment finding ("enclave key"): the evidence cannot be checked
            ra.findings.append(
                Finding(
                    round_id=ra.round_id,
                    check="weights",
                    item=item,
                    expected="the enclave's registered public key, to check the evidence",
                    actual="not found or not matching its hash",
                    severity="warning",
                )
            )
            return
        view = SubmissionView(
            slot=sub.slot,
            hospital=sub.hospital,
            commitment=parse_commitment_hex(sub.commitment),
            sample_count=sub.sample_count,
            cid=sub.cid,
        )
        verdict = check_evidence(
            reason,
            bytes(record.evidenceHash),
            self._fetch(evidence_cid),
            self._fetch(sub.cid),
            round_id=ra.round_id,
            sub=view,
            public_key=public_key,
            suite=self,
        )
        if verdict.unverifiable:  # the hospital's ciphertext is gone: not the aggregator's doing, not proven either
            ra.findings.append(
                Finding(
                    round_id=ra.round_id,
                    check="weights",
                    item=item,
                    expected="the ciphertext, to check the " "evidence",
                    actual=verdict.why,
                    severity="warning",
                )
            )
        elif not verdict.holds:
            self._fail(
                ra,
                "weights",
                item,
                f"evidence of {ExclusionReason(reason).name.lower()} anyone can check (file {evidence_cid or 'none'})",
                f"{verdict.why}: {aggregator} excluded it without evidence that holds",
            )
