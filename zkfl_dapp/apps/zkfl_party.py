"""What every ``zkfl`` party command shares: the chain options and acting as a role (its key unlocked first)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import click

from zkfl_dapp.apps import keys as keystore
from zkfl_dapp.apps.cli import say, settings_options
from zkfl_dapp.apps.journal import party_dir
from zkfl_dapp.apps.process import terminate_as_exit, workdir_lock
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import ConfigError

rpc_option = click.option("--rpc-url", default=None, help="the chain's RPC (default: local anvil at --anvil-port)")
network_option = click.option("--network", default=None, help="an ape network choice instead of --rpc-url")
poll_option = click.option("--poll", "interval", type=float, default=1.0, show_default=True, help="seconds")


def party_options(func: Callable[..., Any]) -> Callable[..., Any]:
    return settings_options(rpc_option(network_option(func)))


@contextlib.contextmanager
def acting_as(role: str, settings: Settings, rpc_url: str | None, network: str | None) -> Iterator[tuple[Any, Any]]:
    """Connected to the chain as ``role`` (its keyfile decrypted), holding the role's lock in the work directory;
    yields (connection, account). The key is unlocked first, so a missing keyfile or a wrong passphrase is said
    before the (slow) chain connection."""
    say(f"{role}: starting")
    with contextlib.ExitStack() as stack:
        stack.enter_context(workdir_lock(party_dir(settings.workdir, role)))
        from zkfl_dapp.circuits.proving import sweep_stale_scratch  # loads ezkl: not for `zkfl --help`

        for stale in sweep_stale_scratch(settings.workdir, skip=[settings.store_dir]):
            say(f"{role}: removed {stale}, the plaintext inputs of a prover that was killed")
        stack.enter_context(terminate_as_exit())
        local = keystore.expects_local_chain(rpc_url, network)
        path = keystore.keyfile_path(settings.workdir, role)
        passphrase = keystore.resolve_passphrase(
            role, local=local, env=os.environ, prompt=keystore.prompt_on_terminal(), keyfile=path
        )
        account = keystore.load_signer(path, passphrase)
        say(f"{role}: key unlocked ({account.address}); loading the ML and chain libraries, then the chain")
        parties = _parties()
        conn = stack.enter_context(parties.connect(settings, rpc_url=rpc_url, network=network))
        if passphrase == keystore.DEV_KEY_PASSPHRASE and not conn.local:
            raise ConfigError(f"{path} is a development keyfile (public passphrase): refused off the local chain")
        if conn.chain.provider.get_balance(account.address) == 0:
            how = f"`zkfl keys fund --role {role}`" if conn.local else "send it ether from an account of yours"
            raise ConfigError(f"{role} {account.address} has no ether on this chain to pay for transactions: {how}")
        say(f"{role}: acting as {account.address}")
        yield conn, account


def _parties() -> Any:
    """The party implementations, imported on first use: they load torch, ezkl and ape (seconds, minutes on a
    loaded machine), so every command says something first."""
    from zkfl_dapp.apps import parties

    return parties
