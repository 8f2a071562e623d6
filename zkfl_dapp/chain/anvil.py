"""A local anvil on loopback whose state persists across runs (the embedded default chain).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from zkfl_dapp.exceptions import ChainError, ToolchainError


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class LocalAnvil:
    """An anvil process on loopback whose state persists in ``state_file`` across runs.

    anvil writes its state on a clean exit (SIGINT/SIGTERM) and every ``state_interval`` seconds.
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
        self.anvil_bin = anvil_bin or shutil.which("anvil")
        self.log_file = log_file or state_file.with_suffix(".log")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> None:
        if self.anvil_bin is None:
            raise ToolchainError("anvil not found on PATH: run `make install` (npm @foundry-rs/anvil-linux-amd64)")
        if _port_open("127.0.0.1", self.port):
            raise ChainError(f"port {self.port} is already in use: stop the other node or pick another --anvil-port")
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            self.anvil_bin,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--mnemonic", self.mnemonic,
            "--accounts", str(self.accounts),
            "--derivation-path", self.hd_path,
            "--state", str(self.state_file),
            "--state-interval", "5",
            "--hardfork", "shanghai",
            "--block-base-fee-per-gas", "0",
            "--gas-price", "0",
        ]  # fmt: skip
        log = self.log_file.open("ab")
        self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ChainError(f"anvil exited with code {self._proc.returncode}; see {self.log_file}")
            if _port_open("127.0.0.1", self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise ChainError(f"anvil did not start listening on port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        """Stop cleanly so anvil dumps its state."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> LocalAnvil:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

