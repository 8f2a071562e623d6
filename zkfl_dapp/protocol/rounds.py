"""The round driver: open a round, let every participating hospital submit, let the enclave finalize,
report the round (beside a plain float FedAvg baseline on the same participants) and publish the report."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from ape.exceptions import ContractLogicError

from zkfl_dapp.attestation.policy import policy_from_settings
from zkfl_dapp.chain.enums import Phase, Rule
from zkfl_dapp.chain.views import commitment_hex, read_round, read_submissions
from zkfl_dapp.core.fixedpoint import dequantize
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.core.norms import bound_from_quantized, bound_sq_quantized
from zkfl_dapp.core.policy import NormBoundPolicy, NormStatistic
from zkfl_dapp.exceptions import (
    CommitmentMismatchError,
    ConfigError,
    ExclusionWindowOpen,
    ModelFileError,
    NormBoundError,
    QuantizationError,
    RoundError,
    StorageError,
)
from zkfl_dapp.ml.model import accuracy
from zkfl_dapp.ml.training import fedavg_float, train_local
from zkfl_dapp.protocol.attested_key import fetch_attested_enclave_key
from zkfl_dapp.protocol.enclave import Finalization
from zkfl_dapp.protocol.hospital import HospitalClient, PreparedUpdate, fetch_global_model
from zkfl_dapp.protocol.privacy import check_budget, round_privacy
from zkfl_dapp.protocol.reports import RoundReport

if TYPE_CHECKING:
    from zkfl_dapp.chain.deployment import Deployment
    from zkfl_dapp.config import Settings
    from zkfl_dapp.ml.data import FederatedSplit
    from zkfl_dapp.ml.model import ModelSpec
    from zkfl_dapp.protocol.enclave import AggregatorEnclave
    from zkfl_dapp.protocol.roles import Roles
    from zkfl_dapp.storage.base import Storage


class RoundDriver:
    """One full round at a time, for a :class:`~zkfl_dapp.protocol.consortium.Consortium` (mixed in)."""

    # provided by the Consortium
    settings: Settings
    chain: Any
    deployment: Deployment
    storage: Storage
    roles: Roles
    enclave: AggregatorEnclave
    hospitals: list[HospitalClient]
    split: FederatedSplit
    spec: ModelSpec
    progress: Callable[[str], None]
    #: Makes the chain state durable (the embedded anvil's state file); a no-op where the node persists.
    checkpoint: Callable[[], None]
    policy: NormBoundPolicy
    _baseline: np.ndarray | None
    _last_bound: float | None
    _last_statistic: NormStatistic | None

    def next_norm_bound(self) -> float | None:
        """The L2 bound the next round gets under the configured policy (None: norm bounds are off)."""
        if self.settings.norm_bound == "off":
            return None
        return self.policy.next_bound(self._last_bound, self._last_statistic)

    def _wait_for_deadline(self, deadline: int) -> None:
        """Past the deadline: warp time on a local dev chain, wait for it elsewhere."""
        if self.chain.provider.network.is_local:
            self.chain.pending_timestamp = deadline + 1
            self.chain.mine()
            return
        while self.chain.blocks.head.timestamp <= deadline:
            self.progress(f"waiting for the deadline ({deadline - self.chain.blocks.head.timestamp} s)")
            time.sleep(min(30, max(1, deadline - self.chain.blocks.head.timestamp)))

    def _refuse_if_open(self) -> None:
        """A new round cannot open while the last one is still open: say which command finishes it."""
        current = int(self.deployment.round_manager.currentRoundId())
        if current and read_round(self.deployment.round_manager, current).phase == Phase.OPEN:
            raise RoundError(
                f"round {current} is still open (an earlier run stopped before it closed): "
                "`ape run round --resume` completes it, `ape run round --abort` aborts it after its deadline"
            )

    def _open_round(self, rule: str | None, norm_bound: float | None) -> int:
        """The admin opens a round with the given (or configured) rule and bound; returns its id."""
        rm = self.deployment.round_manager
        rule = rule or self.settings.rule
        if rule not in ("fedavg", "median"):
            raise ConfigError(f"unknown aggregation rule {rule!r}: use fedavg or median")
        self._refuse_if_open()
        check_budget(self.settings, [h.name for h in self.hospitals])
        bound = norm_bound if norm_bound is not None else self.next_norm_bound()
        bound_sq = bound_sq_quantized(bound, self.settings.scale_bits) if bound is not None else 0
        deadline = self.chain.pending_timestamp + self.settings.round_seconds
        rule_id = Rule.MEDIAN if rule == "median" else Rule.FEDAVG
        rm.openRoundWithPolicy(deadline, self.settings.quorum, int(rule_id), bound_sq, sender=self.roles.admin)
        round_id = int(rm.currentRoundId())
        self.checkpoint()
        bound_text = f"norm bound {bound:.4g}" if bound_sq else "no norm bound"
        self.progress(
            f"round {round_id}: opened ({rule}, {bound_text}, quorum {self.settings.quorum}, deadline {deadline})"
        )
        return round_id

    def run_round(
        self, *, absent: frozenset[int] = frozenset(), rule: str | None = None, norm_bound: float | None = None
    ) -> RoundReport:
        """Run one full round; hospitals whose index is in ``absent`` sit it out.

        ``rule`` ("fedavg" or "median") and ``norm_bound`` (an L2 bound) default to the settings' rule and
        the bound policy (:meth:`next_norm_bound`).

        Raises:
            RoundError: the previous round is still open (see :meth:`resume_round`, :meth:`abort_open_round`).
        """
        started = time.perf_counter()
        self.recover_unavailable_model()
        round_id = self._open_round(rule, norm_bound)
        return self._complete_round(round_id, absent, started)

    def recover_unavailable_model(self) -> bool:
        """Before a round opens, check that the current global model can be fetched and matches its commitment.
        If the latest finalized round's model cannot, every hospital that sees so reports it on-chain, and a
        quorum of reports rolls that round back: the previous model is current again and the consortium goes
        on (no single party, not even the enclave, can stall it with a missing file). Returns whether a round
        was rolled back."""
        rm = self.deployment.round_manager
        latest = int(rm.currentModel()[1])  # reportable until a later round finalizes (an aborted one does not)
        if latest == 0:
            return False
        info = read_round(rm, latest)
        if info.phase != Phase.FINALIZED:
            return False
        try:
            suite = self.enclave.circuits
            fetch_global_model(self.storage, self.spec, info.new_model_commitment, info.new_model_cid, suite=suite)
            return False
        except (StorageError, CommitmentMismatchError, ModelFileError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        self.progress(f"round {latest}: its model {info.new_model_cid} is unusable ({problem}): hospitals report it")
        for h in self.hospitals:
            h.report_unavailable_model(rm, latest)
            self.checkpoint()
            if read_round(rm, latest).phase == Phase.ROLLED_BACK:
                self.progress(f"round {latest}: rolled back by a quorum of reports; the previous model is current")
                return True
        raise RoundError(f"round {latest}: its model is unusable but the reports did not reach a majority")

    def open_round_id(self) -> int:
        """The id of the round that is open now.

        Raises:
            RoundError: no round is open.
        """
        rm = self.deployment.round_manager
        current = int(rm.currentRoundId())
        if current == 0:
            raise RoundError("no round has been opened yet: nothing to resume or abort")
        phase = read_round(rm, current).phase
        if phase != Phase.OPEN:
            raise RoundError(f"round {current} is already {phase.name.lower()}: nothing to resume or abort")
        return current

    def resume_round(self, *, absent: frozenset[int] = frozenset()) -> RoundReport:
        """Complete the open round from chain state: hospitals that have not submitted yet submit, then the
        enclave finalizes. Idempotent: submissions already on-chain are kept, never sent twice."""
        started = time.perf_counter()
        round_id = self.open_round_id()
        self.progress(f"round {round_id}: resuming from chain state")
        return self._complete_round(round_id, absent, started)

    def abort_open_round(self) -> int:
        """Abort the open round once its deadline has passed (warped to on a local chain); returns its id.
        The global model stays what it was; the next round starts from it."""
        rm = self.deployment.round_manager
        round_id = self.open_round_id()
        info = read_round(rm, round_id)
        # a round that met its quorum is the aggregator's until its finalize deadline: nobody may abort it before
        met = info.submission_count >= info.quorum
        self._wait_for_deadline(int(rm.finalizeDeadline(round_id)) if met else info.deadline)
        rm.abortRound(round_id, sender=self.roles.admin)
        self.checkpoint()
        self.progress(f"round {round_id}: aborted; the global model is unchanged")
        return round_id

    def _complete_round(self, round_id: int, absent: frozenset[int], started: float) -> RoundReport:
        """Submissions of the hospitals that have not submitted yet, then finalization and the report."""
        rm = self.deployment.round_manager
        info = read_round(rm, round_id)
        bound_sq = info.norm_bound_sq
        global_model = fetch_global_model(
            self.storage, self.spec, info.prev_model_commitment, info.prev_model_cid, suite=self.enclave.circuits
        )
        enclave_key, check = fetch_attested_enclave_key(
            self.storage,
            self.deployment.registry,
            int(self.chain.chain_id),
            policy_from_settings(self.settings, local=bool(self.chain.provider.network.is_local)),
        )
        self.progress(f"round {round_id}: enclave key {check.summary}")
        on_chain = {s.hospital.lower() for s in read_submissions(rm, round_id)}
        participants = [h for i, h in enumerate(self.hospitals) if i not in absent]
        updates: list[PreparedUpdate] = []
        refused: list[dict[str, str]] = []
        submit_gas: list[int] = []
        for h in participants:
            if h.address.lower() in on_chain:
                self.progress(f"round {round_id}: {h.name} already submitted (on-chain): not sending again")
                continue
            try:
                update = h.prepare_update(round_id, global_model, enclave_key, norm_bound_sq=bound_sq)
            except (NormBoundError, QuantizationError) as exc:  # nothing leaves the hospital
                refused.append({"hospital": h.name, "reason": str(exc)})
                self.progress(f"round {round_id}: {h.name} NOT submitting: {exc}")
                continue
            try:
                receipts = h.submit_all(rm, update)
            except ContractLogicError as exc:  # an attacker's proof showing a violated bound, for one
                why = f"{type(exc).__name__}({exc})"  # ape names the class after the custom error
                refused.append({"hospital": h.name, "reason": f"rejected on-chain: {why}"})
                self.progress(f"round {round_id}: {h.name}'s submission REVERTED: {why}")
                continue
            submit_gas.append(sum(int(r.gas_used) for r in receipts))
            self.checkpoint()  # "submitted" is printed only once the chain state holding it is durable
            updates.append(update)
            self.progress(f"round {round_id}: {h.name} submitted {update.cid[:16]}... ({update.sample_count} samples)")
        if read_round(rm, round_id).submission_count < info.members:  # not every member at opening submitted
            self._wait_for_deadline(info.deadline)

        rule = "median" if info.rule == Rule.MEDIAN else "fedavg"
        self.progress(f"round {round_id}: enclave decrypting, checking and proving ({rule})")
        try:
            final = self.enclave.finalize(rm, round_id)
        except ExclusionWindowOpen as pending:  # a ciphertext declared unavailable: its hospital's window first
            self._wait_for_deadline(pending.window_end)
            final = self.enclave.finalize(rm, round_id)
        self.checkpoint()
        for o in final.outcomes:
            if not o.included:
                self.progress(f"round {round_id}: EXCLUDED slot {o.slot} ({o.hospital}): {o.reason}")
        used_bound = bound_from_quantized(bound_sq, self.settings.scale_bits) if bound_sq else None
        statistic = final.norm_statistic
        if used_bound is not None:
            self._last_bound, self._last_statistic = used_bound, statistic
        refused_names = {r["hospital"] for r in refused}
        report = self._report(round_id, final, global_model, participants, updates, started)
        report = dataclasses.replace(
            report,
            participants=[h.name for h in participants if h.name not in refused_names],
            rule=final.rule,
            norm_bound=used_bound,
            norm_within_noised=statistic.noised_within if statistic else None,
            norm_included=statistic.included if statistic else None,
            norm_refused=refused,
            norm_prove_seconds=sum(u.prove_seconds for u in updates),
            submit_gas_mean=sum(submit_gas) / len(submit_gas) if submit_gas else 0.0,
        )
        names = {h.address.lower(): h.name for h in self.hospitals}
        counts = {names.get(o.hospital.lower(), o.hospital): o.sample_count for o in final.outcomes if o.included}
        privacy = round_privacy(
            self.settings, round_id, counts=counts, rule=final.rule, bounded=bool(bound_sq),
            statistic_published=statistic is not None,
        )  # fmt: skip
        report = dataclasses.replace(report, privacy=privacy)
        self._publish_report(report)
        self.checkpoint()
        return report

    def _report(
        self,
        round_id: int,
        final: Finalization,
        start: ModelFile,
        participants: list[HospitalClient],
        updates: list[PreparedUpdate],
        started: float,
    ) -> RoundReport:
        # Baseline: plain float FedAvg over the same participants, continuing its own trajectory from the
        # first round this process runs (which starts from that round's global model: the genesis model's
        # initial parameters for a new consortium).
        s = start.scale_bits
        plain_started = time.perf_counter()
        base_start = self._baseline if self._baseline is not None else dequantize(start.training_values(), s)
        base_locals = [
            train_local(self.spec, base_start, h.shard, h.train_config, round_id=round_id) for h in participants
        ]
        self._baseline = fedavg_float(base_locals, [h.shard.num_samples for h in participants])
        # the same hospitals' training and a float average, one after another as in this runner: a plain
        # FedAvg round's cost, measured in the same run (the bench's denominator)
        plain_seconds = time.perf_counter() - plain_started
        proven = dequantize(final.model.training_values(), s)
        report = RoundReport(
            round_id=round_id,
            participants=[h.name for h in participants],
            excluded=[{"hospital": o.hospital, "reason": o.reason or ""} for o in final.outcomes if not o.included],
            accuracy=accuracy(self.spec, proven, self.split.test),
            baseline_accuracy=accuracy(self.spec, self._baseline, self.split.test),
            train_seconds=sum(u.train_seconds for u in updates),
            commit_seconds=sum(u.commit_seconds for u in updates),
            encrypt_seconds=sum(u.encrypt_seconds for u in updates),
            prove_seconds=final.prove_seconds,
            verify_seconds=final.verify_seconds,
            aggregate_seconds=final.aggregate_seconds,
            finalize_gas=final.gas_used,
            finalize_tx=final.tx_hash,
            model_cid=final.model_cid,
            model_commitment=commitment_hex(final.commitment),
            extras={
                "plain_fedavg_seconds": plain_seconds,
                "aggregate_check_seconds": final.check_seconds,
                "finalize_tx_seconds": final.finalize_seconds,
                "chunks": len(final.commitment),
                "norm_prove_wall_seconds": [u.prove_wall_seconds for u in updates],
                "chunk_prove_seconds": [p.prove_seconds for u in updates for p in u.chunk_proofs],
                "chunk_cpu_seconds": [p.cpu_seconds for u in updates for p in u.chunk_proofs],
            },
            proof_bytes=final.proof_bytes,
            proof_cid=final.proof_cid,
            wall_seconds=time.perf_counter() - started,
        )
        return report

    def _publish_report(self, report: RoundReport) -> None:
        """Write the report to the reports folder and publish it (held-out accuracy, timings, gas, the norm
        statistic) for the audit trail and the web UI."""
        self.settings.reports_dir.mkdir(parents=True, exist_ok=True)
        (self.settings.reports_dir / f"round-{report.round_id}.json").write_text(report.to_json())
        report_cid = str(self.storage.put(report.to_json().encode()))
        self.deployment.round_manager.publishRoundReport(report.round_id, report_cid, sender=self.roles.admin)
