"""Flower's deployment engine, as docs/operators.md runs it: a SuperLink and two SuperNodes as separate processes
(python -m zkfl_flower.deploy), the example app (its own model and loaders) submitted with
``python -m zkfl_flower.deploy run`` for one round, then ``ape run audit``; and a run that cannot complete exits
nonzero. Runs in the Flower environment (see test_flower_app.py)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("flwr", reason="runs in the Flower environment (.venv-flower); `make test` runs it there")

from zkfl_dapp.config import Settings  # noqa: E402
from zkfl_flower.deploy import environment  # noqa: E402
from zkfl_flower.local import ape_run, local_chain  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "flower-app"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _deploy(*args: str, log: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "zkfl_flower.deploy", *args]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


def _wait_for_port(port: int, proc: subprocess.Popen[str], log: Path, timeout: float = 120) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        assert proc.poll() is None, log.read_text()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"nothing listens on {port}: {log.read_text()}")


@dataclass(frozen=True)
class Deployed:
    completed: subprocess.CompletedProcess[str]  # one round through the SuperLink and two SuperNodes
    unreachable: subprocess.CompletedProcess[str]  # a SuperLink nobody runs
    failed: subprocess.CompletedProcess[str]  # a ServerApp that fails
    audit: subprocess.CompletedProcess[str]  # ape run audit afterwards
    report: dict[str, Any]


def _run(settings: Settings, link_port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "zkfl_flower.deploy", "run", str(EXAMPLE), "--superlink", f"127.0.0.1:{link_port}"]
    args += ["--flwr-home", str(settings.workdir / "flwr-home"), "--timeout", "900", "--insecure", *extra]
    return subprocess.run(args, cwd=ROOT, env=environment(), capture_output=True, text=True, timeout=1000)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    """A 2-hospital consortium; its chain served, a SuperLink and two SuperNodes as processes, the runs; then every
    process stopped (the chain's state saved) and the audit."""
    workdir = tmp_path_factory.mktemp("flower-deploy")
    settings = Settings(workdir=workdir, hospitals=2, quorum=2, anvil_port=_free_port())
    done = ape_run(settings, "deploy")
    assert done.returncode == 0, done.stdout + done.stderr
    link_port = _free_port()
    logs = settings.workdir / "logs"
    logs.mkdir()
    with local_chain(settings):  # exports ZKFL_WORKDIR, ZKFL_HOSPITALS, ... for the processes below
        env = environment()
        superlink = _deploy("superlink", "--port", str(link_port), "--insecure", log=logs / "superlink.log", env=env)
        procs = [superlink]
        try:
            _wait_for_port(link_port, superlink, logs / "superlink.log")
            for i in range(2):
                node_args = ["--superlink", f"127.0.0.1:{link_port}", "--port", str(_free_port())]
                node_args += ["--partition", str(i), "--partitions", "2", "--insecure"]
                procs.append(_deploy("supernode", *node_args, log=logs / f"supernode-{i}.log", env=env))
            completed = _run(settings, link_port, "--run-config", "num-server-rounds=1")
            unreachable = _run(settings, _free_port())
            absent = settings.workdir / "absent"
            failed = _run(settings, link_port, "--run-config", f'zkfl-workdir="{absent}" num-server-rounds=1')
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
    report = settings.workdir / "audit.json"
    audit = ape_run(settings, "audit", "--json", str(report))
    loaded = json.loads(report.read_text()) if report.is_file() else {}
    return Deployed(completed, unreachable, failed, audit, loaded)


def test_a_superlink_and_two_supernodes_run_a_proven_round(deployed: Deployed) -> None:
    done = deployed.completed
    assert done.returncode == 0, done.stdout + done.stderr
    assert "finished:completed" in done.stdout
    assert "zkFL: round 1: finalized" in done.stdout  # the ServerApp's log, fetched from the SuperLink


def test_a_run_that_cannot_complete_exits_nonzero(deployed: Deployed) -> None:
    unreachable = deployed.unreachable
    assert unreachable.returncode == 1, unreachable.stdout + unreachable.stderr
    assert "Connection to the SuperLink is unavailable" in unreachable.stderr
    failed = deployed.failed  # its ServerApp finds no deployment record in the work directory it is pointed at
    assert failed.returncode == 1 and "finished:failed" in failed.stdout, failed.stdout + failed.stderr


def test_the_deployed_round_passes_the_audit(deployed: Deployed) -> None:
    assert deployed.audit.returncode == 0, deployed.audit.stdout + deployed.audit.stderr
    assert deployed.report["passed"] and [r["phase"] for r in deployed.report["rounds"]] == ["finalized"]
