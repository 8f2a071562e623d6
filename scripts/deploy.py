"""`ape run deploy`: deploy the consortium's contracts, admit the parties, publish the enclave key."""

from __future__ import annotations

import shutil

import click

from zkfl_dapp.apps.cli import build_settings, clean_errors, network_option, settings_options
from zkfl_dapp.apps.session import say, session


@click.command(short_help="Deploy a new consortium (contracts, members, enclave key, genesis model)")
@network_option
@settings_options
@click.option("--fresh/--keep", default=True, help="start from an empty workdir (chain state, store, keys)")
@clean_errors
def cli(network: str | None, fresh: bool, **overrides: object) -> None:
    settings = build_settings(**overrides)
    if fresh and settings.workdir.exists():
        shutil.rmtree(settings.workdir)
    with session(settings, network) as s:
        consortium = s.bootstrap()
        for name, address in consortium.deployment.addresses().items():
            click.echo(f"{name}: {address}")
        say(f"deployment recorded in {settings.deployment_file}")
