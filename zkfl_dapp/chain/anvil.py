"""A local anvil on loopback whose state persists across runs (the embedded default chain).

anvil goes down with the process that started it, even when that process is SIGKILLed: on Linux it is
started with a parent-death signal (SIGTERM, so it still dumps its state). An anvil left running by an
older run (another platform, or a version without the signal) is recognised from the pidfile beside the
state file and stopped cleanly before a new one starts on its port.
"""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.exceptions import ChainError, ToolchainError

_log = logging.getLogger(__name__)


def _project_anvil() -> str | None:
    """The anvil this checkout installs (npm @foundry-rs/anvil-linux-amd64), found without PATH."""
    candidate = REPO_ROOT / "node_modules" / ".bin" / "anvil"
    return str(candidate) if candidate.is_file() else None


#: prctl(2) option: the signal the kernel sends this process when its parent thread exits.
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """preexec_fn of anvil: SIGTERM when the process that started it dies (SIGKILL included). Linux only;
    elsewhere the pidfile recovery below still applies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _process_cmdline(pid: int) -> list[str] | None:
    """The command line of a live process (Linux /proc), None where it is gone or cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _parent_pid(pid: int) -> int | None:
    """The parent pid of a live process (Linux /proc/<pid>/stat, field 4), None where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def persisted_block(state_file: Path) -> int | None:
    """The latest block an anvil state file holds (None: no readable state file)."""
    try:
        return int(str(json.loads(state_file.read_text())["block"]["number"]), 16)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def wait_until_persisted(state_file: Path, block: int, *, timeout_s: float = 30.0) -> bool:
    """Wait until the local chain's state file holds ``block`` (see :meth:`LocalAnvil.serve_durably`); False if
    it does not within ``timeout_s`` (then the caller must not yet call the transaction durable)."""
    deadline = time.monotonic() + timeout_s
    while True:
        held = persisted_block(state_file)
        if held is not None and held >= block:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class LocalAnvil:
    """An anvil process on loopback whose state persists in ``state_file`` across runs.

    Only :meth:`persist` writes ``state_file``, atomically. anvil's own dumps (on a clean exit and every 5 seconds)
    go to :attr:`dump_file`, written in place: a SIGKILL in the middle of one leaves it torn, and a torn file given
    to ``--load-state`` stops anvil ("EOF while parsing"). :meth:`start` loads the newer readable of the two.
    The accounts come from ``mnemonic`` at ape's derivation path, so ape's test accounts are funded.
    """

    def __init__(
        self,
        state_file: Path,
        *,
        port: int = 8545,
        mnemonic: str,
        accounts: int = 10,
        hd_path: str = "m/44'/60'/0'/0",
        anvil_bin: str | None = None,
        log_file: Path | None = None,
    ) -> None:
        self.state_file = state_file
        self.port = port
        self.mnemonic = mnemonic
        self.accounts = accounts
        self.hd_path = hd_path
        self.anvil_bin = anvil_bin or shutil.which("anvil") or _project_anvil()
        self.log_file = log_file or state_file.with_suffix(".log")
        self._proc: subprocess.Popen[bytes] | None = None
        self._persist_lock = threading.Lock()  # one dump at a time (a background saver and the owner may both call)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dump_file(self) -> Path:
        """``<state>.dump``: where anvil itself dumps its state (not atomically: see the class docstring)."""
        return self.state_file.with_name(self.state_file.name + ".dump")

    def _choose_state(self) -> None:
        """Make ``state_file`` the newer readable of ``state_file`` and anvil's own dump (a torn dump is ignored).

        Raises:
            ChainError: a state file exists but neither is readable (nothing to start from without losing it).
        """
        saved, dumped = persisted_block(self.state_file), persisted_block(self.dump_file)
        if dumped is not None and (saved is None or dumped > saved):
            tmp = self.state_file.with_name(self.state_file.name + ".tmp")
            shutil.copyfile(self.dump_file, tmp)
            os.replace(tmp, self.state_file)
        elif saved is None and self.state_file.exists():
            raise ChainError(f"{self.state_file} is not a readable anvil state and {self.dump_file} holds none either")
        if dumped is None and self.dump_file.exists():
            _log.warning("ignoring %s: not a readable anvil state (torn by a kill during anvil's dump)", self.dump_file)

    @property
    def pid_file(self) -> Path:
        """``<state>.pid``: the pid and port of the anvil serving this state file."""
        return self.state_file.with_name(self.state_file.name + ".pid")

    def _orphan_pid(self) -> int | None:
        """The pid of an anvil that an earlier run started on this state file and port and left running after
        its owner died (a SIGKILLed parent), or None. An anvil whose owner still runs (another `zkfl chain` on
        this work directory) is never an orphan: its port is in use, and that is an error to report."""
        try:
            pid_text, port_text, owner_text = self.pid_file.read_text().split()
            pid, port, owner = int(pid_text), int(port_text), int(owner_text)
        except (OSError, ValueError):
            return None
        cmdline = _process_cmdline(pid)
        if port != self.port or not cmdline or "anvil" not in Path(cmdline[0]).name:
            return None
        if str(self.dump_file) not in cmdline:
            return None
        owner_alive = _process_cmdline(owner) is not None and _parent_pid(pid) == owner
        return None if owner_alive else pid

    def _stop_orphan(self, pid: int, timeout_s: float = 15.0) -> None:
        """SIGINT (anvil dumps its state on a clean exit), SIGKILL if it does not go within ``timeout_s``."""
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if _process_cmdline(pid) is None or not _port_open("127.0.0.1", self.port):
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)

    def start(self, timeout_s: float = 20.0) -> None:
        if self.anvil_bin is None:
            raise ToolchainError("anvil is neither on PATH nor in node_modules: run `make install` (npm anvil 1.7.1)")
        orphan = self._orphan_pid()
        if orphan is not None:
            _log.warning("stopping anvil %d left on port %d by an earlier run (its state is kept)", orphan, self.port)
            self._stop_orphan(orphan)
        if _port_open("127.0.0.1", self.port):
            raise ChainError(f"port {self.port} is already in use: stop the other node or pick another --anvil-port")
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self._choose_state()
        load = ["--load-state", str(self.state_file)] if self.state_file.exists() else []
        cmd = [
            self.anvil_bin,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--mnemonic", self.mnemonic,
            "--accounts", str(self.accounts),
            "--derivation-path", self.hd_path,
            *load,
            "--dump-state", str(self.dump_file),
            "--state-interval", "5",
            "--hardfork", "shanghai",
            "--block-base-fee-per-gas", "0",
            "--gas-price", "0",
        ]  # fmt: skip
        log = self.log_file.open("ab")
        self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self.pid_file.write_text(f"{self._proc.pid} {self.port} {os.getpid()}\n")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ChainError(f"anvil exited with code {self._proc.returncode}; see {self.log_file}")
            if _port_open("127.0.0.1", self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise ChainError(f"anvil did not start listening on port {self.port} within {timeout_s} s")

    def persist(self) -> None:
        """Write anvil's current state to ``state_file`` now (atomically), so that what the chain holds
        survives a crash of anvil or of this process: anvil itself only dumps every few seconds and on a
        clean exit. Called after each state change a user is told about ("submitted", "finalized")."""
        if self._proc is None or self._proc.poll() is not None:
            raise ChainError(f"anvil at {self.url} is not running: its state cannot be saved; see {self.log_file}")
        try:
            response = httpx.post(
                self.url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_dumpState", "params": []}, timeout=30
            )
            response.raise_for_status()
            state = gzip.decompress(bytes.fromhex(str(response.json()["result"]).removeprefix("0x")))
        except (httpx.HTTPError, KeyError, ValueError, OSError) as exc:
            raise ChainError(f"could not save anvil's state from {self.url}: {exc}") from exc
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        with self._persist_lock:
            with tmp.open("wb") as f:
                f.write(state)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.state_file)

    def block_number(self) -> int:
        """The chain's latest block number.

        Raises:
            ChainError: anvil does not answer.
        """
        try:
            body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
            return int(str(httpx.post(self.url, json=body, timeout=10).json()["result"]), 16)
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise ChainError(f"anvil at {self.url} does not answer: {exc}") from exc

    def serve_durably(self, *, interval_s: float = 0.2, stop: Callable[[], bool] = lambda: False) -> None:
        """Persist the state after every new block until ``stop()``: what a party was told is on this chain
        (a receipt) is on disk within ``interval_s`` plus one dump, not within anvil's own 5-second interval.
        A party on the same machine waits for it with :func:`wait_until_persisted` before it says "submitted"."""
        persisted = -1
        while not stop():
            block = self.block_number()
            if block != persisted:
                self.persist()
                persisted = block
            time.sleep(interval_s)

    @contextlib.contextmanager
    def durable_in_background(self, interval_s: float = 0.2) -> Iterator[None]:
        """:meth:`serve_durably` in a background thread for the ``with`` block (the owner keeps its own thread);
        it ends with the block, or quietly when anvil goes away."""
        done = threading.Event()

        def run() -> None:
            with contextlib.suppress(ChainError):
                self.serve_durably(interval_s=interval_s, stop=done.is_set)

        thread = threading.Thread(target=run, name="anvil-durable", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join(timeout=10)

    def stop(self) -> None:
        """Stop cleanly: the state is saved (:meth:`persist`), and anvil dumps its own on the way out."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            with contextlib.suppress(ChainError):
                self.persist()
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        self.pid_file.unlink(missing_ok=True)

    def __enter__(self) -> LocalAnvil:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

