"""`ape run demo` (and `make demo`): a full local consortium over several verifiable rounds."""

from __future__ import annotations

import click

from zkfl_dapp.apps.cli import build_settings, clean_errors, network_option, settings_options
from zkfl_dapp.apps.launcher import parse_dropout
from zkfl_dapp.apps.process import clear_workdir, replaceable_workdir, workdir_lock
from zkfl_dapp.apps.session import print_round, say, session
from zkfl_dapp.config import Settings


@click.command(short_help="Deploy a consortium and run several proven rounds on real medical data")
@network_option
@settings_options
@click.option("--rounds", type=int, default=None, help="number of rounds (default 5)")
@click.option(
    "--dropout",
    default="4:4",
    show_default=True,
    help="ROUND:HOSPITAL: that hospital misses that round, which then finalizes on quorum ('' for none)",
)
@clean_errors
def cli(network: str | None, rounds: int | None, dropout: str, **overrides: object) -> None:
    settings = build_settings(rounds=rounds, **overrides)
    absent_in = parse_dropout(dropout)
    if not replaceable_workdir(settings.workdir):
        raise click.ClickException(
            f"{settings.workdir} exists and is not a zkFL work directory: the demo replaces its work directory, "
            "so give it a new or empty --workdir (nothing was deleted)"
        )
    with workdir_lock(settings.workdir):
        if clear_workdir(settings.workdir):  # a demo always starts a new consortium
            say(f"replaced the previous demo consortium in {settings.workdir}")
        _run_demo(settings, network, absent_in)


def _run_demo(settings: Settings, network: str | None, absent_in: dict[int, int]) -> None:
    with session(settings, network) as s:
        consortium = s.bootstrap()
        reports = []
        for r in range(1, settings.rounds + 1):
            absent = frozenset({absent_in[r]}) if r in absent_in else frozenset()
            reports.append(consortium.run_round(absent=absent))
            print_round(reports[-1])
        last = reports[-1]
        gap = abs(last.accuracy - last.baseline_accuracy)
        click.echo(
            f"\nafter {len(reports)} rounds: proven model {last.accuracy:.2%}, "
            f"plain FedAvg {last.baseline_accuracy:.2%}"
            f" (gap {gap * 100:.2f} pp; target <= 1 pp: {'met' if gap <= 0.01 else 'NOT met'})"
        )
    if s.anvil is not None:
        say(f"chain state: {settings.chain_state} (anvil --state; `ape run round` continues this consortium)")
    else:
        say(f"chain: {network} (state kept by that network's node; deployment in {settings.deployment_file})")
    say(f"content store: {settings.store_dir}; reports: {settings.reports_dir}; circuits: {settings.artifacts_dir}")
    if s.anvil is not None:
        options = "" if settings.workdir == Settings().workdir else f" --workdir {settings.workdir}"
        if settings.anvil_port != Settings().anvil_port:
            options += f" --anvil-port {settings.anvil_port}"
        say(f"web UI: `ape run serve{options}`, then open http://127.0.0.1:8080/")
