"""Each party's encrypted keyfile, its passphrase rules, the parties' journals, and the guards of the `zkfl`
commands that need no chain."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from zkfl_dapp.apps.journal import Journal
from zkfl_dapp.apps.keys import (
    DEV_KEY_PASSPHRASE,
    check_role,
    dev_account_index,
    dev_keyfiles,
    expects_local_chain,
    is_development_keyfile,
    keyfile_address,
    keyfile_path,
    load_signer,
    new_keyfile,
    passphrase_env,
    resolve_passphrase,
    write_keyfile,
)
from zkfl_dapp.apps.launcher import parse_dropout
from zkfl_dapp.apps.parties import Connection, check_basis, warp_past_deadline
from zkfl_dapp.apps.zkfl import main
from zkfl_dapp.exceptions import ChainError, ConfigError

MNEMONIC = "test test test test test test test test test test test junk"
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")


def test_a_keyfile_round_trips_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "hospital-0.json"
    address = write_keyfile(path, KEY, "correct horse", scrypt_n=2**12)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KEY.hex() not in path.read_text()  # encrypted at rest
    assert keyfile_address(path).lower() == address.lower()
    assert load_signer(path, "correct horse").address == address


def test_the_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write_keyfile(path, KEY, "right", scrypt_n=2**12)
    with pytest.raises(ConfigError, match="cannot decrypt .*wrong passphrase"):
        load_signer(path, "wrong")


def test_a_keyfile_is_never_overwritten_nor_written_without_a_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write_keyfile(path, KEY, "pw", scrypt_n=2**12)
    before = path.read_text()
    with pytest.raises(ConfigError, match="never overwritten"):
        write_keyfile(path, KEY, "other", scrypt_n=2**12)
    assert path.read_text() == before
    with pytest.raises(ConfigError, match="empty passphrase"):
        write_keyfile(tmp_path / "other.json", KEY, "")


def test_a_new_key_refuses_the_public_development_passphrase(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="public"):
        new_keyfile(tmp_path, "admin", DEV_KEY_PASSPHRASE)
    assert not keyfile_path(tmp_path, "admin").exists()


def test_roles_are_checked_so_no_name_escapes_the_keys_folder(tmp_path: Path) -> None:
    for role in ("admin", "aggregator", "auditor", "hospital-0", "hospital-12"):
        assert check_role(role) == role
    for bad in ("../admin", "hospital-", "hospital-x", "root", "hospital-0/../../x"):
        with pytest.raises(ConfigError, match="unknown role"):
            keyfile_path(tmp_path, bad)
    assert passphrase_env("hospital-3") == "ZKFL_HOSPITAL_3_PASSPHRASE"


def test_development_keyfiles_are_the_test_mnemonic_accounts_anvil_funds(tmp_path: Path) -> None:
    roles = dev_keyfiles(tmp_path, MNEMONIC, 2)
    assert list(roles) == ["admin", "aggregator", "hospital-0", "hospital-1", "auditor"]
    assert roles["admin"] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's account 0
    assert roles["hospital-0"] == "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # ape test account 2
    assert load_signer(keyfile_path(tmp_path, "hospital-1"), DEV_KEY_PASSPHRASE).address == roles["hospital-1"]
    again = dev_keyfiles(tmp_path, MNEMONIC, 2)  # kept, not rewritten
    assert again == roles
    assert dev_account_index("auditor", 2) == 4
    with pytest.raises(ConfigError, match="2 hospitals"):
        dev_account_index("hospital-2", 2)  # would be the auditor's account


def test_passphrase_from_the_role_environment_variable() -> None:
    env = {"ZKFL_HOSPITAL_1_PASSPHRASE": "s3cret", "ZKFL_ADMIN_PASSPHRASE": "other"}
    assert resolve_passphrase("hospital-1", local=False, env=env) == "s3cret"


def test_the_development_passphrase_is_refused_off_the_local_chain() -> None:
    env = {"ZKFL_ADMIN_PASSPHRASE": DEV_KEY_PASSPHRASE}
    with pytest.raises(ConfigError, match="local chain only"):
        resolve_passphrase("admin", local=False, env=env)
    assert resolve_passphrase("admin", local=True, env=env) == DEV_KEY_PASSPHRASE
    assert resolve_passphrase("admin", local=True, env={}) == DEV_KEY_PASSPHRASE  # the demo's keyfiles


def test_without_a_passphrase_off_the_local_chain_it_asks_or_fails() -> None:
    with pytest.raises(ConfigError, match="set ZKFL_AGGREGATOR_PASSPHRASE"):
        resolve_passphrase("aggregator", local=False, env={})
    asked: list[str] = []
    got = resolve_passphrase("aggregator", local=False, env={}, prompt=lambda text: asked.append(text) or "typed")
    assert got == "typed" and "aggregator" in asked[0]


def test_a_journal_appends_and_survives_a_torn_last_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    journal.append("sent", round=1, tx="0x01")
    journal.append("skipped", round=2, reason="told to sit this round out")
    with journal.path.open("a") as f:
        f.write('{"event": "sent", "rou')  # a crash mid-write
    assert [e["round"] for e in journal.entries("sent")] == [1]
    assert len(journal.entries()) == 2


def test_a_corrupt_journal_line_is_an_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    journal.path.write_text("not json\n" + json.dumps({"event": "sent", "round": 1}) + "\n")
    with pytest.raises(ConfigError, match="line 1"):
        journal.entries()


def test_dropout_is_round_colon_hospital() -> None:
    assert parse_dropout("4:4") == {4: 4} and parse_dropout("") == {}
    with pytest.raises(ConfigError, match="ROUND:HOSPITAL"):
        parse_dropout("four")


def test_a_missing_or_foreign_keyfile_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no keyfile at .*zkfl keys new"):
        load_signer(tmp_path / "absent.json", "pw")
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    with pytest.raises(ConfigError, match="not an Ethereum keyfile"):
        load_signer(tmp_path / "notes.json", "pw")


def test_keys_new_wants_a_passphrase_off_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZKFL_HOSPITAL_0_PASSPHRASE", raising=False)
    result = CliRunner().invoke(main, ["keys", "new", "--role", "hospital-0", "--workdir", str(tmp_path)])
    assert result.exit_code == 1 and "set ZKFL_HOSPITAL_0_PASSPHRASE" in result.output
    assert not keyfile_path(tmp_path, "hospital-0").exists()
    monkeypatch.setenv("ZKFL_HOSPITAL_0_PASSPHRASE", "mine")
    result = CliRunner().invoke(main, ["keys", "new", "--role", "hospital-0", "--workdir", str(tmp_path)])
    assert result.exit_code == 0 and result.output.startswith("hospital-0: 0x")


def test_the_admin_deploys_only_with_every_members_address(tmp_path: Path) -> None:
    dev_keyfiles(tmp_path, MNEMONIC, 5)
    keyfile_path(tmp_path, "hospital-3").unlink()
    result = CliRunner().invoke(main, ["admin", "deploy", "--workdir", str(tmp_path)])
    assert result.exit_code == 1 and "no keyfile (or address) for hospital-3" in result.output


def test_chain_time_moves_on_the_local_chain_only() -> None:
    chain = SimpleNamespace(pending_timestamp=0, mine=lambda: None)
    with pytest.raises(ChainError, match="local development chain only"):
        warp_past_deadline(Connection(chain, None, local=False), 100)
    assert chain.pending_timestamp == 0
    warp_past_deadline(Connection(chain, None, local=True), 100)
    assert chain.pending_timestamp == 101


def test_a_party_refuses_a_deployment_of_other_circuits() -> None:
    circuits = SimpleNamespace(basis=SimpleNamespace(digest=lambda: "ab" * 32))

    def deployment(digest: str) -> Any:
        return SimpleNamespace(round_manager=SimpleNamespace(kzgBasisDigest=lambda: bytes.fromhex(digest)))

    with pytest.raises(ChainError, match="KZG basis"):
        check_basis(deployment("cd" * 32), circuits)  # type: ignore[arg-type]
    check_basis(deployment("ab" * 32), circuits)  # type: ignore[arg-type]


def test_a_users_keyfile_is_never_tried_with_the_development_passphrase(tmp_path: Path) -> None:
    """On the local chain without ZKFL_<ROLE>_PASSPHRASE, only a development keyfile falls back to the public
    passphrase; a `keys new` keyfile is asked for on a terminal, else the error names the variable to set."""
    new_keyfile(tmp_path, "hospital-2", "mine")
    path = keyfile_path(tmp_path, "hospital-2")
    assert not is_development_keyfile(path)
    with pytest.raises(ConfigError, match="set ZKFL_HOSPITAL_2_PASSPHRASE: .*no terminal"):
        resolve_passphrase("hospital-2", local=True, env={}, keyfile=path)
    assert resolve_passphrase("hospital-2", local=True, env={}, keyfile=path, prompt=lambda _: "typed") == "typed"
    dev_keyfiles(tmp_path, MNEMONIC, 2)
    dev = keyfile_path(tmp_path, "hospital-0")
    assert is_development_keyfile(dev)
    assert resolve_passphrase("hospital-0", local=True, env={}, keyfile=dev) == DEV_KEY_PASSPHRASE


def test_the_local_chain_is_recognised_before_connecting() -> None:
    assert expects_local_chain(None, None)
    assert expects_local_chain("http://127.0.0.1:8547", None)
    assert expects_local_chain("http://localhost:8545", None)
    assert expects_local_chain(None, "ethereum:local:foundry")
    assert not expects_local_chain("https://rpc.example.org", None)
    assert not expects_local_chain(None, "ethereum:sepolia:node")


def test_a_wrong_passphrase_is_said_before_connecting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No chain runs on the port: the error is the passphrase's, so the key was checked first."""
    new_keyfile(tmp_path, "admin", "right")
    monkeypatch.setenv("ZKFL_ADMIN_PASSPHRASE", "wrong")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(main, ["admin", "abort", "--workdir", str(tmp_path), "--anvil-port", str(port)])
    assert result.exit_code == 1
    assert "cannot decrypt" in result.output and "no chain answers" not in result.output


def test_the_zkfl_command_loads_no_heavy_library_before_it_speaks() -> None:
    """`zkfl ...` imports neither torch, ezkl nor ape until a command needs them, so each party prints its first
    line at once (on a loaded machine those imports took minutes of silence)."""
    import subprocess
    import sys

    heavy = "('torch', 'ezkl', 'ape', 'sklearn')"
    code = f"import sys, zkfl_dapp.apps.zkfl; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_a_party_speaks_before_anything_slow(tmp_path: Path) -> None:
    """The first line comes before the key, the libraries and the chain: here the chain is absent."""
    import socket
    import subprocess
    import sys

    dev_keyfiles(tmp_path, MNEMONIC, 5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "zkfl_dapp.apps.zkfl", "hospital", "--index", "0", "--once"]
    cmd += ["--workdir", str(tmp_path), "--anvil-port", str(port)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    err = out.stderr
    assert "hospital-0: starting" in err.splitlines()[0]
    assert err.index("starting") < err.index("key unlocked") < err.index("loading the ML and chain libraries")
    assert out.returncode == 1 and err.index("loading the ML") < err.index("no chain answers")


def test_the_admin_agrees_each_bundled_shards_size_as_its_hospitals_sample_cap(tmp_path: Path) -> None:
    """`zkfl admin deploy` admits each hospital with its shard's size as its cap; with their own records the
    admin cannot know their sizes, and says so instead of inventing a cap."""
    from zkfl_dapp.apps.parties.admin import sample_caps
    from zkfl_dapp.config import Settings
    from zkfl_dapp.protocol.wiring import load_split

    settings = Settings(workdir=tmp_path)
    split = load_split(settings)
    caps = sample_caps(settings, split)
    assert caps == {f"hospital-{i}": shard.num_samples // 10 * 10 for i, shard in enumerate(split.shards)}
    assert sorted(caps) == [f"hospital-{i}" for i in range(settings.hospitals)] and all(caps.values())
    records = tmp_path / "records.csv"
    records.write_text("x\n")
    assert sample_caps(Settings(workdir=tmp_path, records=records), split) == {}
