"""Faults around the chain process: a second command on one work directory, SIGTERM, anvil killed.

Real processes and a real anvil on loopback; each test fails when the guard it covers is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from zkfl_dapp.apps.process import (
    WORKDIR_MARKER,
    clear_workdir,
    replaceable_workdir,
    terminate_as_exit,
    use_project_toolchain,
    workdir_lock,
)
from zkfl_dapp.chain.anvil import LocalAnvil
from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.exceptions import ChainError, ConfigError

MNEMONIC = "test test test test test test test test test test test junk"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rpc(url: str, method: str, params: list[object] | None = None) -> object:
    reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=10)
    return reply.json()["result"]


def _block(url: str) -> int:
    return int(str(_rpc(url, "eth_blockNumber")), 16)


def _hold_lock(workdir: Path) -> subprocess.Popen[str]:
    code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from zkfl_dapp.apps.process import workdir_lock
        with workdir_lock(Path({str(workdir)!r})):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_command_on_one_workdir_is_refused_and_names_the_holder(tmp_path: Path) -> None:
    holder = _hold_lock(tmp_path / "wd")
    try:
        with pytest.raises(ConfigError, match=rf"in use by process {holder.pid}"), workdir_lock(tmp_path / "wd"):
            pass
    finally:
        holder.kill()
        holder.wait()
    with workdir_lock(tmp_path / "wd"):  # released when its holder is gone
        pass


def test_the_lock_is_reentrant_within_one_process(tmp_path: Path) -> None:
    with workdir_lock(tmp_path), workdir_lock(tmp_path):
        assert (tmp_path / WORKDIR_MARKER).exists()


def test_the_demo_replaces_only_a_zkfl_workdir(tmp_path: Path) -> None:
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("precious")
    assert not replaceable_workdir(foreign)
    assert replaceable_workdir(tmp_path / "absent")
    ours = tmp_path / "ours"
    with workdir_lock(ours):
        (ours / "ipfs").mkdir()
        (ours / "deployment.json").write_text("{}")
        assert clear_workdir(ours) is True
        assert sorted(p.name for p in ours.iterdir()) == [".lock", WORKDIR_MARKER]
        assert clear_workdir(ours) is False  # nothing left to remove
    assert replaceable_workdir(ours)
    with pytest.raises(ConfigError, match="does not hold its lock"):
        clear_workdir(foreign)
    assert (foreign / "chapter1.tex").read_text() == "precious"


def test_the_project_toolchain_is_found_without_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv("SOLCX_BINARY_PATH", raising=False)
    use_project_toolchain()
    assert str(REPO_ROOT / "node_modules" / ".bin") in os.environ["PATH"].split(os.pathsep)
    assert os.environ["SOLCX_BINARY_PATH"] == str(REPO_ROOT / ".toolchain" / "solcx")
    assert LocalAnvil(Path("x.json"), mnemonic=MNEMONIC).anvil_bin is not None


def test_persisted_state_survives_anvil_being_killed(tmp_path: Path) -> None:
    """What was reported as done survives a crash: persist() writes the state file at once (anvil's own
    periodic dump would lose the last seconds)."""
    state = tmp_path / "anvil-state.json"
    port = _free_port()
    anvil = LocalAnvil(state, port=port, mnemonic=MNEMONIC)
    anvil.start()
    _rpc(anvil.url, "anvil_mine", ["0x7"])
    anvil.persist()
    _rpc(anvil.url, "anvil_mine", ["0x5"])  # not persisted: lost with the crash below
    assert anvil._proc is not None
    anvil._proc.kill()  # SIGKILL: no clean dump
    anvil._proc.wait()
    anvil._proc = None
    assert json.loads(state.read_text())["block"]["number"] == hex(7)
    with LocalAnvil(state, port=port, mnemonic=MNEMONIC) as again:
        assert _block(again.url) == 7


def test_a_dump_torn_by_a_kill_does_not_stop_the_next_start(tmp_path: Path) -> None:
    """anvil dumps its own state in place (every 5 s, on exit): a SIGKILL in the middle of a dump leaves a torn file,
    which ``--load-state`` refuses. The restart loads the newer readable of the atomic saved state and that dump."""
    state = tmp_path / "anvil-state.json"
    port = _free_port()
    with LocalAnvil(state, port=port, mnemonic=MNEMONIC) as anvil:
        _rpc(anvil.url, "anvil_mine", ["0x7"])
        anvil.persist()
        _rpc(anvil.url, "anvil_mine", ["0x2"])
    # the clean stop: the saved state and anvil's own dump both hold block 9
    assert json.loads(state.read_text())["block"]["number"] == hex(9)
    dump = anvil.dump_file
    assert dump != state and json.loads(dump.read_text())["block"]["number"] == hex(9)
    torn = dump.read_bytes()
    dump.write_bytes(torn[: len(torn) // 2])  # what a SIGKILL during anvil's dump leaves
    with LocalAnvil(state, port=port, mnemonic=MNEMONIC) as again:
        assert _block(again.url) == 9
        _rpc(again.url, "anvil_mine", ["0x3"])
        assert again._proc is not None
        os.kill(again._proc.pid, signal.SIGINT)  # anvil's own exit dump only (block 12); the saved state holds 9
        again._proc.wait(timeout=15)
        again._proc = None
    assert json.loads(state.read_text())["block"]["number"] == hex(9)
    with LocalAnvil(state, port=port, mnemonic=MNEMONIC) as newest:
        assert _block(newest.url) == 12  # anvil's dump was newer and readable: it is the one loaded
    state.write_bytes(b'{"block": {"numb')
    dump.write_bytes(b"")
    with pytest.raises(ChainError, match="not a readable anvil state"):
        LocalAnvil(state, port=port, mnemonic=MNEMONIC).start()


def test_persist_says_clearly_when_anvil_is_gone(tmp_path: Path) -> None:
    anvil = LocalAnvil(tmp_path / "s.json", port=_free_port(), mnemonic=MNEMONIC)
    with pytest.raises(ChainError, match="not running"):
        anvil.persist()


def test_sigterm_stops_the_anvil_the_command_started(tmp_path: Path) -> None:
    """SIGTERM unwinds like Ctrl-C: anvil is stopped (port freed, state dumped), not orphaned."""
    port = _free_port()
    state = tmp_path / "anvil-state.json"
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from zkfl_dapp.apps.process import terminate_as_exit
        from zkfl_dapp.chain.anvil import LocalAnvil
        with terminate_as_exit(), LocalAnvil(Path({str(state)!r}), port={port}, mnemonic={MNEMONIC!r}):
            print("up", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                break
        time.sleep(0.1)
    else:
        pytest.fail(f"anvil still listens on {port} after its parent got SIGTERM (orphaned)")
    assert state.is_file()  # the clean stop dumped the state


def test_terminate_as_exit_restores_the_previous_handler() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with terminate_as_exit():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def _wait_port_closed(port: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.1)
    return False


def test_sigkill_of_the_parent_takes_anvil_down(tmp_path: Path) -> None:
    """`kill -9` of `zkfl chain` (or any command that started anvil) does not orphan anvil: the kernel sends it
    SIGTERM (parent-death signal), so it dumps its state and frees the port."""
    port = _free_port()
    state = tmp_path / "anvil-state.json"
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from zkfl_dapp.chain.anvil import LocalAnvil
        with LocalAnvil(Path({str(state)!r}), port={port}, mnemonic={MNEMONIC!r}):
            print("up", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
    proc.kill()
    proc.wait(timeout=10)
    assert _wait_port_closed(port), f"anvil still listens on {port} after its parent was SIGKILLed (orphaned)"
    # SIGTERM is a clean stop: anvil dumped its state (into its own file: LocalAnvil.dump_file)
    assert LocalAnvil(state, port=port, mnemonic=MNEMONIC).dump_file.is_file()


def test_a_new_chain_recovers_an_orphaned_anvil(tmp_path: Path) -> None:
    """An anvil that an earlier run left on the port after its owner was SIGKILLed (started without the
    parent-death signal, as older runs did) is recognised from the pidfile and stopped cleanly, keeping its
    state; the new one serves it."""
    port = _free_port()
    state = tmp_path / "anvil-state.json"
    code = textwrap.dedent(
        f"""
        import time, httpx
        from pathlib import Path
        import zkfl_dapp.chain.anvil as anvil_module
        anvil_module._die_with_parent = lambda: None  # an older run: no parent-death signal
        a = anvil_module.LocalAnvil(Path({str(state)!r}), port={port}, mnemonic={MNEMONIC!r})
        a.start()
        httpx.post(a.url, json={{"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": ["0x4"]}})
        print("up", a._proc.pid, flush=True)
        time.sleep(60)
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    up, orphan_pid = owner.stdout.readline().split()
    assert up == "up"
    owner.kill()
    owner.wait(timeout=10)
    try:
        with LocalAnvil(state, port=port, mnemonic=MNEMONIC) as again:
            assert _block(again.url) == 4  # the orphan dumped its state on the clean stop
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(orphan_pid), signal.SIGKILL)


def test_a_foreign_process_on_the_port_is_not_killed(tmp_path: Path) -> None:
    """The pidfile only names an anvil serving this state file: anything else on the port is an error to
    report, never a process to stop."""
    port = _free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        state = tmp_path / "anvil-state.json"
        state.with_name(state.name + ".pid").write_text(f"{os.getpid()} {port} 1\n")  # a lie: this is pytest
        with pytest.raises(ChainError, match="already in use"):
            LocalAnvil(state, port=port, mnemonic=MNEMONIC).start()


def test_an_anvil_whose_owner_still_runs_is_not_stopped(tmp_path: Path) -> None:
    """A second `zkfl chain` on the same work directory while the first runs: the first's anvil is live, not an
    orphan; the second says the port is in use and the first keeps serving."""
    port = _free_port()
    state = tmp_path / "anvil-state.json"
    with LocalAnvil(state, port=port, mnemonic=MNEMONIC) as first:
        with pytest.raises(ChainError, match="already in use"):
            LocalAnvil(state, port=port, mnemonic=MNEMONIC).start()
        assert _block(first.url) == 0


def test_zkfl_chain_persists_every_block_so_a_receipt_survives_a_sigkill(tmp_path: Path) -> None:
    """`zkfl chain` saves the state after each new block: a transaction whose receipt a party saw survives the
    chain being SIGKILLed right after (anvil's own dump comes only every 5 s), and wait_until_persisted tells
    the party when that is so."""
    from zkfl_dapp.chain.anvil import wait_until_persisted

    port = _free_port()
    state = tmp_path / "chain" / "anvil-state.json"
    exe = str(Path(sys.executable).with_name("zkfl"))
    chain = subprocess.Popen(
        [exe, "chain", "--workdir", str(tmp_path), "--anvil-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        assert chain.stdout is not None
        for line in chain.stdout:
            if "saved after every block" in line:
                break
        url = f"http://127.0.0.1:{port}"
        for height in (1, 2, 3):  # anvil's own dump (every 5 s) cannot land in each of three 2.5-s windows
            _rpc(url, "anvil_mine", ["0x1"])
            assert wait_until_persisted(state, height, timeout_s=2.5), f"block {height} not saved in 2.5 s"
    finally:
        os.killpg(chain.pid, signal.SIGKILL)  # the whole group: zkfl chain and its anvil, no clean dump
        chain.wait(timeout=10)
    assert _wait_port_closed(port)
    with LocalAnvil(state, port=port, mnemonic=MNEMONIC) as again:
        assert _block(again.url) == 3
