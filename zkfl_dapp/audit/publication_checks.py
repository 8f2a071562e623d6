"""Checks of what the consortium published beside the proofs: the enclave's public key, the round reports,
and the audit receipts' reports. Each is fetched by the CID the chain holds and checked against the chain;
nothing is taken on the word of the party that published it.

* ``enclave key``: the key under the registered CID hashes to the registered SHA-256 (hospitals encrypt to
  it), and every key ever registered has its TEE evidence re-verified (:mod:`.attestation_checks`); a
  development enclave is labelled red in the report (``enclave``), never attested.
* ``report`` (per round): every ``RoundReportPublished`` report resolves, parses, and names the round's
  on-chain model CID and commitment, rule and norm bound. Its accuracy figures are the admin's report,
  not proven. Publishing a report is optional: a round without one gets "–".
* ``receipts``: every ``AuditRecorded`` report resolves, parses as an audit report, and its verdict for
  that round is the one the receipt recorded.
* ``policy`` (per bounded round with a published report): the round's on-chain bound is the one the
  published bound policy (:class:`~zkfl_dapp.core.policy.NormBoundPolicy`, the settings' defaults unless
  given) derives from the previous bounded round's published bound and norm statistic (a noised count, drawn in
  the enclave: published, not proven): the check shows that the admin followed the declared policy on the
  published figures, not that the figures are true.
* ``predictions``: the PredictionRegistries come from the chain, not from a local file: every address that
  ``ConsortiumRegistry.PredictionRegistrySet`` ever recorded (a replaced or cleared one still has receipts).
  Each must hold code and be a PredictionRegistry bound to this RoundManager (``roundManager()``); a pointer
  to anything else is a finding. None recorded: "–" and a note. Every ``PredictionRecorded`` receipt is re-checked
  from its transaction's calldata: the proof hashes to ``proofHash``, its committed model point hashes to
  the round's stored model hash (the round is finalized), its address limbs are the requester's, its logit
  instance is the recorded logit, and the registry's inference verifier accepts it (an ``eth_call``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from typing import Any

from eth_utils import keccak

from zkfl_dapp.audit.attestation_checks import audit_enclave_keys
from zkfl_dapp.audit.context import AuditContext, describe_error
from zkfl_dapp.audit.events import _args, _logs
from zkfl_dapp.audit.report import AuditReport, RoundAudit
from zkfl_dapp.chain.enums import Phase, Rule
from zkfl_dapp.chain.views import commitment_hex, point_hash, read_round
from zkfl_dapp.circuits.kzg_distance import address_limbs
from zkfl_dapp.core.fixedpoint import FIELD_MODULUS
from zkfl_dapp.core.norms import bound_sq_quantized
from zkfl_dapp.core.policy import NormBoundPolicy, NormStatistic
from zkfl_dapp.exceptions import ConfigError, StorageError
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


def _statistic(rr: RoundReport | None) -> NormStatistic | None:
    """A report's published bound-policy statistic; None when absent or malformed (a hostile report)."""
    if rr is None:
        return None
    try:
        return rr.norm_statistic
    except (ConfigError, ValueError, TypeError):
        return None


class PublicationChecks(AuditContext):
    """The enclave key, the round reports and the audit receipts, fetched and checked against the chain."""

    #: the norm-bound policy the consortium declared (the settings' defaults unless the caller sets another)
    policy: NormBoundPolicy = NormBoundPolicy()
    #: the PredictionRegistry whose receipts to re-check (None: those the ConsortiumRegistry records on-chain)
    prediction_registry: Any = None

    def publication(self, report: AuditReport, head: int) -> None:
        self._enclave_key(report)
        reports = self._round_reports(report, head)
        self._bound_policy(report, reports)
        self._receipts(report, head)
        self._predictions(report, head)

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
        # every key ever registered: its evidence re-verified as of its registration block (attestation_checks)
        keys = audit_enclave_keys(self.registry, self.storage, self.chain, int(self.chain.chain_id), report.head_block)
        for k in keys:
            if k.status == "failed":
                item = f"enclave evidence {k.evidence_cid} (block {k.block})"
                expected = f"{k.kind} evidence binding key {k.key_hash} with measurement {k.measurement}"
                self._deployment_fail(report, "enclave key", item, expected, k.detail)
        kind, evidence_cid, _registered_at = self.registry.enclaveEvidence()
        current = next((k for k in reversed(keys) if k.key_hash == "0x" + bytes(key_hash).hex()), None)
        # a development enclave is labelled red in the report (not an error: the consortium opted in on-chain)
        report.enclave = {
            "key_cid": str(key_cid),
            "measurement": "0x" + bytes(measurement).hex(),
            "kind": current.kind if current else str(int(kind)),
            "evidence_cid": str(evidence_cid),
            "attested": current is not None and current.status == "attested",
            "status": current.detail if current else "no registration event found",
            "keys": [k.as_dict() for k in keys],
        }

    def _round_reports(self, report: AuditReport, head: int) -> dict[int, RoundReport]:
        """Check every published round report; returns the last valid one of each round."""
        published: dict[int, list[str]] = {}
        for log in _logs(self.rm.RoundReportPublished, head):
            a = _args(log)
            published.setdefault(int(a["roundId"]), []).append(str(a["reportCid"]))
        parsed: dict[int, RoundReport] = {}
        for ra in report.rounds:
            cids = published.get(ra.round_id, [])
            ra.checks["report"] = True if cids else None
            for cid in cids:
                rr = self._round_report(ra, cid)
                if rr is not None:
                    parsed[ra.round_id] = rr
        return parsed

    def _bound_policy(self, report: AuditReport, reports: dict[int, RoundReport]) -> None:
        """Each bounded round's bound against the policy applied to the previous bounded round's figures, in
        round order, as the round driver applies it (protocol.reports._last_norm_statistics). After a bounded
        round whose report (with its figures) is missing, later bounds cannot be checked: "–", not a guess."""
        last_bound: float | None = None
        last_statistic: NormStatistic | None = None
        known = True
        for ra in sorted(report.rounds, key=lambda r: r.round_id):
            rr = reports.get(ra.round_id)
            ra.checks["policy"] = None
            if ra.norm_bound_sq and rr is not None and known:
                ra.checks["policy"] = True
                expected = bound_sq_quantized(self.policy.next_bound(last_bound, last_statistic), self.scale_bits)
                if expected != ra.norm_bound_sq:
                    why = (
                        f"{expected} = the policy's bound from the previous bounded round's published bound "
                        f"{last_bound} and norm statistic {last_statistic}"
                    )
                    self._fail(ra, "policy", "norm bound (normBoundSq)", why, f"{ra.norm_bound_sq} (chain)")
            statistic = _statistic(rr)
            if rr is not None and rr.norm_bound is not None and statistic is not None:
                last_bound, last_statistic = float(rr.norm_bound), statistic
            elif ra.norm_bound_sq and ra.phase == "finalized":
                known = False  # its figures would feed the next bound, and they are not published

    def _round_report(self, ra: RoundAudit, cid: str) -> RoundReport | None:
        try:
            rr = _parse_round_report(self.storage.get(cid))
        except StorageError as exc:
            self._fail(ra, "report", f"round report {cid}", "a report under the published CID", describe_error(exc))
            return None
        except (ValueError, TypeError) as exc:
            self._fail(ra, "report", f"round report {cid}", "a round report", str(exc))
            return None
        info = read_round(self.rm, ra.round_id)
        claims: list[tuple[str, Any, Any]] = [("round", ra.round_id, rr.round_id)]
        rule = "median" if info.rule == Rule.MEDIAN else "fedavg"
        claims.append(("rule", rule, rr.rule))
        bound_sq = bound_sq_quantized(rr.norm_bound, self.scale_bits) if rr.norm_bound is not None else 0
        claims.append(("norm bound (normBoundSq)", info.norm_bound_sq, bound_sq))
        if info.phase in (Phase.FINALIZED, Phase.ROLLED_BACK):
            claims.append(("model CID", info.new_model_cid, rr.model_cid))
            claims.append(("model commitment", commitment_hex(info.new_model_commitment), rr.model_commitment.lower()))
        for what, chain, claimed in claims:
            if chain != claimed:
                self._fail(ra, "report", f"round report {cid} / {what}", f"{chain} (chain)", f"{claimed}")
        return rr

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

    def _predictions(self, report: AuditReport, head: int) -> None:
        if self.prediction_registry is not None:
            report.deployment_checks["predictions"] = True
            self._prediction_receipts(report, head, self.prediction_registry)
            return
        check = "predictions"
        try:
            current = str(self.registry.predictionRegistry())
            recorded = [
                str(_args(log)["predictionRegistry"]) for log in _logs(self.registry.PredictionRegistrySet, head)
            ]
        except Exception as exc:
            item = f"ConsortiumRegistry {self.registry.address}"
            self._deployment_fail(report, check, item, "predictionRegistry() and its events", describe_error(exc))
            return
        addresses = list({a.lower(): a for a in [*recorded, current] if int(a, 16) != 0}.values())
        if not addresses:
            report.deployment_checks[check] = None
            report.notes.append(
                "no PredictionRegistry recorded on-chain (ConsortiumRegistry.predictionRegistry()): no receipts"
            )
            return
        report.deployment_checks[check] = True
        for address in addresses:
            registry = self._bound_prediction_registry(report, address)
            if registry is not None:
                self._prediction_receipts(report, head, registry)

    def _bound_prediction_registry(self, report: AuditReport, address: str) -> Any:
        """The PredictionRegistry at ``address`` if it is one, bound to this RoundManager; else a finding and None."""
        item = f"PredictionRegistry {address} (recorded by ConsortiumRegistry {self.registry.address})"
        if not self.chain.provider.get_code(address):
            self._deployment_fail(report, "predictions", item, "contract code", "none")
            return None
        registry = self.project.PredictionRegistry.at(address)
        try:
            bound = str(registry.roundManager())
            registry.inferenceVerifier()
        except Exception as exc:
            self._deployment_fail(
                report, "predictions", item, "a PredictionRegistry", f"not one: {describe_error(exc)}"
            )
            return None
        if bound.lower() != str(self.rm.address).lower():
            self._deployment_fail(report, "predictions", f"{item} / roundManager()", str(self.rm.address), bound)
            return None
        return registry

    def _prediction_receipts(self, report: AuditReport, head: int, registry: Any) -> None:
        check = "predictions"
        verifier_address = str(registry.inferenceVerifier())
        for log in _logs(registry.PredictionRecorded, head):
            a = _args(log)
            round_id, requester = int(a["roundId"]), str(a["requester"])
            item = f"prediction receipt (round {round_id}, tx {log.transaction_hash})"
            try:
                tx = self.chain.provider.get_receipt(log.transaction_hash).transaction
                method, args = registry.decode_input(bytes(tx.data))
                if not str(method).startswith("recordPrediction") or len(args) != 3:
                    raise ValueError(f"not a recordPrediction call: {method}")
                call_round, raw_proof, raw_instances = args.values()
                proof, instances = bytes(raw_proof), [int(v) for v in raw_instances]
            except Exception as exc:
                self._deployment_fail(report, check, item, "recordPrediction calldata", describe_error(exc))
                continue
            facts: list[tuple[str, Any, Any]] = [
                ("round", round_id, int(call_round)),
                ("proof hash", "0x" + bytes(a["proofHash"]).hex(), "0x" + keccak(proof).hex()),
                ("requester limbs", list(address_limbs(requester)), instances[1:6]),
            ]
            logit = instances[0] - FIELD_MODULUS if instances and instances[0] > FIELD_MODULUS // 2 else instances[0]
            facts.append(("logit", int(a["logit"]), logit))
            try:
                info = read_round(self.rm, round_id)
                model = "0x" + bytes(self.rm.modelOf(round_id)).hex()
                point = (int.from_bytes(proof[:32], "big"), int.from_bytes(proof[32:64], "big"))
                facts.append(("round phase", "FINALIZED", info.phase.name))
                facts.append(("model point (keccak)", model, "0x" + point_hash(point).hex()))
            except Exception as exc:
                self._deployment_fail(report, check, item, f"round {round_id}'s model", describe_error(exc))
                continue
            for what, expected, actual in facts:
                if expected != actual:
                    self._deployment_fail(report, check, f"{item} / {what}", str(expected), str(actual))
            try:
                verifier = self.project.InferenceVerifier.at(verifier_address)
                accepted = bool(verifier.verifyProof.call(proof, instances))
            except Exception as exc:
                accepted, why = False, describe_error(exc)
            else:
                why = "rejected"
            if not accepted:
                self._deployment_fail(report, check, f"{item} / proof", "the inference verifier accepts it", why)
