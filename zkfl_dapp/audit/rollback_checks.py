"""The round rules no single party or minority may abuse (issue 18), audited from the chain and the store alone.

* ``weights`` (weights that cannot be bought), per finalized FedAvg round: no included update weighs more than the
  share cap ``ceil(2**s / min(m, 3))`` (:func:`~zkfl_dapp.core.aggregation.share_cap`), and no submission declared
  more samples than the cap its hospital had agreed at admission when it submitted (the registry's
  ``SampleCapSet`` events up to the submission's block; 0: none agreed);
* ``rollback`` (rollbacks that are accountable), per rolled-back round: the auditor fetches the round's model file
  itself. A file that resolves, has the consortium's shape and opens the round's commitment was available: the
  rollback was unjustified, and the finding names every reporter (``ModelUnavailableReported``). A file that does
  not resolve or does not open it justifies the rollback: a warning naming the aggregator that finalized it.

:class:`RuleChecks` is a mixin over :class:`~zkfl_dapp.audit.context.AuditContext` (like the other check
modules); :meth:`RuleChecks.rules` runs after the round checks and adds its findings to the rounds they concern.
"""

from __future__ import annotations

from zkfl_dapp.audit.context import AuditContext, describe_error
from zkfl_dapp.audit.events import _args, _logs
from zkfl_dapp.audit.report import AuditReport, Finding, RoundAudit
from zkfl_dapp.chain.views import parse_commitment_hex
from zkfl_dapp.core.aggregation import share_cap
from zkfl_dapp.exceptions import ChainError, ModelFileError, StorageError
from zkfl_dapp.protocol.hospital import opens

#: The check (report column) of the rollback findings.
ROLLBACK_CHECK = "rollback"


class RuleChecks(AuditContext):
    """Weight caps of every finalized FedAvg round and the justification of every rollback."""

    def rules(self, report: AuditReport, head: int) -> None:
        self.rule_findings(report.rounds, head)

    def rule_findings(self, rounds: list[RoundAudit], head: int) -> None:
        """Adds the weight-cap and rollback findings to ``rounds`` (audited up to block ``head``)."""
        caps = self._cap_history(head)
        reporters: dict[int, list[str]] = {}
        for log in _logs(self.rm.ModelUnavailableReported, head):
            reporters.setdefault(int(_args(log)["roundId"]), []).append(str(_args(log)["hospital"]))
        finalizers: dict[int, str] = {}
        for ra in rounds:
            if ra.phase == "finalized" and ra.rule == "fedavg":
                self._weight_caps(ra, caps)
            if ra.phase == "rolled back":
                finalizers.setdefault(ra.round_id, self._sender(ra.finalize_tx))
                self._rollback(ra, reporters.get(ra.round_id, []), finalizers[ra.round_id])

    # --- weights that cannot be bought -----------------------------------------------------------------

    def _cap_history(self, head: int) -> dict[str, list[tuple[int, int]]]:
        """Per hospital (lower-case address), its agreed caps in order: (block, maxSamples)."""
        history: dict[str, list[tuple[int, int]]] = {}
        event = getattr(self.registry, "SampleCapSet", None) if self.registry is not None else None
        if event is None:
            return history
        for log in _logs(event, head):
            args = _args(log)
            history.setdefault(str(args["account"]).lower(), []).append(
                (int(log.block_number), int(args["maxSamples"]))
            )
        return history

    def _weight_caps(self, ra: RoundAudit, caps: dict[str, list[tuple[int, int]]]) -> None:
        included = [s for s in ra.submissions if not s.excluded]
        if not included:
            return
        mask = sum(1 << s.slot for s in ra.submissions if s.excluded)
        weights = [int(w) for w in self.rm.expectedWeights(ra.round_id, mask)]
        cap = share_cap(len(included), self.scale_bits)
        for s in included:
            if s.slot < len(weights) and weights[s.slot] > cap:
                self._fail(
                    ra,
                    "weights",
                    f"submission {s.slot} weight",
                    f"at most {cap} of {1 << self.scale_bits} (share cap, {len(included)} included)",
                    f"{weights[s.slot]} ({s.hospital})",
                )
        for s in ra.submissions:
            agreed = _cap_at(caps.get(s.hospital.lower(), []), self._block_of(s.tx))
            if agreed and s.sample_count > agreed:
                self._fail(
                    ra,
                    "weights",
                    f"submission {s.slot} sample count",
                    f"at most {agreed} (the cap {s.hospital} agreed at admission, SampleCapSet)",
                    str(s.sample_count),
                )

    def _block_of(self, tx: str | None) -> int:
        if tx is None:
            return 1 << 62
        try:
            return int(self.chain.provider.get_receipt(tx).block_number)
        except Exception:
            return 1 << 62

    # --- rollbacks that are accountable ----------------------------------------------------------------

    def _sender(self, tx: str | None) -> str:
        if tx is None:
            return "unknown"
        try:
            return str(self.chain.provider.get_receipt(tx).transaction.sender)
        except Exception:
            return f"the sender of {tx}"

    def _rollback(self, ra: RoundAudit, reporters: list[str], aggregator: str) -> None:
        ra.checks[ROLLBACK_CHECK] = True
        if ra.new_model_cid is None or ra.new_model_commitment is None:
            return
        try:
            point = parse_commitment_hex(ra.new_model_commitment)
            model = self.model_file(ra.new_model_cid)
        except (StorageError, ModelFileError, ChainError, ValueError) as exc:
            ra.findings.append(
                Finding(
                    round_id=ra.round_id,
                    check=ROLLBACK_CHECK,
                    item="justified rollback",
                    expected=f"the model file under {ra.new_model_cid}",
                    actual=f"{describe_error(exc)}: finalized by the aggregator {aggregator}",
                    severity="warning",
                )
            )
            return
        if self.basis is None or self.layout is None or not opens(model.values, point, self.basis, self.layout):
            ra.findings.append(
                Finding(
                    round_id=ra.round_id,
                    check=ROLLBACK_CHECK,
                    item="justified rollback",
                    expected="a model file opening the round's commitment",
                    actual=f"one that does not (or no verified basis): finalized by the aggregator {aggregator}",
                    severity="warning",
                )
            )
            return
        self._fail(
            ra,
            ROLLBACK_CHECK,
            "unjustified rollback",
            f"a model file under {ra.new_model_cid} that is missing or does not open the round's commitment",
            "the file resolves and opens the commitment; reported unavailable by " + ", ".join(reporters),
        )


def _cap_at(history: list[tuple[int, int]], block: int) -> int:
    """The cap in force at ``block`` (the last SampleCapSet at or before it; 0: none)."""
    cap = 0
    for at, value in history:
        if at <= block:
            cap = value
    return cap


__all__ = ["ROLLBACK_CHECK", "RuleChecks"]
