"""``zkfl keys``: each party's encrypted keyfile, funded on the local development chain.

zkfl keys new --role hospital-0     # a new random key, encrypted under its passphrase; funded on the local chain
zkfl keys fund --role hospital-0    # fund it later (local chain only)
zkfl keys dev                       # development keyfiles from the test mnemonic (local chain only)
zkfl keys list                      # the roles with a keyfile and their addresses
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from zkfl_dapp.apps import keys as keystore
from zkfl_dapp.apps.cli import build_settings, clean_errors, settings_options
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import ConfigError

rpc_option = click.option("--rpc-url", default=None, help="the chain's RPC (default: local anvil at --anvil-port)")


@click.group()
def keys() -> None:
    """Encrypted keyfiles, one per role, in <workdir>/keys/."""


#: What `keys new` / `keys fund` give a key on the local chain: enough for thousands of rounds at any gas price.
LOCAL_FUNDING_ETH = 1000
fund_option = click.option(
    "--fund/--no-fund",
    default=True,
    show_default=True,
    help=f"on the local chain (running `zkfl chain`), give the key {LOCAL_FUNDING_ETH} ETH",
)


def _fund_local(settings: Settings, role: str, address: str, rpc_url: str | None) -> None:
    if not keystore.expects_local_chain(rpc_url, None):
        raise ConfigError(f"{rpc_url} is not the local chain: fund {address} on that network yourself")
    url = rpc_url or f"http://127.0.0.1:{settings.anvil_port}"
    keystore.fund_on_local_chain(url, address, LOCAL_FUNDING_ETH * 10**18)
    click.echo(f"{role}: funded with {LOCAL_FUNDING_ETH} ETH on the local chain at {url}")


@keys.command("new")
@settings_options
@click.option("--role", required=True, help="admin, aggregator, auditor or hospital-<i>")
@fund_option
@rpc_option
@clean_errors
def keys_new(role: str, fund: bool, rpc_url: str | None, **overrides: Any) -> None:
    """A new random key for ROLE, encrypted under ZKFL_<ROLE>_PASSPHRASE (or a passphrase asked twice); funded on
    the local chain when `zkfl chain` runs (otherwise it says how)."""
    from zkfl_dapp.exceptions import ChainError

    settings = build_settings(**overrides)
    passphrase = os.environ.get(keystore.passphrase_env(role))
    if not passphrase:
        if not sys.stdin.isatty():
            raise ConfigError(f"set {keystore.passphrase_env(role)} or run on a terminal to choose a passphrase")
        passphrase = click.prompt(f"passphrase for {role}'s keyfile", hide_input=True, confirmation_prompt=True)
    address = keystore.new_keyfile(settings.workdir, role, passphrase)
    click.echo(f"{role}: {address} ({keystore.keyfile_path(settings.workdir, role)})")
    if fund and keystore.expects_local_chain(rpc_url, None):
        try:
            _fund_local(settings, role, address, rpc_url)
        except ChainError as exc:
            click.echo(f"{role}: not funded ({exc}); later: `zkfl keys fund --role {role}`")


@keys.command("fund")
@settings_options
@click.option("--role", required=True, help="admin, aggregator, auditor or hospital-<i>")
@rpc_option
@clean_errors
def keys_fund(role: str, rpc_url: str | None, **overrides: Any) -> None:
    """Give ROLE's key 1000 ETH on the local development chain (anvil_setBalance); on any other network, fund
    the address shown by `zkfl keys list` from an account of yours."""
    settings = build_settings(**overrides)
    address = keystore.keyfile_address(keystore.keyfile_path(settings.workdir, role))
    _fund_local(settings, role, address, rpc_url)


@keys.command("dev")
@settings_options
@clean_errors
def keys_dev(**overrides: Any) -> None:
    """Development keyfiles for every role from the test mnemonic (local chain only: public keys)."""
    settings = build_settings(**overrides)
    for role, address in keystore.dev_keyfiles(settings.workdir, settings.mnemonic, settings.hospitals).items():
        click.echo(f"{role}: {address}")


@keys.command("list")
@settings_options
@clean_errors
def keys_list(**overrides: Any) -> None:
    """The roles with a keyfile in the work directory, and their addresses."""
    settings = build_settings(**overrides)
    for path in sorted((settings.workdir / "keys").glob("*.json")):
        click.echo(f"{path.stem}: {keystore.keyfile_address(path)}")
