"""Per-round checks: events against state, the FedAvg weights and the commitment the chain derived (per chunk
for a chunked deployment), the proofs (via :class:`ProofChecks`), the new model file (opened chunk by chunk),
the ciphertexts' CIDs, and the lineage of global models from genesis to the contract's current one.

Commitments are tuples of points (:data:`~zkfl_dapp.chain.views.Commitment`, one per chunk); the report
writes them with :func:`~zkfl_dapp.chain.views.commitment_hex` and the chain stores
:func:`~zkfl_dapp.chain.views.commitment_hash` of them."""

from __future__ import annotations

from typing import Any

from zkfl_dapp.audit.context import describe_error
from zkfl_dapp.audit.events import _args, _logs
from zkfl_dapp.audit.exclusion_checks import ExclusionChecks
from zkfl_dapp.audit.proof_checks import ProofChecks
from zkfl_dapp.audit.report import CHECKS, AuditReport, Finding, RoundAudit, SubmissionRecord, short_commitment
from zkfl_dapp.chain.enums import Phase, Rule
from zkfl_dapp.chain.views import (
    NO_COMMITMENT,
    Commitment,
    as_commitment,
    commitment_hash,
    commitment_hex,
    model_record,
    parse_commitment_hex,
    read_submissions,
)
from zkfl_dapp.circuits.kzg import G1Point, KzgError, combine
from zkfl_dapp.core.aggregation import normalized_weights
from zkfl_dapp.exceptions import ChainError, ModelFileError, RoundError, StorageError
from zkfl_dapp.protocol.hospital import opens

_PHASES = {Phase.OPEN: "open", Phase.FINALIZED: "finalized", Phase.ABORTED: "aborted", Phase.ROLLED_BACK: "rolled back"}
_PHASES[Phase.INVALIDATED] = "invalidated"  # an upheld exclusion dispute (audit/exclusion_checks.py)


def _commitment_of(text: str) -> Commitment:
    """A commitment as the report writes it, back as points (no points for an empty or malformed one: the checks
    that compare it then fail and say so)."""
    try:
        return parse_commitment_hex(text)
    except (ChainError, ValueError):
        return NO_COMMITMENT


class RoundChecks(ProofChecks, ExclusionChecks):
    """Every round from the first block to the head."""

    def rounds(self, report: AuditReport, head: int) -> None:
        def by_round(event: Any) -> dict[int, Any]:
            return {int(_args(log)["roundId"]): log for log in _logs(event, head)}

        opened, policies = by_round(self.rm.RoundOpened), by_round(self.rm.RoundPolicySet)
        finalized, aborted = by_round(self.rm.RoundFinalized), by_round(self.rm.RoundAborted)
        submitted: dict[int, list[Any]] = {}
        for log in _logs(self.rm.UpdateSubmitted, head):
            submitted.setdefault(int(_args(log)["roundId"]), []).append(log)
        excluded: dict[int, set[int]] = {}
        for log in _logs(self.rm.UpdateExcluded, head):
            excluded.setdefault(int(_args(log)["roundId"]), set()).add(int(_args(log)["slot"]))

        genesis = as_commitment(self.rm.genesisModelCommitment())
        # the current model as the events tell it: (its round, its commitment, its file's CID)
        lineage: tuple[int, Commitment, str] = (0, genesis, str(self.rm.genesisModelCid()))
        for round_id in sorted(opened):
            self.progress(f"round {round_id}: auditing")
            ra = self._round(
                round_id,
                opened[round_id],
                policies.get(round_id),
                finalized.get(round_id),
                aborted.get(round_id),
                submitted.get(round_id, []),
                excluded.get(round_id, set()),
            )
            self._lineage(ra, lineage)
            if ra.phase == "finalized" and ra.new_model_commitment is not None and ra.new_model_cid is not None:
                lineage = (round_id, _commitment_of(ra.new_model_commitment), ra.new_model_cid)
            report.rounds.append(ra)
            verdict = "ok" if ra.passed else f"{len([f for f in ra.findings if f.severity == 'error'])} discrepancies"
            self.progress(f"round {round_id}: {ra.phase}, {verdict}")
        expected_rounds = list(range(1, int(self.rm.currentRoundId()) + 1))
        if sorted(opened) != expected_rounds:
            report.deployment_findings.append(
                Finding(
                    round_id=None,
                    check="lineage",
                    item="round numbering",
                    expected=f"RoundOpened events for rounds {expected_rounds}",
                    actual=f"{sorted(opened)}",
                )
            )
        model_hash, model_round = self.rm.currentModel()
        current = ("0x" + bytes(model_hash).hex(), int(model_round))
        expected = ("0x" + commitment_hash(lineage[1]).hex(), lineage[0])
        if current != expected and report.rounds:
            last = report.rounds[-1]
            last.findings.append(
                Finding(
                    round_id=last.round_id,
                    check="lineage",
                    item="current model",
                    expected=f"hash {expected[0]} of round {expected[1]}'s model (the last finalized round's)",
                    actual=f"hash {current[0]}, round {current[1]} (RoundManager.currentModel())",
                )
            )
            last.checks["lineage"] = False

    def _round(
        self,
        round_id: int,
        opened: Any,
        policy: Any | None,
        fin_log: Any | None,
        abort_log: Any | None,
        submitted: list[Any],
        excluded: set[int],
    ) -> RoundAudit:
        o = _args(opened)
        info = self.rm.getRound(round_id)
        phase = Phase(int(info.phase))
        rule = Rule(int(info.rule))
        subs = [
            SubmissionRecord(
                slot=int(_args(log)["slot"]),
                hospital=str(_args(log)["hospital"]),
                commitment=commitment_hex(as_commitment(_args(log)["commitment"])),
                cid=str(_args(log)["cid"]),
                sample_count=int(_args(log)["sampleCount"]),
                excluded=int(_args(log)["slot"]) in excluded,
                tx=str(log.transaction_hash),
            )
            for log in submitted
        ]
        prev_round = int(o["prevModelRound"])
        try:
            prev_point, prev_cid = model_record(self.rm, prev_round)
        except ChainError as exc:
            prev_point, prev_cid = NO_COMMITMENT, ""
            prev_error: str | None = str(exc)
        else:
            prev_error = None
        ra = RoundAudit(
            round_id=round_id,
            phase=_PHASES.get(phase, "open"),
            rule="median" if rule == Rule.MEDIAN else "fedavg",
            norm_bound_sq=int(info.normBoundSq),
            opened_block=int(opened.block_number),
            prev_model_round=prev_round,
            prev_model_commitment=commitment_hex(prev_point),
            prev_model_cid=prev_cid,
            submissions=subs,
            checks=dict.fromkeys(CHECKS),
        )
        ra.checks["lineage"] = True
        if prev_error is not None:
            self._fail(ra, "lineage", "previous model", f"round {prev_round}'s model on-chain", prev_error)
        on_chain = (bytes(info.prevModelHash), int(info.prevModelRound))
        if (bytes(o["prevModelHash"]), prev_round) != on_chain or on_chain[0] != commitment_hash(prev_point):
            self._fail(
                ra,
                "lineage",
                "RoundOpened event",
                f"prevModelHash 0x{on_chain[0].hex()} of round {on_chain[1]} (getRound) = keccak of its commitment",
                f"0x{bytes(o['prevModelHash']).hex()} of round {prev_round} (event)",
            )
        if policy is None or (int(_args(policy)["rule"]), int(_args(policy)["normBoundSq"])) != (
            int(rule),
            ra.norm_bound_sq,
        ):
            self._fail(
                ra, "lineage", "RoundPolicySet event", f"rule {int(rule)}, bound {ra.norm_bound_sq} (getRound)", "other"
            )
        self._event_vs_state(ra, info)
        if phase == Phase.ABORTED and abort_log is not None:
            ra.closed_block = int(abort_log.block_number)
        if phase not in (Phase.FINALIZED, Phase.ROLLED_BACK, Phase.INVALIDATED):
            return ra
        if fin_log is None:
            self._fail(ra, "lineage", "RoundFinalized event", "an event for a finalized round", "none")
            return ra
        f = _args(fin_log)
        new_point = as_commitment(f["newModelCommitment"])
        ra.closed_block = int(fin_log.block_number)
        ra.finalize_tx = str(fin_log.transaction_hash)
        ra.new_model_commitment = commitment_hex(new_point)
        ra.new_model_cid = str(f["newModelCid"])
        ra.included_count = int(f["includedCount"])
        ra.total_samples = int(f["totalSamples"])
        if rule == Rule.MEDIAN:
            ra.proof_cid = str(f["proofCid"])
            ra.proof_hash = "0x" + bytes(f["proofHash"]).hex()
        if phase == Phase.ROLLED_BACK:
            # a quorum of hospitals reported its model file unavailable (or not opening its commitment): like an
            # aborted round, it leaves the global model as it was, and its model is not audited
            return ra
        proof_ref = (bytes(f["proofHash"]), str(f["proofCid"]))
        self._finalized(ra, info, prev_point, new_point, proof_ref)
        return ra

    def _event_vs_state(self, ra: RoundAudit, info: Any) -> None:
        """The events and the contract's state tell the same story."""
        state_subs = read_submissions(self.rm, ra.round_id)
        if int(info.submissionCount) != len(ra.submissions) or len(state_subs) != len(ra.submissions):
            self._fail(
                ra,
                "CIDs",
                "submissions",
                f"{int(info.submissionCount)} (getRound)",
                f"{len(ra.submissions)} UpdateSubmitted",
            )
        for s, st in zip(ra.submissions, state_subs, strict=False):
            state = (st.slot, st.hospital.lower(), commitment_hex(st.commitment), st.cid, st.sample_count)
            event = (s.slot, s.hospital.lower(), s.commitment, s.cid, s.sample_count)
            if state != event:
                ra.checks["weights"] = False
                ra.findings.append(
                    Finding(
                        round_id=ra.round_id,
                        check="weights",
                        item=f"submission {s.slot}",
                        expected=f"{state} (contract state)",
                        actual=f"{event} (event)",
                    )
                )

    def _finalized(
        self,
        ra: RoundAudit,
        info: Any,
        prev_point: Commitment,
        new_point: Commitment,
        proof_ref: tuple[bytes, str],
    ) -> None:
        assert ra.new_model_cid is not None
        for c in ("weights", "commitment", "model", "CIDs"):
            ra.checks[c] = ra.checks[c] if ra.checks[c] is False else True
        # the stored hash is the keccak of the event's points
        if commitment_hash(new_point) != bytes(info.newModelHash):
            self._fail(
                ra,
                "commitment",
                "new model hash",
                f"0x{bytes(info.newModelHash).hex()} (getRound().newModelHash)",
                f"0x{commitment_hash(new_point).hex()} (keccak of the RoundFinalized commitment)",
            )
        if len(new_point) != self.chunks:
            expected = f"{self.chunks} points (RoundManager.chunks())"
            self._fail(ra, "commitment", "new model commitment", expected, f"{len(new_point)} points")
        if ra.norm_bound_sq:
            self._norm_proofs(ra, prev_point)
        included = [s for s in ra.submissions if not s.excluded]
        if ra.rule == "median":
            count = self._median_proof(ra, prev_point, new_point)
            if bytes(info.proofHash) != proof_ref[0]:
                self._fail(
                    ra,
                    "median proof",
                    "proof hash",
                    f"0x{bytes(info.proofHash).hex()} (getRound().proofHash)",
                    f"0x{proof_ref[0].hex()} (RoundFinalized)",
                )
            if count is not None and count != len(included):
                self._fail(ra, "weights", "included slots", f"{len(included)} (submissions)", f"{count} (proof)")
        else:
            if proof_ref != (bytes(32), ""):
                self._fail(ra, "commitment", "RoundFinalized event", "no proof hash or CID (FedAvg)", str(proof_ref))
            self._fedavg(ra, new_point)
        samples = sum(s.sample_count for s in included)
        if (len(included), samples) != (ra.included_count, ra.total_samples):
            self._fail(
                ra,
                "weights",
                "included count / samples",
                f"{len(included)} / {samples} (from the submissions)",
                f"{ra.included_count} / {ra.total_samples} (RoundFinalized)",
            )
        if len(included) < int(info.quorum):
            self._fail(ra, "weights", "quorum", f"at least {int(info.quorum)} included updates", str(len(included)))
        self._model(ra, new_point)
        self._ciphertexts(ra)
        self._exclusions(ra)

    def _fedavg(self, ra: RoundAudit, new_point: Commitment) -> None:
        """FedAvg: the weights from the on-chain sample counts and exclusions, and the new model's commitment
        the contract derived from the submitted ones, re-derived here chunk by chunk:
        ``C(S_c) = K + sum_i w_i (C(u_ic) - K)``."""
        mask = sum(1 << s.slot for s in ra.submissions if s.excluded)
        try:
            assert ra.finalize_tx is not None
            _tx, method, args = self._decode(ra.finalize_tx)
            if not method.startswith("finalizeRound"):
                raise ValueError(f"not a finalizeRound call: {method}")
            called = (int(args[0]), str(args[1]), int(args[2]))
            if called != (ra.round_id, ra.new_model_cid, mask):
                expected = f"round, model CID, excluded mask {(ra.round_id, ra.new_model_cid, mask)} (events)"
                self._fail(ra, "weights", "finalize calldata", expected, str(called))
        except Exception as exc:
            self._fail(
                ra, "weights", "finalize calldata", f"a finalizeRound call in {ra.finalize_tx}", describe_error(exc)
            )
        counts = [0] * self.slots
        for s in ra.submissions:
            if not s.excluded and s.slot < self.slots:
                counts[s.slot] = s.sample_count
        try:
            weights = normalized_weights(counts, self.scale_bits)
        except RoundError as exc:
            self._fail(ra, "weights", "weights", "weights of the included slots", str(exc))
            ra.checks["commitment"] = False
            return
        on_chain = tuple(int(w) for w in self.rm.expectedWeights(ra.round_id, mask))
        if on_chain != weights:
            expected = f"{weights} (normalized_weights of sample counts {counts})"
            self._fail(ra, "weights", "weights", expected, f"{on_chain} (RoundManager.expectedWeights)")
        try:
            chosen = [(parse_commitment_hex(s.commitment), weights[s.slot]) for s in ra.submissions if weights[s.slot]]
            if any(len(points) != self.chunks for points, _ in chosen):
                raise KzgError(f"a submitted commitment does not have {self.chunks} points (RoundManager.chunks())")
            derived = tuple(
                combine([G1Point(*points[c]) for points, _ in chosen], [w for _, w in chosen], self.zero).as_uint256()
                for c in range(self.chunks)
            )
        except (KzgError, ChainError, ValueError) as exc:
            self._fail(
                ra, "commitment", "new model commitment", "the combination of the submitted commitments", str(exc)
            )
            return
        if derived != new_point:
            wrong = [c for c, (a, b) in enumerate(zip(derived, new_point, strict=False)) if a != b]
            where = f" (chunk{'s' if len(wrong) > 1 else ''} {', '.join(map(str, wrong[:8]))})" if self.chunked else ""
            self._fail(
                ra,
                "commitment",
                "new model commitment",
                f"{short_commitment(commitment_hex(derived))} (re-derived: K + sum_i w_i (C(u_i) - K){where})",
                f"{short_commitment(commitment_hex(new_point))} (RoundFinalized)",
            )

    def _model(self, ra: RoundAudit, point: Commitment) -> None:
        """The new model file resolves, has the consortium's shape and layout and opens the round's commitment
        (one ezkl commitment per chunk)."""
        assert ra.new_model_cid is not None
        try:
            model = self.model_file(ra.new_model_cid)
        except (StorageError, ModelFileError) as exc:
            self._fail(ra, "model", "model file", f"the global model under {ra.new_model_cid}", describe_error(exc))
            return
        if self.basis is None or self.layout is None:
            missing = "no verified basis" if self.basis is None else "no verified chunk layout"
            self._fail(ra, "model", "model file", "a check against the commitment", f"not possible: {missing}")
        elif not opens(model.values, point, self.basis, self.layout):
            self._fail(
                ra,
                "model",
                "model file",
                f"content opening the commitment {short_commitment(ra.new_model_commitment or '0x')}",
                "values that do not open it",
            )

    def _ciphertexts(self, ra: RoundAudit) -> None:
        for sub in ra.submissions:
            try:
                self.storage.get(sub.cid)
            except StorageError as exc:
                finding = Finding(
                    round_id=ra.round_id,
                    check="CIDs",
                    item=f"submission {sub.slot} ciphertext",
                    expected=f"content under {sub.cid}",
                    actual=describe_error(exc) + (" (the update was excluded)" if sub.excluded else ""),
                    severity="warning" if sub.excluded else "error",
                )
                ra.findings.append(finding)
                if not sub.excluded:
                    ra.checks["CIDs"] = False

    def _lineage(self, ra: RoundAudit, current: tuple[int, Commitment, str]) -> None:
        """The round starts from the latest finalized round's model (the genesis model before any)."""
        start = (ra.prev_model_round, ra.prev_model_commitment, ra.prev_model_cid)
        expected = (current[0], commitment_hex(current[1]), current[2])
        if start != expected:
            model, found = short_commitment(expected[1]), short_commitment(start[1])
            self._fail(
                ra,
                "lineage",
                "lineage",
                f"starts from round {expected[0]}'s model {model} / {expected[2]} (the latest finalized)",
                f"round {start[0]}'s {found} / {start[2]}",
            )
