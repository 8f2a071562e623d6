"""ZkflStrategy around Flower's FedMedian: a 5-hospital consortium (the median circuit), one proven median
round through Flower's simulation engine, then the audit. About 2.5 min on 2 cores, so opt-in:
``ZKFL_FLOWER_MEDIAN_TESTS=1`` (in the Flower environment, like test_flower_app.py)."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("flwr", reason="runs in the Flower environment (.venv-flower); `make test` runs it there")
pytestmark = pytest.mark.skipif(
    os.environ.get("ZKFL_FLOWER_MEDIAN_TESTS") != "1", reason="opt-in (about 2.5 min): ZKFL_FLOWER_MEDIAN_TESTS=1"
)

from flwr.app import ArrayRecord, Context  # noqa: E402
from flwr.serverapp import Grid, ServerApp  # noqa: E402
from flwr.serverapp.strategy import FedMedian  # noqa: E402
from flwr.simulation import run_simulation  # noqa: E402

from zkfl_dapp.chain.enums import Phase, Rule  # noqa: E402
from zkfl_dapp.chain.views import read_round  # noqa: E402
from zkfl_dapp.config import Settings  # noqa: E402
from zkfl_flower.consortium import FlowerConsortium  # noqa: E402
from zkfl_flower.local import ape_run, local_chain  # noqa: E402
from zkfl_flower.records import flatten, model_values  # noqa: E402
from zkfl_flower.strategy import ZkflStrategy  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "flower-app"


def test_a_fedmedian_round_is_proven_finalized_and_audited(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    settings = Settings(workdir=tmp_path, hospitals=5, quorum=3, anvil_port=port)
    deployed = ape_run(settings, "deploy")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    os.environ["PYTHONPATH"] = os.pathsep.join([str(EXAMPLE), str(ROOT), os.environ.get("PYTHONPATH", "")])
    sys.path[:0] = [str(EXAMPLE)]
    from flower_app import task
    from flower_app.client_app import app as client_app

    out: dict[str, Any] = {}
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        run_config = dict(context.run_config)
        median = FedMedian(fraction_evaluate=0.0, min_train_nodes=5, min_available_nodes=5)
        strategy = ZkflStrategy.on_dev_chain(median, task.consortium(run_config))
        initial = ArrayRecord(task.Net().state_dict())
        out["result"] = flatten(strategy.start(grid=grid, initial_arrays=initial, num_rounds=1).arrays)
        out["final"] = strategy.finalizations[1]

    backend: dict[str, dict[str, Any]] = {"client_resources": {"num_cpus": 1, "num_gpus": 0.0}}
    with local_chain(settings) as rpc_url:
        run_simulation(server_app, client_app, 5, backend_config=backend)
        consortium = FlowerConsortium.connect(settings, rpc_url)
        info = read_round(consortium.round_manager, 1)
        chain_model = model_values(consortium.current_model())
    assert (info.phase, info.rule, out["final"].rule) == (Phase.FINALIZED, Rule.MEDIAN, "median")
    assert out["final"].proof is not None  # the median was proven, and the chain verified the proof
    assert np.array_equal(out["result"], chain_model)
    audited = ape_run(settings, "audit")
    assert audited.returncode == 0, audited.stdout + audited.stderr
