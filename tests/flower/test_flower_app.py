"""The example Flower app (examples/flower-app) against a real consortium: anvil, the norm circuit, ML-KEM.

Runs in the Flower environment (.venv-flower; `make test` runs it after the main suite:
``.venv-flower/bin/python -m pytest tests/flower --confcutdir tests/flower``). The main environment (ape)
deploys a 3-hospital consortium and audits it afterwards; in between, Flower's simulation engine runs the
app for 2 rounds with 3 clients, through ZkflStrategy and zkfl_mod over web3.py.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

pytest.importorskip("flwr", reason="runs in the Flower environment (.venv-flower); `make test` runs it there")

from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict  # noqa: E402
from flwr.clientapp.typing import ClientAppCallable  # noqa: E402
from flwr.serverapp.strategy import FedAvg  # noqa: E402
from flwr.simulation import run_simulation  # noqa: E402
from flwr.supercore.task_identity import TaskIdentity  # noqa: E402

from zkfl_dapp.chain.enums import Phase  # noqa: E402
from zkfl_dapp.chain.views import read_round, read_submissions  # noqa: E402
from zkfl_dapp.config import Settings  # noqa: E402
from zkfl_dapp.exceptions import ChainError, ZkflError  # noqa: E402
from zkfl_flower.consortium import FlowerConsortium  # noqa: E402
from zkfl_flower.local import ape_run, local_chain  # noqa: E402
from zkfl_flower.mod import zkfl_mod  # noqa: E402
from zkfl_flower.records import RECEIPT_KEY, ROUND_KEY, flatten, model_values, unflatten  # noqa: E402
from zkfl_flower.strategy import ZkflStrategy  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "flower-app"
HOSPITALS, ROUNDS = 3, 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class FlowerRun:
    settings: Settings
    result: dict[str, np.ndarray]  # the ServerApp's final global model (Flower's Result.arrays)
    chain_model: np.ndarray  # the chain's current model, fetched by CID and checked against its commitment
    rounds: list[Any]
    submissions: list[list[Any]]
    shard_sizes: tuple[int, ...]
    revert: str  # what a non-admin's openRound reverted with
    refusals: dict[str, str]  # what the mod raised on each bad reply, with nothing submitted
    submitted: int  # round 3's submissions after the refusals and one honest update
    honest: Message  # the mod's reply to the honest update
    trained_from: np.ndarray  # what the mod handed the ClientApp (the server sent zeros)
    quorum_miss: tuple[Any, Any]  # the strategy's aggregate_train on round 3 (1 update, quorum 2)
    round_3: Any  # round 3 afterwards


class _Grid:
    """Just enough of a Flower Grid for FedAvg.configure_train: three connected nodes."""

    def get_node_ids(self) -> list[int]:
        return [1, 2, 3]


def _reply_with(arrays: ArrayRecord, examples: int, seen: list[np.ndarray]) -> ClientAppCallable:
    """A ClientApp that 'trained' ``arrays`` on ``examples`` samples (and records what it was given)."""

    def app(msg: Message, _context: Context) -> Message:
        seen.append(flatten(msg.content.array_records["arrays"]))
        content = RecordDict({"arrays": arrays, "metrics": MetricRecord({"num-examples": examples})})
        return Message(content, reply_to=msg)

    return app


def _mod_scenarios(consortium: FlowerConsortium) -> dict[str, Any]:
    """Round 3, opened by the strategy outside Flower's loop: the mod on bad replies (each refused, nothing
    submitted), one honest update, then the strategy's aggregate_train with the quorum missed."""
    from flower_app import task

    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 0, 1
    strategy = ZkflStrategy.on_dev_chain(FedAvg(min_train_nodes=3, min_available_nodes=3), consortium)
    template = ArrayRecord(task.Net().state_dict())  # the app's own model
    zeros = unflatten(np.zeros(len(flatten(template))), template)
    sent = next(iter(strategy.configure_train(3, zeros, ConfigRecord(), _Grid())))  # type: ignore[arg-type]
    round_id = int(cast(int, sent.content.config_records["config"][ROUND_KEY]))
    g = model_values(consortium.current_model())
    n = len(task.load_data(0, HOSPITALS)[0].dataset)  # the app's own loader
    node_config: dict[str, Any] = {"partition-id": 0, "num-partitions": HOSPITALS}
    context = Context(run_id=1, node_id=1, node_config=node_config, state=RecordDict(), run_config={})
    mod = zkfl_mod(task.hospital_for)
    seen: list[np.ndarray] = []

    def train_message(config: dict[str, Any]) -> Message:
        content = RecordDict({"arrays": zeros, "config": ConfigRecord(config)})
        return Message(content, dst_node_id=1, message_type="train")

    bigger = ArrayRecord({**dict(unflatten(g, template)), "extra": Array(np.zeros(1))})
    cases = {
        "no round": (train_message({}), unflatten(g, template), n),
        "sample count": (train_message({ROUND_KEY: round_id}), unflatten(g, template), n + 1),
        "model size": (train_message({ROUND_KEY: round_id}), bigger, n),
        "norm bound": (train_message({ROUND_KEY: round_id}), unflatten(g + 1.0, template), n),
    }
    refusals = {}
    for name, (msg, trained, examples) in cases.items():
        try:
            mod(msg, context, _reply_with(trained, examples, seen))
            refusals[name] = "accepted"
        except ZkflError as exc:
            refusals[name] = f"{type(exc).__name__}: {exc}"
    submitted_before = read_round(consortium.round_manager, round_id).submission_count
    honest = mod(train_message({ROUND_KEY: round_id}), context, _reply_with(unflatten(g + 0.01, template), n, seen))
    submitted = read_round(consortium.round_manager, round_id).submission_count
    assert submitted_before == 0
    quorum_miss = strategy.aggregate_train(3, [honest])
    return {
        "refusals": refusals,
        "submitted": submitted,
        "honest": honest,
        "trained_from": seen[-1],
        "quorum_miss": quorum_miss,
        "round_3": read_round(consortium.round_manager, round_id),
    }


@pytest.fixture(scope="module")
def flower_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowerRun]:
    settings = Settings(
        workdir=tmp_path_factory.mktemp("flower"), hospitals=HOSPITALS, quorum=2, anvil_port=_free_port()
    )
    deployed = ape_run(settings, "deploy")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    # Ray's workers import the example app and this checkout by path
    os.environ["PYTHONPATH"] = os.pathsep.join([str(EXAMPLE), str(ROOT), os.environ.get("PYTHONPATH", "")])
    sys.path[:0] = [str(EXAMPLE)]
    os.environ["FLWR_TELEMETRY_ENABLED"] = "0"
    from flower_app.client_app import app as client_app
    from flower_app.server_app import app as server_app

    with local_chain(settings) as rpc_url:
        run_simulation(
            server_app=server_app,
            client_app=client_app,
            num_supernodes=HOSPITALS,
            backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}, "init_args": {"num_cpus": 2}},
        )
        consortium = FlowerConsortium.connect(settings, rpc_url)
        rm = consortium.round_manager
        rounds = [read_round(rm, r) for r in range(1, int(rm.currentRoundId()) + 1)]
        submissions = [read_submissions(rm, r.round_id) for r in rounds]
        try:
            rm.openRoundWithPolicy(0, 2, 0, 0, sender=consortium.dev_account(9))
            revert = ""
        except ChainError as exc:
            revert = str(exc)
        chain_model = model_values(consortium.current_model())
        from flower_app import task

        shard_sizes = tuple(len(task.load_data(i, HOSPITALS)[0].dataset) for i in range(HOSPITALS))
        scenarios = _mod_scenarios(consortium)
    with np.load(settings.workdir / "flower" / "global-model.npz") as saved:
        result = {k: saved[k] for k in saved.files}
    yield FlowerRun(settings, result, chain_model, rounds, submissions, shard_sizes, revert, **scenarios)


def test_every_round_is_finalized_on_chain_from_the_clients_submissions(flower_run: FlowerRun) -> None:
    assert [r.phase for r in flower_run.rounds] == [Phase.FINALIZED] * ROUNDS
    assert all(r.bounded for r in flower_run.rounds)  # every submission carried a norm proof the chain verified
    for subs in flower_run.submissions:
        # each declares its shard's size, coarsened to a multiple of 10 (zkfl_dapp.core.privacy)
        assert sorted(s.sample_count for s in subs) == sorted(n // 10 * 10 for n in flower_run.shard_sizes)
    # each round starts from the model the previous one finalized
    assert flower_run.rounds[1].prev_model_commitment == flower_run.rounds[0].new_model_commitment


def test_the_global_model_after_the_run_is_the_one_finalized_on_chain(flower_run: FlowerRun) -> None:
    assert list(flower_run.result) == ["fc.weight", "fc.bias"]  # in the app's own model's keys and shapes
    flat = np.concatenate([a.ravel() for a in flower_run.result.values()])
    assert flat.dtype == np.float64
    assert np.array_equal(flat, flower_run.chain_model)


def test_a_revert_names_the_contracts_custom_error(flower_run: FlowerRun) -> None:
    assert "RoundManagerNotAdmin" in flower_run.revert


def test_the_audit_passes_on_the_flower_rounds(flower_run: FlowerRun) -> None:
    audited = ape_run(flower_run.settings, "audit", "--json", str(flower_run.settings.workdir / "audit.json"))
    assert audited.returncode == 0, audited.stdout + audited.stderr
    report = json.loads((flower_run.settings.workdir / "audit.json").read_text())
    phases = [(r["round_id"], r["phase"]) for r in report["rounds"]]
    assert phases == [(1, "finalized"), (2, "finalized"), (3, "aborted")]
    assert report["passed"]


@pytest.mark.parametrize(
    ("case", "refused_with"),
    [
        ("no round", "RoundError: the train message carries no 'zkfl-round-id'"),
        ("sample count", "DataError: the ClientApp reports"),
        ("model size", "DataError: the ClientApp trained 32 parameters"),
        ("norm bound", "NormBoundError: hospital-0: update is"),
    ],
)
def test_the_mod_refuses_a_bad_update_and_submits_nothing(flower_run: FlowerRun, case: str, refused_with: str) -> None:
    assert flower_run.refusals[case].startswith(refused_with), flower_run.refusals[case]


def test_the_mod_trains_from_the_chain_model_and_keeps_the_update_off_the_reply(flower_run: FlowerRun) -> None:
    assert np.array_equal(flower_run.trained_from, flower_run.chain_model)  # not the zeros the server sent
    assert flower_run.submitted == 1
    content = flower_run.honest.content
    assert "arrays" not in content  # the plaintext update never reaches the server
    assert content.config_records[RECEIPT_KEY]["round-id"] == 3


def test_a_round_that_misses_its_quorum_is_aborted_and_the_model_stays(flower_run: FlowerRun) -> None:
    assert flower_run.quorum_miss == (None, None)
    assert flower_run.round_3.phase == Phase.ABORTED
