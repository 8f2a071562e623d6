"""The strategy wrapper: Flower's FedAvg (or FedMedian) with every aggregate made and finalized on-chain.

:class:`ZkflStrategy` keeps the wrapped strategy's sampling, configuration, metric aggregation and
evaluation, and replaces its aggregation of parameters by the zkFL round, exactly as the native parties
run it:

* ``configure_train`` opens the round on-chain (the admin's key; the bound policy of the settings), and sends
  the clients the chain's current model (fetched by CID, checked to open its commitment) and the round id;
* the clients' mod (:func:`~zkfl_flower.mod.zkfl_mod`) commits, proves the norm bound, seals and submits;
* ``aggregate_train`` ignores the parameters in Flower's messages (the mod strips them anyway): it waits for
  every member's submission or the deadline, then zkfl_dapp's own enclave
  (:meth:`~zkfl_dapp.protocol.enclave.AggregatorEnclave.finalize`) reads the submissions (commitments, sample
  counts) from the chain, opens the sealed updates, excludes any that fail a check, aggregates with the
  on-chain weights, publishes the model file and finalizes; RoundManager derives the new commitment itself.
  The next global model is the finalized one read back from chain and store, never Flower's own average.

A round that misses its quorum is aborted on-chain after its deadline and the global model stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from eth_account.signers.local import LocalAccount
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord
from flwr.common.logger import log
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg, FedMedian, Result, Strategy

from zkfl_dapp.chain.enums import Phase, Rule
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.core.norms import bound_from_quantized, bound_sq_quantized
from zkfl_dapp.core.policy import NormStatistic
from zkfl_dapp.exceptions import ConfigError, RoundError
from zkfl_dapp.protocol.enclave import AggregatorEnclave, Finalization
from zkfl_dapp.protocol.wiring import bound_policy
from zkfl_flower.consortium import DEV_ADMIN, DEV_AGGREGATOR, FlowerConsortium
from zkfl_flower.records import NORM_BOUND_KEY, ROUND_KEY, model_record

INFO = 20


def _log(message: str) -> None:
    log(INFO, "zkFL: %s", message)


class ZkflStrategy(Strategy):
    """``ZkflStrategy(FedAvg(...), consortium, admin=..., enclave=...)``: see the module docstring.

    Args:
        inner: the Flower strategy whose sampling, configuration and metrics are kept: ``FedAvg`` (the
            on-chain FedAvg rule) or ``FedMedian`` (the proven median rule; needs the median circuit, which a
            5-hospital consortium has). Strategies with a server-side optimizer (FedAdam, ...) or another
            robust rule have no on-chain counterpart and are refused.
        consortium: the deployed consortium (:meth:`FlowerConsortium.connect`).
        admin: the consortium admin's account, which opens the rounds.
        enclave: the aggregator enclave (its account and ML-KEM key pair).
        progress: where the round's steps are reported (Flower's log by default).
    """

    def __init__(
        self,
        inner: FedAvg,
        consortium: FlowerConsortium,
        *,
        admin: LocalAccount,
        enclave: AggregatorEnclave,
        progress: Callable[[str], None] = _log,
    ) -> None:
        if type(inner) is FedMedian:
            if consortium.circuits.median is None:
                raise ConfigError(
                    "FedMedian needs the consortium's median circuit, which only a 5-hospital consortium has"
                )
            self.rule = Rule.MEDIAN
        elif type(inner) is FedAvg:
            self.rule = Rule.FEDAVG
        else:
            raise ConfigError(
                f"{type(inner).__name__} has no on-chain rule: zkFL finalizes FedAvg or the coordinate-wise median "
                "(wrap flwr's FedAvg or FedMedian)"
            )
        self.inner = inner
        self.consortium = consortium
        self.admin = admin
        self.enclave = enclave
        self.progress = progress
        s = consortium.settings
        self.policy = bound_policy(s)
        self.finalizations: dict[int, Finalization] = {}  # server round -> the enclave's finalization
        self._round_id = 0
        self._sent = ArrayRecord()  # the round's global model as sent: its keys and shapes
        self._last_bound: float | None = None
        self._last_statistic: NormStatistic | None = None

    @classmethod
    def on_dev_chain(cls, inner: FedAvg, consortium: FlowerConsortium) -> ZkflStrategy:
        """The strategy with the development roles of a local anvil deployment (``ape run deploy``): the test
        mnemonic's admin and aggregator accounts, the enclave key file under the development passphrase."""
        enclave = consortium.enclave(consortium.dev_account(DEV_AGGREGATOR), consortium.load_enclave_key())
        return cls(inner, consortium, admin=consortium.dev_account(DEV_ADMIN), enclave=enclave)

    # --- the Flower loop ------------------------------------------------------------------------

    def start(
        self,
        grid: Grid,
        initial_arrays: ArrayRecord,
        num_rounds: int = 3,
        timeout: float = 3600,
        train_config: ConfigRecord | None = None,
        evaluate_config: ConfigRecord | None = None,
        evaluate_fn: Callable[[int, ArrayRecord], MetricRecord | None] | None = None,
    ) -> Result:
        """Flower's loop, starting from the chain's current model (``initial_arrays`` gives only the keys and
        shapes: the consortium's genesis or latest finalized model is what the federation continues)."""
        start = model_record(self.consortium.current_model(), initial_arrays)
        return super().start(grid, start, num_rounds, timeout, train_config, evaluate_config, evaluate_fn)

    def summary(self) -> None:
        _log(f"{self.rule.name} finalized on-chain at RoundManager {self.consortium.round_manager.address}")
        self.inner.summary()

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Open the on-chain round and send its global model (from the chain and the store) to the clients."""
        self._round_id, bound = self._open_round()
        info = read_round(self.consortium.round_manager, self._round_id)
        model = self.consortium.model_of(info.prev_model_commitment, info.prev_model_cid)
        config[ROUND_KEY] = self._round_id
        config[NORM_BOUND_KEY] = float(bound or 0.0)
        self._sent = model_record(model, arrays)
        return self.inner.configure_train(server_round, self._sent, config, grid)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Finalize the on-chain round from the chain's submissions; the new global model is the finalized one."""
        replies = list(replies)
        valid = [m for m in replies if not m.has_error()]
        for m in replies:
            if m.has_error():
                self.progress(f"round {self._round_id}: node {m.metadata.src_node_id} did not submit: {m.error.reason}")
        rm, round_id = self.consortium.round_manager, self._round_id
        info = read_round(rm, round_id)
        if info.submission_count < info.members:  # not every member submitted: the deadline closes the round
            self.consortium.chain.wait_past(info.deadline, self.progress)
        try:
            final = self.enclave.finalize(rm, round_id)
        except RoundError as exc:  # no quorum: the round is aborted, the global model stays
            self.progress(f"round {round_id}: {exc}; aborting it on-chain")
            self.consortium.chain.wait_past(info.deadline, self.progress)
            rm.abortRound(round_id, sender=self.admin)
            return None, None
        self.finalizations[server_round] = final
        for o in final.outcomes:
            if not o.included:
                self.progress(f"round {round_id}: EXCLUDED slot {o.slot} ({o.hospital}): {o.reason}")
        if info.bounded and final.norm_statistic is not None:
            self._last_bound = bound_from_quantized(info.norm_bound_sq, self.consortium.settings.scale_bits)
            self._last_statistic = final.norm_statistic
        model = self.consortium.finalized_model(round_id)  # read back from chain and store
        self.progress(
            f"round {round_id}: finalized ({final.rule}, {sum(o.included for o in final.outcomes)} updates, "
            f"gas {final.gas_used:,}), model {final.model_cid}"
        )
        arrays = model_record(model, self._sent)
        metrics = (
            self.inner.train_metrics_aggr_fn([m.content for m in valid], self.inner.weighted_by_key)
            if valid
            else MetricRecord()
        )
        metrics["zkfl-round-id"] = round_id
        metrics["zkfl-finalize-gas"] = final.gas_used
        return arrays, metrics

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        return self.inner.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]) -> MetricRecord | None:
        return self.inner.aggregate_evaluate(server_round, replies)

    # --- the chain ------------------------------------------------------------------------------

    def _open_round(self) -> tuple[int, float | None]:
        """The admin opens the next round (the settings' quorum, window and bound policy); its id and bound."""
        s, rm = self.consortium.settings, self.consortium.round_manager
        current = int(rm.currentRoundId())
        if current and read_round(rm, current).phase == Phase.OPEN:
            raise RoundError(
                f"round {current} is still open (an earlier run stopped before it closed): "
                "`ape run round --resume` completes it, `ape run round --abort` aborts it after its deadline"
            )
        bound = None if s.norm_bound == "off" else self.policy.next_bound(self._last_bound, self._last_statistic)
        bound_sq = bound_sq_quantized(bound, s.scale_bits) if bound is not None else 0
        deadline = self.consortium.chain.timestamp() + s.round_seconds
        rm.openRoundWithPolicy(deadline, s.quorum, int(self.rule), bound_sq, sender=self.admin)
        round_id = int(rm.currentRoundId())
        self.progress(f"round {round_id}: opened ({self.rule.name}, bound {bound}, quorum {s.quorum})")
        return round_id, bound
