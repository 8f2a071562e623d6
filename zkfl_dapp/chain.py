"""Chain access through ape: deployment, roles, and a local anvil with persisted state.

Contract calls go through ape's contract instances (typed by the compiled ABIs); this module adds the
consortium's vocabulary on top: roles, deployment records that can be saved and reloaded, and a
managed local chain for the demo.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from zkfl_dapp.exceptions import ChainError, ToolchainError

ZERO_ADDRESS = "0x" + "00" * 20


class Role(IntEnum):
    """Mirror of ``IConsortiumRegistry.Role``."""

    NONE = 0
    HOSPITAL = 1
    AUDITOR = 2
    AGGREGATOR = 3


class Rule(IntEnum):
    """Mirror of ``IRoundManager.AggregationRule``."""

    FEDAVG = 0
    MEDIAN = 1


class Phase(IntEnum):
    """Mirror of ``IRoundManager.Phase``."""

    NONE = 0
    OPEN = 1
    FINALIZED = 2
    ABORTED = 3


@dataclass(frozen=True)
class Deployment:
    """The consortium's contracts on one network."""

    registry: Any
    round_manager: Any
    verifier: Any
    norm_verifier: Any
    median_verifier: Any | None  # None where the consortium has no median circuit (it needs 5 slots)

    def addresses(self) -> dict[str, str]:
        out = {
            "ConsortiumRegistry": str(self.registry.address),
            "RoundManager": str(self.round_manager.address),
            "AggregationVerifier": str(self.verifier.address),
            "NormVerifier": str(self.norm_verifier.address),
        }
        if self.median_verifier is not None:
            out["MedianVerifier"] = str(self.median_verifier.address)
        return out

    def save(self, path: Path, **extra: Any) -> None:
        """Write the addresses (and any extra facts, e.g. chain id) as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"contracts": self.addresses(), **extra}, indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: Path, project: Any) -> Deployment:
        """Attach to the contracts recorded in ``path``."""
        try:
            addresses = json.loads(path.read_text())["contracts"]
            return cls(
                registry=project.ConsortiumRegistry.at(addresses["ConsortiumRegistry"]),
                round_manager=project.RoundManager.at(addresses["RoundManager"]),
                verifier=project.AggregationVerifier.at(addresses["AggregationVerifier"]),
                norm_verifier=project.NormVerifier.at(addresses["NormVerifier"]),
                median_verifier=project.MedianVerifier.at(addresses["MedianVerifier"])
                if "MedianVerifier" in addresses
                else None,
            )
        except FileNotFoundError as exc:
            raise ChainError(f"no deployment record at {path}: run `ape run deploy` first") from exc
        except (KeyError, ValueError) as exc:
            raise ChainError(f"deployment record {path} is malformed: {exc}") from exc


def deploy_contracts(
    project: Any,
    admin: Any,
    *,
    slots: int,
    model_size: int,
    scale_bits: int,
    empty_slot_commitment: int,
    genesis_commitment: int,
    genesis_cid: str,
    circuit_cid: str,
    with_median: bool = True,
) -> Deployment:
    """Deploy registry, the three verifiers (FedAvg, median, norm) and the round manager; ``admin`` becomes
    the consortium admin.

    ``circuit_cid`` is the CID of the circuit's published artifact manifest (see zkfl_dapp.publication).
    """
    registry = project.ConsortiumRegistry.deploy(admin.address, sender=admin)
    verifier = project.AggregationVerifier.deploy(sender=admin)
    median_verifier = project.MedianVerifier.deploy(sender=admin) if with_median else None
    norm_verifier = project.NormVerifier.deploy(sender=admin)
    round_manager = project.RoundManager.deploy(
        registry.address,
        verifier.address,
        median_verifier.address if median_verifier is not None else ZERO_ADDRESS,
        norm_verifier.address,
        slots,
        model_size,
        scale_bits,
        empty_slot_commitment,
        genesis_commitment,
        genesis_cid,
        circuit_cid,
        sender=admin,
    )
    return Deployment(registry, round_manager, verifier, norm_verifier, median_verifier)


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
