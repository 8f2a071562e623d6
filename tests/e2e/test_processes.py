"""Every party its own OS process and key: anvil, the admin's commands, the aggregator and five hospitals,
talking only through the chain and the (shared, embedded) content store.

A hospital is killed (SIGKILL) while it prepares its update and the aggregator while the round waits for it;
both restart from chain state. The round still closes, every submission a hospital's journal reports as
sent is on-chain, and nothing is sent twice.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from zkfl_dapp.apps.keys import dev_keyfiles, keyfile_address, keyfile_path
from zkfl_dapp.apps.launcher import PartyProcess, party_command, party_processes
from zkfl_dapp.apps.parties import journal_for
from zkfl_dapp.chain.anvil import LocalAnvil
from zkfl_dapp.config import REPO_ROOT, Settings

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _zkfl(settings: Settings, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        party_command(settings, *args),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env or {**os.environ},
    )


def _wait(what: str, condition, processes: list[PartyProcess], timeout: float = 240.0) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if condition():
            return
        for p in processes:
            assert p.proc is None or p.proc.poll() is None, f"{p.role} exited:\n{p.tail(30)}"
        time.sleep(0.1)
    logs = "\n".join(f"--- {p.role}\n{p.tail(10)}" for p in processes)
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def _sent(settings: Settings) -> list[tuple[str, dict]]:
    return [
        (f"hospital-{i}", e)
        for i in range(settings.hospitals)
        for e in journal_for(settings.workdir, f"hospital-{i}").entries("sent")
    ]


def test_parties_as_processes_survive_a_hospital_and_the_aggregator_killed_mid_round(suite, tmp_path: Path) -> None:
    settings = Settings(workdir=tmp_path / "w", anvil_port=_free_port())
    dev_keyfiles(settings.workdir, settings.mnemonic, settings.hospitals)
    anvil = LocalAnvil(settings.chain_state, port=settings.anvil_port, mnemonic=settings.mnemonic)
    with anvil, anvil.durable_in_background():  # as `zkfl chain` does: the state saved after every block
        deployed = _zkfl(settings, "admin", "deploy")
        assert deployed.returncode == 0, deployed.stderr[-3000:]
        assert "RoundManager: 0x" in deployed.stdout

        processes = party_processes(settings, interval=0.2)
        aggregator, *hospitals = processes
        restarted: list[PartyProcess] = []
        try:
            for p in processes:
                p.start()
            _wait("the enclave key", lambda: bool(journal_for(settings.workdir, "aggregator").entries()),
                  processes)  # fmt: skip
            opened = _zkfl(settings, "admin", "open-round")
            assert opened.returncode == 0, opened.stderr[-3000:]
            assert opened.stdout.strip() == "1"

            victim = hospitals[4]
            _wait("hospital-4 preparing", lambda: "round 1: training" in victim.tail(5), processes)
            victim.kill()  # SIGKILL while it trains and proves: nothing was sent
            aggregator.kill()  # SIGKILL while the round waits for hospital-4
            assert not journal_for(settings.workdir, "hospital-4").entries("sent")
            _wait("the four others' submissions", lambda: len(_sent(settings)) == 4, hospitals[:4])

            restarted += [
                PartyProcess("aggregator", aggregator.args, aggregator.log, aggregator.env).start(),
                PartyProcess("hospital-4", victim.args, victim.log, victim.env).start(),
            ]
            live = hospitals[:4] + restarted
            finalized = journal_for(settings.workdir, "aggregator")
            _wait("round 1 finalized", lambda: any(e["round"] == 1 for e in finalized.entries("finalized")), live)
        finally:
            for p in processes + restarted:
                p.stop()

        status = _zkfl(settings, "status")
        assert status.returncode == 0, status.stderr[-3000:]
        (round_1,) = json.loads(status.stdout)["rounds"]
        assert round_1["phase"] == "FINALIZED" and round_1["model_cid"]
        on_chain = {(s["hospital"].lower(), s["cid"]) for s in round_1["submissions"]}
        sent = _sent(settings)
        assert len(sent) == 5 and len(on_chain) == 5  # each hospital once: nothing sent twice
        keys = {role: keyfile_address(keyfile_path(settings.workdir, role)) for role, _ in sent}
        for role, entry in sent:  # every submission reported as sent is on-chain
            assert entry["round"] == 1
            assert (keys[role].lower(), entry["cid"]) in on_chain
        assert "hospital-4: round 1: submitted" in restarted[1].tail(20)


def test_a_party_without_a_chain_says_so_in_one_line(tmp_path: Path) -> None:
    settings = Settings(workdir=tmp_path / "w", anvil_port=_free_port())
    dev_keyfiles(settings.workdir, settings.mnemonic, settings.hospitals)
    no_chain = _zkfl(settings, "hospital", "--index", "0", "--once")
    assert no_chain.returncode != 0
    assert "no chain answers" in no_chain.stderr and "Traceback" not in no_chain.stderr
