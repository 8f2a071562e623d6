"""The `ape run` entry points as a user runs them, in child processes, on the embedded anvil.

`deploy` and `round` run as separate processes: the second finds the consortium only because the
chain state persisted (anvil --state) and the store and keys live in the workdir.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
APE = str(Path(sys.executable).with_name("ape"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ape_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [APE, "run", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ}
    )


def test_deploy_then_round_continue_from_persisted_chain_state(tmp_path):
    common = ["--workdir", str(tmp_path / "w"), "--anvil-port", str(_free_port())]
    deployed = _ape_run("deploy", *common)
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    assert "RoundManager: 0x" in deployed.stdout
    assert (tmp_path / "w" / "chain" / "anvil-state.json").exists()

    first = _ape_run("round", *common)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "round 1: 5 participants" in first.stdout
    second = _ape_run("round", *common, "--absent", "2")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "round 2: 4 participants" in second.stdout

    report = json.loads((tmp_path / "w" / "reports" / "round-2.json").read_text())
    assert report["finalize_gas"] > 0 and "hospital-2" not in report["participants"]


def test_round_without_deployment_fails_with_clear_error(tmp_path):
    result = _ape_run("round", "--workdir", str(tmp_path / "empty"), "--anvil-port", str(_free_port()))
    assert result.returncode != 0
    assert "no deployment record" in result.stderr and "ape run deploy" in result.stderr
    assert "Traceback" not in result.stderr


def test_demo_rejects_malformed_dropout(tmp_path):
    result = _ape_run("demo", "--workdir", str(tmp_path / "w"), "--dropout", "four")
    assert result.returncode != 0 and "ROUND:HOSPITAL" in result.stderr


def test_deploy_with_unreachable_kubo_node_fails_with_clear_error(tmp_path):
    dead_api = f"http://127.0.0.1:{_free_port()}"
    result = _ape_run(
        "deploy", "--workdir", str(tmp_path / "w"), "--anvil-port", str(_free_port()),
        "--storage", "kubo", "--kubo-api-url", dead_api,
    )  # fmt: skip
    assert result.returncode != 0
    assert "StorageError" in result.stderr and dead_api in result.stderr and "Traceback" not in result.stderr


def test_anvil_killed_mid_round_gives_a_clear_error_and_the_round_resumes(tmp_path):
    """The chain dies after two submissions: `ape run round` stops with one clear line (no traceback); what it
    printed as submitted is in the persisted state, and `ape run round --resume` completes the round without
    sending those submissions again."""
    port = _free_port()
    common = ["--workdir", str(tmp_path / "w"), "--anvil-port", str(port)]
    assert _ape_run("deploy", *common).returncode == 0
    proc = subprocess.Popen(
        [APE, "run", "round", *common], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    seen: list[str] = []
    for line in proc.stderr:  # progress lines go to stderr
        seen.append(line)
        if "hospital-1 submitted" in line:
            break
    else:
        pytest.fail("the round never reported a submission:\n" + "".join(seen))
    killed = subprocess.run(["pkill", "-KILL", "-f", f"anvil.*--port {port}"], check=False)
    assert killed.returncode == 0, "no anvil to kill"
    out, err = proc.communicate(timeout=300)
    stderr = "".join(seen) + err
    assert proc.returncode != 0
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("Error:") and "chain" in last.lower(), stderr[-2000:]  # one line: the chain was lost

    resumed = _ape_run("round", *common, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for name in ("hospital-0", "hospital-1"):  # printed as submitted: durable, never sent twice
        assert f"{name} already submitted (on-chain): not sending again" in resumed.stderr
    assert "round 1: 5 participants" in resumed.stdout
