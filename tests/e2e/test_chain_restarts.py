"""The chain dies under running parties and comes back: no party is restarted by hand.

`zkfl chain` is SIGKILLed with its anvil (no clean dump) twice: right after a hospital journals a submission as
sent, and right after the admin's `open-round` returns. Each time a fresh `zkfl chain` restarts from the saved
state; the hospitals and the aggregator back off while the chain does not answer and go on by themselves. Every
journal entry is on the chain, nothing is sent twice, and both rounds finalize.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from zkfl_dapp.apps.keys import dev_keyfiles, keyfile_address, keyfile_path
from zkfl_dapp.apps.launcher import PartyProcess, party_command, party_processes
from zkfl_dapp.apps.parties import journal_for
from zkfl_dapp.config import REPO_ROOT, Settings
from zkfl_dapp.protocol.reports import statistic_of
from zkfl_dapp.protocol.wiring import bound_policy

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _zkfl(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(party_command(settings, *args), cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


class Chain:
    """`zkfl chain` in its own process group, so that SIGKILL takes anvil down with it without a clean dump."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Chain:
        self.proc = subprocess.Popen(
            party_command(self.settings, "chain"), cwd=REPO_ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if "saved after every block" in line:
                return self
        pytest.fail(f"zkfl chain did not start (exit {self.proc.wait()})")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def _wait(what: str, condition, processes: list[PartyProcess], timeout: float = 240.0) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if condition():
            return
        for p in processes:
            assert p.proc is not None and p.proc.poll() is None, f"{p.role} exited:\n{p.tail(30)}"
        time.sleep(0.05)
    logs = "\n".join(f"--- {p.role}\n{p.tail(10)}" for p in processes)
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def _sent(settings: Settings, round_id: int) -> list[tuple[str, dict]]:
    return [
        (f"hospital-{i}", e)
        for i in range(settings.hospitals)
        for e in journal_for(settings.workdir, f"hospital-{i}").entries("sent")
        if e["round"] == round_id
    ]


def _finalized(settings: Settings, round_id: int) -> bool:
    return any(e["round"] == round_id for e in journal_for(settings.workdir, "aggregator").entries("finalized"))


def test_parties_ride_out_two_chain_kills_without_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZKFL_HOSPITALS", "3")  # every party process reads the consortium's size from its settings
    monkeypatch.setenv("ZKFL_QUORUM", "2")
    monkeypatch.setenv("ZKFL_NORM_BOUND_RATE", "2.0")  # the policy moves the bound visibly from one round to the next
    settings = Settings(workdir=tmp_path / "w", anvil_port=_free_port(), hospitals=3, quorum=2)
    dev_keyfiles(settings.workdir, settings.mnemonic, settings.hospitals)
    chain = Chain(settings).start()
    processes = party_processes(settings, interval=0.2)
    try:
        deployed = _zkfl(settings, "admin", "deploy")
        assert deployed.returncode == 0, deployed.stderr[-3000:]
        for p in processes:
            p.start()
        _wait("the enclave key", lambda: bool(journal_for(settings.workdir, "aggregator").entries()), processes)

        # kill 1: right after the first hospital says its submission is sent
        assert _zkfl(settings, "admin", "open-round").stdout.strip() == "1"
        _wait("a first submission", lambda: len(_sent(settings, 1)) >= 1, processes)
        chain.kill()
        time.sleep(2.0)  # the parties meet a dead chain (and must not exit)
        for p in processes:
            assert p.proc is not None and p.proc.poll() is None, f"{p.role} exited:\n{p.tail(20)}"
        chain = Chain(settings).start()
        _wait("round 1 finalized", lambda: _finalized(settings, 1), processes)

        # kill 2: right after `open-round` reported round 2 opened (having published round 1's report first)
        opened = _zkfl(settings, "admin", "open-round")
        assert opened.stdout.strip() == "2", opened.stderr[-3000:]
        assert "round 1's report published" in opened.stderr
        chain.kill()
        chain = Chain(settings).start()
        _wait("round 2 finalized", lambda: _finalized(settings, 2), processes)
        assert any("the chain does not answer" in p.tail(200) for p in processes)
        assert any("answers again" in p.tail(200) for p in processes)

        status = _zkfl(settings, "status")
        assert status.returncode == 0, status.stderr[-3000:]
        rounds = json.loads(status.stdout)["rounds"]
    finally:
        for p in processes:
            p.stop()
        if chain.proc is not None and chain.proc.poll() is None:
            chain.kill()

    assert [r["phase"] for r in rounds] == ["FINALIZED", "FINALIZED"]  # round 2 survived kill 2: it was durable
    # the bound policy moved: round 2's bound comes from round 1's report, published by `open-round`
    report = json.loads((settings.reports_dir / "round-1.json").read_text())
    assert rounds[0]["norm_bound"] == pytest.approx(settings.norm_bound_initial, rel=1e-3)
    assert report["norm_bound"] == pytest.approx(rounds[0]["norm_bound"], rel=1e-3)
    assert report["norm_included"] == 3 and "update_norm_median" not in report  # a noised count, no norm
    expected = bound_policy(settings).next_bound(report["norm_bound"], statistic_of(report["norm_within_noised"], 3))
    assert rounds[1]["norm_bound"] == pytest.approx(expected, rel=1e-3)
    assert report["participants"] and all(p.startswith("hospital-") for p in report["participants"])
    keys = {f"hospital-{i}": keyfile_address(keyfile_path(settings.workdir, f"hospital-{i}")).lower()
            for i in range(settings.hospitals)}  # fmt: skip
    for r in rounds:
        on_chain = [(s["hospital"].lower(), s["cid"]) for s in r["submissions"]]
        assert len(on_chain) == len(set(h for h, _ in on_chain))  # nothing sent twice
        for role, entry in _sent(settings, r["round"]):  # every journal entry is on the chain
            assert (keys[role], entry["cid"]) in on_chain
