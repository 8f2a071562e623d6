"""A fresh key on the local chain: `zkfl keys new` funds it (or says how), and a party with an unfunded key
gets one line that says what to do, not an ape traceback. A real anvil on loopback, the real `zkfl` command."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from zkfl_dapp.chain.anvil import LocalAnvil

MNEMONIC = "test test test test test test test test test test test junk"
pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _balance(url: str, address: str) -> int:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": [address, "latest"]}
    return int(httpx.post(url, json=body, timeout=10).json()["result"], 16)


def _zkfl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("zkfl") or str(Path(sys.executable).with_name("zkfl"))
    return subprocess.run([exe, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=180)


def test_keys_new_funds_the_key_on_the_local_chain_and_an_unfunded_party_is_told_how(tmp_path: Path) -> None:
    port = _free_port()
    common = ["--workdir", str(tmp_path), "--anvil-port", str(port)]
    env = {"ZKFL_ADMIN_PASSPHRASE": "admin pw", "ZKFL_AGGREGATOR_PASSPHRASE": "agg pw"}
    with LocalAnvil(tmp_path / "chain" / "anvil-state.json", port=port, mnemonic=MNEMONIC) as anvil:
        made = _zkfl("keys", "new", "--role", "admin", *common, env=env)
        assert made.returncode == 0, made.stderr
        address = made.stdout.split()[1]
        assert "funded with 1000 ETH" in made.stdout
        assert _balance(anvil.url, address) == 1000 * 10**18

        bare = _zkfl("keys", "new", "--role", "aggregator", "--no-fund", *common, env=env)
        assert bare.returncode == 0, bare.stderr
        aggregator = bare.stdout.split()[1]
        assert _balance(anvil.url, aggregator) == 0
        refused = _zkfl("aggregator", "--once", *common, env=env)
        assert refused.returncode == 1
        assert "has no ether on this chain" in refused.stderr + refused.stdout
        assert "zkfl keys fund --role aggregator" in refused.stderr + refused.stdout
        assert "Traceback" not in refused.stderr

        funded = _zkfl("keys", "fund", "--role", "aggregator", *common, env=env)
        assert funded.returncode == 0, funded.stderr
        assert _balance(anvil.url, aggregator) == 1000 * 10**18


def test_keys_new_without_a_running_chain_says_how_to_fund_later(tmp_path: Path) -> None:
    made = _zkfl("keys", "new", "--role", "hospital-0", "--workdir", str(tmp_path), "--anvil-port",
                 str(_free_port()), env={"ZKFL_HOSPITAL_0_PASSPHRASE": "pw"})  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "not funded" in made.stdout and "zkfl keys fund --role hospital-0" in made.stdout
