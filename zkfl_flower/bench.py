"""What zkFL adds to a Flower round: the example app's round under plain FedAvg and under ZkflStrategy +
zkfl_mod, on the same data, clients and machine, in one run (``make flower-bench``).

A fresh 3-hospital consortium is deployed (main environment, ``ape run deploy``) and served on a local anvil.
Flower's simulation engine then runs the example app twice: plain (``FedAvg``, a ``ClientApp`` without the mod)
and zkFL. A round's wall time runs from ``configure_train`` to the end of ``aggregate_train`` (the simulation
engine's start and the evaluation are not in it); the first round also pays the clients' imports, so the
later rounds are the steady state.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zkfl_dapp.config import REPO_ROOT, Settings
from zkfl_dapp.exceptions import ChainError

EXAMPLE = REPO_ROOT / "examples" / "flower-app"


def _timed(strategy: Any, seconds: dict[int, float]) -> Any:
    """Record each round's wall time (configure_train .. aggregate_train) of ``strategy`` into ``seconds``."""
    configure, aggregate = strategy.configure_train, strategy.aggregate_train
    started: dict[int, float] = {}

    def configure_train(server_round: int, *args: Any) -> Any:
        started[server_round] = time.perf_counter()
        return configure(server_round, *args)

    def aggregate_train(server_round: int, replies: Any) -> Any:
        out = aggregate(server_round, replies)
        seconds[server_round] = time.perf_counter() - started[server_round]
        return out

    strategy.configure_train, strategy.aggregate_train = configure_train, aggregate_train
    return strategy


def _server_app(make_strategy: Callable[[dict[str, Any]], Any], rounds: int, seconds: dict[int, float]) -> Any:
    from flwr.app import ArrayRecord, Context
    from flwr.serverapp import Grid, ServerApp

    from flower_app import task

    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        run_config = dict(context.run_config)
        strategy = _timed(make_strategy(run_config), seconds)
        initial = ArrayRecord(task.Net().state_dict())
        strategy.start(grid=grid, initial_arrays=initial, num_rounds=rounds)

    return app


def run(workdir: Path, hospitals: int, rounds: int, port: int) -> dict[str, Any]:
    """Deploy, then one plain and one zkFL Flower run of ``rounds`` rounds; each round's wall time."""
    sys.path[:0] = [str(EXAMPLE)]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(EXAMPLE), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    from flwr.clientapp import ClientApp
    from flwr.serverapp.strategy import FedAvg
    from flwr.simulation import run_simulation

    from flower_app import client_app, task
    from zkfl_flower.local import ape_run, local_chain
    from zkfl_flower.strategy import ZkflStrategy

    settings = Settings(workdir=workdir, hospitals=hospitals, quorum=min(2, hospitals), anvil_port=port)
    deployed = ape_run(settings, "deploy")
    if deployed.returncode != 0:
        raise ChainError(f"ape run deploy failed:\n{deployed.stdout}{deployed.stderr}")

    plain_client = ClientApp()  # the example's own train function, without the zkFL mod
    plain_client.train()(client_app.train)

    def fedavg() -> FedAvg:
        return FedAvg(fraction_evaluate=0.0, min_train_nodes=hospitals, min_available_nodes=hospitals)

    plain: dict[int, float] = {}
    zkfl: dict[int, float] = {}
    backend: dict[str, dict[str, Any]] = {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {"num_cpus": 2},
    }
    with local_chain(settings):
        run_simulation(
            _server_app(lambda _rc: fedavg(), rounds, plain), plain_client, hospitals, backend_config=backend
        )

        def zkfl_strategy(run_config: dict[str, Any]) -> ZkflStrategy:
            return ZkflStrategy.on_dev_chain(fedavg(), task.consortium(run_config))

        run_simulation(_server_app(zkfl_strategy, rounds, zkfl), client_app.app, hospitals, backend_config=backend)
    return {
        "hospitals": hospitals,
        "rounds": rounds,
        "plain_fedavg_round_seconds": [plain[r] for r in sorted(plain)],
        "zkfl_round_seconds": [zkfl[r] for r in sorted(zkfl)],
    }


def _table(result: dict[str, Any]) -> str:
    lines = [
        f"Flower round wall time, {result['hospitals']} clients (simulation engine), breast-cancer logistic regression",
        "round  plain FedAvg (s)  zkFL (s)  overhead",
    ]
    for i, (p, z) in enumerate(zip(result["plain_fedavg_round_seconds"], result["zkfl_round_seconds"], strict=True)):
        lines.append(f"{i + 1:>5}  {p:>16.2f}  {z:>8.2f}  {z / p:>7.1f}x  ({z - p:+.2f} s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hospitals", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--anvil-port", type=int, default=18745)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zkfl-flower-bench-") as tmp:
        result = run(Path(tmp), args.hospitals, args.rounds, args.anvil_port)
    print(_table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
