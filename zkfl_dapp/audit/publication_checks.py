"""Checks of what the consortium published beside the proofs: the enclave's public key, the round reports,
and the audit receipts' reports. Each is fetched by the CID the chain holds and checked against the chain;
nothing is taken on the word of the party that published it.

* ``enclave key``: the key under the registered CID hashes to the registered SHA-256 (hospitals encrypt to
  it); a zero measurement is labelled a development enclave in the report (``enclave``).
* ``report`` (per round): every ``RoundReportPublished`` report resolves, parses, and names the round's
  on-chain model CID and commitment, rule and norm bound. Its accuracy figures are the admin's report,
  not proven. Publishing a report is optional: a round without one gets "–".
* ``receipts``: every ``AuditRecorded`` report resolves, parses as an audit report, and its verdict for
  that round is the one the receipt recorded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from typing import Any

from zkfl_dapp.audit.context import AuditContext, describe_error
from zkfl_dapp.audit.events import _args, _logs
from zkfl_dapp.audit.report import AuditReport, RoundAudit, _point_hex
from zkfl_dapp.chain.enums import Phase, Rule
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.core.norms import bound_sq_quantized
from zkfl_dapp.exceptions import StorageError
from zkfl_dapp.protocol.reports import RoundReport

_REPORT_FIELDS = {f.name for f in fields(RoundReport)}


def _parse_round_report(data: bytes) -> RoundReport:
    """A published round report, strictly: a JSON object with exactly RoundReport's fields."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict) or set(raw) != _REPORT_FIELDS:
        got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise ValueError(f"not a round report (fields {got})")
    report = RoundReport(**raw)
    if not (isinstance(report.round_id, int) and isinstance(report.model_cid, str)):
        raise ValueError("round_id or model_cid has the wrong type")
    return report


class PublicationChecks(AuditContext):
    """The enclave key, the round reports and the audit receipts, fetched and checked against the chain."""

    def publication(self, report: AuditReport, head: int) -> None:
        self._enclave_key(report)
        self._round_reports(report, head)
        self._receipts(report, head)

    def _enclave_key(self, report: AuditReport) -> None:
        report.deployment_checks["enclave key"] = True
        key_hash, key_cid, measurement = self.registry.enclaveKey()
        if not key_cid:
            self._deployment_fail(report, "enclave key", "enclave key", "a registered key CID", "none registered")
            return
        try:
            key = self.storage.get(str(key_cid))
        except StorageError as exc:
            expected = f"a key under {key_cid}"
            self._deployment_fail(report, "enclave key", "enclave key file", expected, describe_error(exc))
            return
        digest = hashlib.sha256(key).digest()
        if digest != bytes(key_hash):
            actual = f"content hashing to 0x{digest.hex()}"
            expected = f"SHA-256 0x{bytes(key_hash).hex()}"
            self._deployment_fail(report, "enclave key", "enclave key file", expected, actual)
        # a zero measurement is the development enclave (no TEE evidence): labelled in the report, not an error
        report.enclave = {
            "key_cid": str(key_cid),
            "measurement": "0x" + bytes(measurement).hex(),
            "attested": any(bytes(measurement)),
        }

    def _round_reports(self, report: AuditReport, head: int) -> None:
        published: dict[int, list[str]] = {}
        for log in _logs(self.rm.RoundReportPublished, head):
            a = _args(log)
            published.setdefault(int(a["roundId"]), []).append(str(a["reportCid"]))
        for ra in report.rounds:
            cids = published.get(ra.round_id, [])
            ra.checks["report"] = True if cids else None
            for cid in cids:
                self._round_report(ra, cid)

    def _round_report(self, ra: RoundAudit, cid: str) -> None:
        try:
            rr = _parse_round_report(self.storage.get(cid))
        except StorageError as exc:
            self._fail(ra, "report", f"round report {cid}", "a report under the published CID", describe_error(exc))
            return
        except (ValueError, TypeError) as exc:
            self._fail(ra, "report", f"round report {cid}", "a round report", str(exc))
            return
        info = read_round(self.rm, ra.round_id)
        claims: list[tuple[str, Any, Any]] = [("round", ra.round_id, rr.round_id)]
        rule = "median" if info.rule == Rule.MEDIAN else "fedavg"
        claims.append(("rule", rule, rr.rule))
        bound_sq = bound_sq_quantized(rr.norm_bound, self.scale_bits) if rr.norm_bound is not None else 0
        claims.append(("norm bound (normBoundSq)", info.norm_bound_sq, bound_sq))
        if info.phase in (Phase.FINALIZED, Phase.ROLLED_BACK):
            claims.append(("model CID", info.new_model_cid, rr.model_cid))
            claims.append(("model commitment", _point_hex(info.new_model_commitment), rr.model_commitment.lower()))
        for what, chain, claimed in claims:
            if chain != claimed:
                self._fail(ra, "report", f"round report {cid} / {what}", f"{chain} (chain)", f"{claimed}")

    def _receipts(self, report: AuditReport, head: int) -> None:
        report.deployment_checks["receipts"] = True
        for log in _logs(self.rm.AuditRecorded, head):
            a = _args(log)
            round_id, cid, passed = int(a["roundId"]), str(a["reportCid"]), bool(a["passed"])
            item = f"audit receipt of round {round_id} ({cid})"
            try:
                receipt = AuditReport.model_validate_json(self.storage.get(cid))
            except StorageError as exc:
                self._deployment_fail(report, "receipts", item, "its report under the CID", describe_error(exc))
                continue
            except ValueError as exc:
                self._deployment_fail(report, "receipts", item, "an audit report", f"{type(exc).__name__}: {exc}")
                continue
            rounds = {r.round_id: r for r in receipt.rounds}
            deployment_ok = not any(f.severity == "error" for f in receipt.deployment_findings)
            verdict = rounds[round_id].passed and deployment_ok if round_id in rounds else None
            if verdict != passed:
                expected = f"passed={passed} (the receipt)"
                self._deployment_fail(report, "receipts", item, expected, f"{verdict} (its report)")
