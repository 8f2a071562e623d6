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
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("flwr", reason="runs in the Flower environment (.venv-flower); `make test` runs it there")

from flwr.simulation import run_simulation  # noqa: E402

from zkfl_dapp.chain.enums import Phase  # noqa: E402
from zkfl_dapp.chain.views import read_round, read_submissions  # noqa: E402
from zkfl_dapp.config import Settings  # noqa: E402
from zkfl_dapp.exceptions import ChainError  # noqa: E402
from zkfl_flower.consortium import FlowerConsortium  # noqa: E402
from zkfl_flower.local import local_chain  # noqa: E402
from zkfl_flower.records import model_values  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "flower-app"
HOSPITALS, ROUNDS = 3, 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main_env(settings: Settings) -> dict[str, str]:
    """The main (ape) environment's variables for `ape run` on this consortium."""
    bin_dirs = [str(ROOT / "node_modules" / ".bin"), str(ROOT / ".venv" / "bin")]
    return {
        **os.environ,
        "PATH": os.pathsep.join([*bin_dirs, os.environ.get("PATH", "")]),
        "SOLCX_BINARY_PATH": str(ROOT / ".toolchain" / "solcx"),
        "VIRTUAL_ENV": str(ROOT / ".venv"),
        "ZKFL_HOSPITALS": str(settings.hospitals),
        "ZKFL_QUORUM": str(settings.quorum),
        "ZKFL_ANVIL_PORT": str(settings.anvil_port),
        "PYTHONPATH": str(ROOT),
    }


def ape_run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(ROOT / ".venv" / "bin" / "ape"), "run", *args, "--workdir", str(settings.workdir)]
    return subprocess.run(cmd, cwd=ROOT, env=main_env(settings), capture_output=True, text=True, timeout=600)


@dataclass(frozen=True)
class FlowerRun:
    settings: Settings
    result: dict[str, np.ndarray]  # the ServerApp's final global model (Flower's Result.arrays)
    chain_model: np.ndarray  # the chain's current model, fetched by CID and checked against its commitment
    rounds: list[Any]
    submissions: list[list[Any]]
    shard_sizes: tuple[int, ...]
    revert: str  # what a non-admin's openRound reverted with


@pytest.fixture(scope="module")
def flower_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowerRun]:
    settings = Settings(workdir=tmp_path_factory.mktemp("flower"), hospitals=HOSPITALS, quorum=2, anvil_port=_free_port())
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
        shard_sizes = consortium.split.shard_sizes()
    with np.load(settings.workdir / "flower" / "global-model.npz") as saved:
        result = {k: saved[k] for k in saved.files}
    yield FlowerRun(settings, result, chain_model, rounds, submissions, shard_sizes, revert)


def test_every_round_is_finalized_on_chain_from_the_clients_submissions(flower_run: FlowerRun) -> None:
    assert [r.phase for r in flower_run.rounds] == [Phase.FINALIZED] * ROUNDS
    assert all(r.bounded for r in flower_run.rounds)  # every submission carried a norm proof the chain verified
    for subs in flower_run.submissions:
        assert sorted(s.sample_count for s in subs) == sorted(flower_run.shard_sizes)
    # each round starts from the model the previous one finalized
    assert flower_run.rounds[1].prev_model_commitment == flower_run.rounds[0].new_model_commitment


def test_the_global_model_after_the_run_is_the_one_finalized_on_chain(flower_run: FlowerRun) -> None:
    flat = np.concatenate([a.ravel() for a in flower_run.result.values()])
    assert flat.dtype == np.float64
    assert np.array_equal(flat, flower_run.chain_model)


def test_a_revert_names_the_contracts_custom_error(flower_run: FlowerRun) -> None:
    assert "RoundManagerNotAdmin" in flower_run.revert


def test_the_audit_passes_on_the_flower_rounds(flower_run: FlowerRun) -> None:
    audited = ape_run(flower_run.settings, "audit", "--json", str(flower_run.settings.workdir / "audit.json"))
    assert audited.returncode == 0, audited.stdout + audited.stderr
    report = json.loads((flower_run.settings.workdir / "audit.json").read_text())
    assert [(r["round_id"], r["phase"]) for r in report["rounds"]] == [(1, "finalized"), (2, "finalized")]
