"""Per-round checks: events against state, the proof (via :class:`ProofChecks`), the new model file,
the ciphertexts' CIDs, and the lineage of global models from genesis to the contract's current one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_utils import keccak

from zkfl_dapp.audit.context import describe_error
from zkfl_dapp.audit.events import _args, _logs
from zkfl_dapp.audit.proof_checks import ProofChecks
from zkfl_dapp.audit.report import CHECKS, AuditReport, Finding, RoundAudit, SubmissionRecord, _hex
from zkfl_dapp.chain.enums import Phase, Rule
from zkfl_dapp.circuits.layouts import AggregationLayout
from zkfl_dapp.core.commitments import model_commitment
from zkfl_dapp.core.fixedpoint import from_field
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.exceptions import (
    ModelFileError,
    QuantizationError,
    StorageError,
)


class RoundChecks(ProofChecks):
    """Every round from the first block to the head."""

    def rounds(self, report: AuditReport, head: int) -> None:
        opened = {int(_args(log)["roundId"]): log for log in _logs(self.rm.RoundOpened, head)}
        finalized = {int(_args(log)["roundId"]): log for log in _logs(self.rm.RoundFinalized, head)}
        aborted = {int(_args(log)["roundId"]): log for log in _logs(self.rm.RoundAborted, head)}
        submitted: dict[int, list[Any]] = {}
        for log in _logs(self.rm.UpdateSubmitted, head):
            submitted.setdefault(int(_args(log)["roundId"]), []).append(log)
        excluded: dict[int, set[int]] = {}
        for log in _logs(self.rm.UpdateExcluded, head):
            excluded.setdefault(int(_args(log)["roundId"]), set()).add(int(_args(log)["slot"]))

        lineage: tuple[int, str] | None = None  # the current model as the events tell it
        for round_id in sorted(opened):
            self.progress(f"round {round_id}: auditing")
            ra = self._round(
                round_id, opened[round_id], finalized.get(round_id), aborted.get(round_id), submitted, excluded
            )
            if lineage is None:
                self._genesis(ra)
            else:
                self._lineage(ra, lineage)
            if ra.phase == "finalized" and ra.new_model_commitment is not None and ra.new_model_cid is not None:
                lineage = (int(ra.new_model_commitment, 16), ra.new_model_cid)
            elif lineage is None:
                lineage = (int(ra.prev_model_commitment, 16), ra.prev_model_cid)
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
        if lineage is not None:
            commitment, cid = self.rm.currentModel()
            if (int(commitment), str(cid)) != lineage:
                last = report.rounds[-1]
                last.findings.append(
                    Finding(
                        round_id=last.round_id,
                        check="lineage",
                        item="current model",
                        expected=f"{_hex(lineage[0])} / {lineage[1]} (the last finalized round's)",
                        actual=f"{_hex(int(commitment))} / {cid} (RoundManager.currentModel())",
                    )
                )
                last.checks["lineage"] = False

    def _round(
        self,
        round_id: int,
        opened: Any,
        fin_log: Any | None,
        abort_log: Any | None,
        submitted: dict[int, list[Any]],
        excluded: dict[int, set[int]],
    ) -> RoundAudit:
        o = _args(opened)
        info = self.rm.getRound(round_id)
        phase = Phase(int(info.phase))
        name = {
            Phase.OPEN: "open",
            Phase.FINALIZED: "finalized",
            Phase.ABORTED: "aborted",
            Phase.ROLLED_BACK: "rolled back",
        }.get(phase, "open")
        ex = excluded.get(round_id, set())
        subs = [
            SubmissionRecord(
                slot=int(_args(log)["slot"]),
                hospital=str(_args(log)["hospital"]),
                commitment=_hex(int(_args(log)["commitment"])),
                cid=str(_args(log)["cid"]),
                sample_count=int(_args(log)["sampleCount"]),
                excluded=int(_args(log)["slot"]) in ex,
            )
            for log in submitted.get(round_id, [])
        ]
        ra = RoundAudit(
            round_id=round_id,
            phase=name,
            opened_block=int(opened.block_number),
            prev_model_commitment=_hex(int(o["prevModelCommitment"])),
            prev_model_cid=str(o["prevModelCid"]),
            submissions=subs,
            checks=dict.fromkeys(CHECKS),
        )
        ra.checks["lineage"] = True
        self._event_vs_state(ra, info, subs)
        if phase == Phase.ABORTED and abort_log is not None:
            ra.closed_block = int(abort_log.block_number)
        if phase == Phase.ROLLED_BACK:
            # a quorum of hospitals reported its model file unavailable: like an aborted round, it leaves the
            # global model as it was, and its (unavailable) model is not audited
            return ra
        if phase == Phase.FINALIZED:
            if fin_log is None:
                self._fail(ra, "lineage", "RoundFinalized event", "an event for a finalized round", "none")
                return ra
            f = _args(fin_log)
            ra.closed_block = int(fin_log.block_number)
            ra.finalize_tx = str(fin_log.transaction_hash)
            ra.new_model_commitment = _hex(int(f["newModelCommitment"]))
            ra.new_model_cid = str(f["newModelCid"])
            ra.proof_cid = str(f["proofCid"])
            ra.proof_hash = "0x" + bytes(f["proofHash"]).hex()
            ra.included_count = int(f["includedCount"])
            ra.total_samples = int(f["totalSamples"])
            self._finalized(ra, info)
        return ra

    def _event_vs_state(self, ra: RoundAudit, info: Any, subs: Sequence[SubmissionRecord]) -> None:
        """The events and the contract's state tell the same story."""
        if int(info.submissionCount) != len(subs):
            self._fail(
                ra, "CIDs", "submissions", f"{int(info.submissionCount)} (getRound)", f"{len(subs)} UpdateSubmitted"
            )
        for s in subs:
            st = self.rm.getSubmission(ra.round_id, s.slot)
            state = (str(st.hospital).lower(), _hex(int(st.commitment)), str(st.cid), int(st.sampleCount))
            event = (s.hospital.lower(), s.commitment, s.cid, s.sample_count)
            if state != event:
                self._fail(ra, "instances", f"submission {s.slot}", f"{state} (contract state)", f"{event} (event)")

    def _finalized(self, ra: RoundAudit, info: Any) -> None:
        assert ra.new_model_cid is not None and ra.proof_cid is not None and ra.finalize_tx is not None
        state = (
            _hex(int(info.newModelCommitment)),
            str(info.newModelCid),
            "0x" + bytes(info.proofHash).hex(),
            str(info.proofCid),
        )
        event = (ra.new_model_commitment, ra.new_model_cid, ra.proof_hash, ra.proof_cid)
        if state != event:
            self._fail(ra, "lineage", "RoundFinalized event", f"{state} (getRound)", f"{event} (event)")
        for c in CHECKS[:-1]:
            ra.checks[c] = True

        # what the chain accepted: the finalization's calldata
        calldata = self._calldata(ra)
        # what is published: the proof file
        proof, proof_path = self._proof_file(ra)

        instances: tuple[int, ...] | None = None
        if calldata is not None:
            instances = calldata[1]
            if proof is not None:
                if proof.proof != calldata[0]:
                    self._fail(
                        ra,
                        "proof (on-chain)",
                        "proof bytes",
                        "the proof in the finalization calldata",
                        f"different bytes in the proof file {ra.proof_cid}",
                    )
                if proof.instances != instances:
                    bad = [i for i, (a, b) in enumerate(zip(proof.instances, instances, strict=False)) if a != b]
                    self._fail(
                        ra,
                        "instances",
                        "proof file instances",
                        "the instances in the finalization calldata",
                        f"differences at {bad or 'length'}",
                    )
        elif proof is not None:
            instances = proof.instances

        on_chain_proof = calldata[0] if calldata is not None else (proof.proof if proof is not None else None)
        if on_chain_proof is not None:
            digest = "0x" + keccak(on_chain_proof).hex()
            if digest != ra.proof_hash:
                self._fail(ra, "proof (on-chain)", "proof hash", f"{ra.proof_hash} (proofHash)", digest)
        if proof is not None and "0x" + keccak(proof.proof).hex() != ra.proof_hash:
            self._fail(
                ra,
                "proof (on-chain)",
                "proof file hash",
                f"{ra.proof_hash} (proofHash)",
                "0x" + keccak(proof.proof).hex(),
            )

        median = Rule(int(info.rule)) == Rule.MEDIAN
        artifacts = self.median_artifacts if median else self.artifacts
        # off-chain verification with the published artifacts (of the round rule's circuit)
        if proof_path is None:
            ra.checks["proof (off-chain)"] = False
        elif artifacts is None:
            self._fail(
                ra,
                "proof (off-chain)",
                "proof (off-chain)",
                "verification with the published settings, vk and SRS",
                "not possible: the circuit manifest's artifacts did not check out (see deployment findings)",
            )
        else:
            ok, why = self._verify_offchain(proof_path, artifacts)
            if not ok:
                self._fail(ra, "proof (off-chain)", "proof (off-chain)", "ezkl.verify accepts the proof", why)

        # on-chain verification: the verifier contract, on what the chain accepted (else on the file)
        if on_chain_proof is None or instances is None:
            ra.checks["proof (on-chain)"] = False
        else:
            verifier = self.median_verifier if median else self.verifier
            ok, why = self._verify_onchain(verifier, on_chain_proof, instances)
            if not ok:
                self._fail(ra, "proof (on-chain)", "verifyProof", "the verifier contract returns true", why)

        # instances bound to the round
        if instances is None:
            ra.checks["instances"] = False
            ra.checks["model"] = False
        else:
            if median:
                self._median_instances(ra, instances)
            else:
                self._instances(ra, instances)
            self._model(ra, instances)
        self._ciphertexts(ra)

    def _model(self, ra: RoundAudit, instances: Sequence[int]) -> None:
        assert ra.new_model_cid is not None and ra.new_model_commitment is not None
        d = self.model_size
        proven = instances[AggregationLayout(self.slots, d).model]  # the median layout's model sits there too
        on_chain = int(ra.new_model_commitment, 16)
        if len(proven) == d and model_commitment(proven) != on_chain:
            self._fail(
                ra,
                "model",
                "model commitment",
                f"{ra.new_model_commitment} (newModelCommitment)",
                f"{_hex(model_commitment(proven))} (keccak over the proven model instances)",
            )
        try:
            model = ModelFile.parse(self.storage.get(ra.new_model_cid), expected_size=d)
        except (StorageError, ModelFileError) as exc:
            self._fail(ra, "model", "model file", f"the global model under {ra.new_model_cid}", describe_error(exc))
            return
        if model.keccak_commitment() != on_chain:
            self._fail(
                ra,
                "model",
                "model file",
                f"content with commitment {ra.new_model_commitment}",
                f"content with commitment {_hex(model.keccak_commitment())}",
            )
        try:
            proven_values = tuple(from_field(v) for v in proven)
        except QuantizationError as exc:
            self._fail(ra, "model", "model instances", "field elements", str(exc))
            return
        if len(proven) == d and model.values != proven_values:
            self._fail(ra, "model", "model file values", "the proven model instances", "different values")
        if model.scale_bits != self.scale_bits:
            self._fail(ra, "model", "model file scale", f"2^{self.scale_bits}", f"2^{model.scale_bits}")

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

    def _genesis(self, ra: RoundAudit) -> None:
        """The first round starts from the genesis model: it must resolve and match its commitment."""
        self._check_model_file(ra, ra.prev_model_cid, int(ra.prev_model_commitment, 16), "genesis model file")

    def _check_model_file(self, ra: RoundAudit, cid: str, commitment: int, item: str) -> None:
        try:
            model = ModelFile.parse(
                self.storage.get(cid), expected_size=self.model_size, scale_bits=self.scale_bits
            )
        except (StorageError, ModelFileError) as exc:
            self._fail(ra, "lineage", item, f"a model file under {cid}", describe_error(exc))
            return
        if model.keccak_commitment() != commitment:
            actual = f"content with commitment {_hex(model.keccak_commitment())}"
            self._fail(ra, "lineage", item, f"commitment {_hex(commitment)}", actual)

    def _lineage(self, ra: RoundAudit, current: tuple[int, str]) -> None:
        start = (int(ra.prev_model_commitment, 16), ra.prev_model_cid)
        if start != current:
            self._fail(
                ra,
                "lineage",
                "lineage",
                f"starts from {_hex(current[0])} / {current[1]} (the previous finalized round's model)",
                f"{ra.prev_model_commitment} / {ra.prev_model_cid}",
            )
