"""`ape run round`: run one verifiable round on a consortium deployed by `ape run deploy` or the demo.

A round left open by an earlier run (anvil or this process stopped, Ctrl-C while proving) is completed
with ``--resume`` (hospitals that have not submitted submit, the enclave finalizes; nothing already on-chain
is sent twice) or aborted with ``--abort`` (after its deadline; the global model stays as it was).
"""

from __future__ import annotations

import click

from zkfl_dapp.apps.cli import build_settings, clean_errors, network_option, settings_options
from zkfl_dapp.apps.session import print_round, say, session


@click.command(short_help="Run one round: train, commit, encrypt, submit, prove, finalize")
@network_option
@settings_options
@click.option("--absent", multiple=True, type=int, help="index of a hospital that sits this round out")
@click.option("--resume", is_flag=True, help="complete the round left open by an earlier run")
@click.option("--abort", "abort_", is_flag=True, help="abort the round left open by an earlier run")
@clean_errors
def cli(network: str | None, absent: tuple[int, ...], resume: bool, abort_: bool, **overrides: object) -> None:
    if resume and abort_:
        raise click.UsageError("--resume and --abort exclude each other")
    settings = build_settings(**overrides)
    with session(settings, network) as s:
        consortium = s.attach()
        if abort_:
            say(f"round {consortium.abort_open_round()} aborted")
        elif resume:
            print_round(consortium.resume_round(absent=frozenset(absent)))
        else:
            print_round(consortium.run_round(absent=frozenset(absent)))
