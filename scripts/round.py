"""`ape run round`: run one verifiable round on a consortium deployed by `ape run deploy` or the demo."""

from __future__ import annotations

import click

from zkfl_dapp.apps.cli import build_settings, clean_errors, network_option, settings_options
from zkfl_dapp.apps.session import print_round, session


@click.command(short_help="Run one round: train, commit, encrypt, submit, prove, finalize")
@network_option
@settings_options
@click.option("--absent", multiple=True, type=int, help="index of a hospital that sits this round out")
@clean_errors
def cli(network: str | None, absent: tuple[int, ...], **overrides: object) -> None:
    settings = build_settings(**overrides)
    with session(settings, network) as s:
        consortium = s.attach()
        print_round(consortium.run_round(absent=frozenset(absent)))
