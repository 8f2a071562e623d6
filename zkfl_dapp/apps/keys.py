"""Each party's own signing key, from an encrypted keyfile in its work directory.

A keyfile is the standard Ethereum JSON keystore (``eth_account.Account.encrypt``: scrypt + AES-128-CTR), one
per role, at ``<workdir>/keys/<role>.json`` (``admin``, ``aggregator``, ``auditor``, ``hospital-0`` ...). Its
passphrase comes from ``ZKFL_<ROLE>_PASSPHRASE`` (``ZKFL_HOSPITAL_0_PASSPHRASE``), else from a prompt on a
terminal; on the local development chain only, a keyfile may be encrypted under the fixed, public
:data:`DEV_KEY_PASSPHRASE` (the demo and the tests make such keyfiles from the test mnemonic, whose accounts
anvil funds). Anywhere else that passphrase is refused, as the enclave key file's development passphrase is
(:meth:`zkfl_dapp.config.Settings.enclave_key_passphrase`).

Nothing here touches ape's data folder (``~/.ape``): a decrypted key lives only in the process's memory, as
an ape signer (``ape_accounts.ApeSigner``) that the contracts' ``sender=`` takes.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from eth_account import Account

from zkfl_dapp.exceptions import ConfigError

DEV_KEY_PASSPHRASE = "zkfl-dapp development key passphrase: NOT A SECRET"
"""The passphrase of the development keyfiles (test mnemonic accounts) on the local chain."""
#: scrypt cost of development keyfiles (their keys are public anyway); real keyfiles use eth-account's default.
DEV_SCRYPT_N = 2**14
_ROLE = re.compile(r"^(admin|aggregator|auditor|hospital-\d{1,2})$")
_log = logging.getLogger(__name__)


def check_role(role: str) -> str:
    """``role`` if it names a party (admin, aggregator, auditor, hospital-<i>).

    Raises:
        ConfigError: anything else (a keyfile name must not escape the keys folder).
    """
    if not _ROLE.match(role):
        raise ConfigError(f"unknown role {role!r}: use admin, aggregator, auditor or hospital-<index>")
    return role


def keyfile_path(workdir: Path, role: str) -> Path:
    """Where ``role``'s keyfile lives in a work directory."""
    return workdir / "keys" / f"{check_role(role)}.json"


def passphrase_env(role: str) -> str:
    """The environment variable that holds ``role``'s passphrase: ``ZKFL_HOSPITAL_0_PASSPHRASE``."""
    return "ZKFL_" + check_role(role).upper().replace("-", "_") + "_PASSPHRASE"


def dev_account_index(role: str, hospitals: int) -> int:
    """The test-mnemonic account index of ``role`` (as the in-process runner assigns them: admin 0, aggregator 1,
    hospitals 2.., the auditor after the hospitals)."""
    check_role(role)
    if role == "admin":
        return 0
    if role == "aggregator":
        return 1
    if role == "auditor":
        return 2 + hospitals
    index = int(role.split("-")[1])
    if index >= hospitals:
        raise ConfigError(f"{role}: the consortium has {hospitals} hospitals (hospital-0 .. hospital-{hospitals - 1})")
    return 2 + index


def write_keyfile(path: Path, private_key: bytes, passphrase: str, *, scrypt_n: int | None = None) -> str:
    """Encrypt ``private_key`` under ``passphrase`` into ``path`` (mode 0600); returns the address.

    Raises:
        ConfigError: an empty passphrase, or ``path`` exists (a key is never overwritten).
    """
    if not passphrase:
        raise ConfigError("refusing to write a keyfile under an empty passphrase")
    if path.exists():
        raise ConfigError(f"{path} exists: a keyfile is never overwritten (remove it yourself if you mean to)")
    keystore = Account.encrypt(private_key, passphrase, iterations=scrypt_n)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keystore, f)
    return str(Account.from_key(private_key).address)


def new_keyfile(workdir: Path, role: str, passphrase: str) -> str:
    """A fresh random key for ``role``, encrypted under ``passphrase``; returns its address."""
    if passphrase == DEV_KEY_PASSPHRASE:
        raise ConfigError("the development passphrase is public: choose a passphrase of your own")
    account = Account.create()
    return write_keyfile(keyfile_path(workdir, role), bytes(account.key), passphrase)


def dev_keyfiles(workdir: Path, mnemonic: str, hospitals: int, *, auditor: bool = True) -> dict[str, str]:
    """Development keyfiles for every role of a local consortium, from the test ``mnemonic`` (the accounts anvil
    funds), under :data:`DEV_KEY_PASSPHRASE`; existing ones are kept. Returns role -> address."""
    Account.enable_unaudited_hdwallet_features()
    roles = ["admin", "aggregator", *(f"hospital-{i}" for i in range(hospitals))] + (["auditor"] if auditor else [])
    out: dict[str, str] = {}
    for role in roles:
        account = Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{dev_account_index(role, hospitals)}")
        path = keyfile_path(workdir, role)
        out[role] = str(account.address)
        if not path.exists():
            write_keyfile(path, bytes(account.key), DEV_KEY_PASSPHRASE, scrypt_n=DEV_SCRYPT_N)
    return out


def keyfile_address(path: Path) -> str:
    """The address a keyfile holds the key of (readable without the passphrase)."""
    try:
        return "0x" + str(json.loads(path.read_text())["address"]).removeprefix("0x")
    except FileNotFoundError as exc:
        raise ConfigError(f"no keyfile at {path}: create it with `zkfl keys new --role ...`") from exc
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"{path} is not an Ethereum keyfile: {exc}") from exc


def is_development_keyfile(path: Path) -> bool:
    """Whether ``path`` was written by :func:`dev_keyfiles` (its scrypt cost is :data:`DEV_SCRYPT_N`, which no
    ``keys new`` keyfile uses): only such a keyfile is tried with the public development passphrase."""
    try:
        params = json.loads(path.read_text())["crypto"]["kdfparams"]
        return int(params["n"]) == DEV_SCRYPT_N
    except (OSError, KeyError, TypeError, ValueError):
        return False


def role_names(workdir: Path) -> dict[str, str]:
    """Address (lower case) -> role, for every keyfile in the work directory's ``keys/`` folder."""
    return {keyfile_address(path).lower(): path.stem for path in (workdir / "keys").glob("*.json")}


def resolve_passphrase(
    role: str,
    *,
    local: bool,
    env: Mapping[str, str],
    prompt: Callable[[str], str] | None = None,
    keyfile: Path | None = None,
) -> str:
    """``role``'s keyfile passphrase: ``ZKFL_<ROLE>_PASSPHRASE`` in ``env``; else, on the local chain, the
    development passphrase for a development keyfile (any keyfile when ``keyfile`` is not given); else ``prompt``
    (a terminal).

    Raises:
        ConfigError: the development passphrase off the local chain, or no passphrase and no prompt (the error
            names the variable to set).
    """
    name = passphrase_env(role)
    given = env.get(name)
    if given:
        if given == DEV_KEY_PASSPHRASE and not local:
            raise ConfigError(f"{name} is the public development passphrase: it is accepted on the local chain only")
        return given
    if local and (keyfile is None or is_development_keyfile(keyfile)):
        _log.warning("%s is not set: using the development key passphrase (local chain only)", name)
        return DEV_KEY_PASSPHRASE
    if prompt is None:
        where = f" {keyfile}" if keyfile is not None else ""
        raise ConfigError(f"set {name}: {role}'s keyfile{where} is encrypted and there is no terminal to ask on")
    return prompt(f"passphrase of {role}'s keyfile")


def expects_local_chain(rpc_url: str | None, network: str | None) -> bool:
    """Whether a party command will talk to the local development chain, decided before connecting (so a key is
    unlocked, or refused, before the slow chain connection): the default anvil, a loopback ``--rpc-url``, or an
    ape ``...:local:...`` network. The connection itself is checked again once made."""
    if network is not None:
        return ":local" in network or network == "local"
    if rpc_url is None:
        return True
    from urllib.parse import urlparse

    return urlparse(rpc_url).hostname in ("127.0.0.1", "localhost", "::1")


def load_signer(path: Path, passphrase: str) -> Any:
    """Decrypt a keyfile into an ape account that signs in memory (``ape_accounts.ApeSigner``).

    Raises:
        ConfigError: no such keyfile, not a keyfile, or the wrong passphrase.
    """
    from ape_accounts.accounts import ApeSigner

    keyfile_address(path)  # exists and looks like a keyfile
    try:
        key = Account.decrypt(json.loads(path.read_text()), passphrase)
    except ValueError as exc:
        raise ConfigError(f"cannot decrypt {path}: {exc} (wrong passphrase?)") from exc
    return ApeSigner(private_key="0x" + bytes(key).hex())


def fund_on_local_chain(rpc_url: str, address: str, wei: int) -> None:
    """Give ``address`` a balance of ``wei`` on the local anvil at ``rpc_url`` (``anvil_setBalance``).

    Raises:
        ChainError: nothing answers at ``rpc_url``, or it is not an anvil (a real network cannot be funded so).
    """
    import httpx

    from zkfl_dapp.exceptions import ChainError

    body = {"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance", "params": [address, hex(wei)]}
    try:
        reply = httpx.post(rpc_url, json=body, timeout=10).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ChainError(f"no local chain answers at {rpc_url}: start it with `zkfl chain` ({exc})") from exc
    if "error" in reply:
        raise ChainError(f"{rpc_url} refused anvil_setBalance ({reply['error'].get('message')}): not a local anvil")


def prompt_on_terminal() -> Callable[[str], str] | None:
    """A hidden-input prompt when stdin is a terminal, else None."""
    if not sys.stdin.isatty():
        return None
    import click

    def ask(text: str) -> str:
        return str(click.prompt(text, hide_input=True))

    return ask
