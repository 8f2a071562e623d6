"""`ape run attack`: one poisoning scenario on the real stack (chain, proofs), beside its simulation."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from zkfl_dapp.apps.cli import clean_errors
from zkfl_dapp.apps.session import say
from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.experiments.attack_eval.simulate import Scenario
from zkfl_dapp.experiments.attack_proven import format_proven, run_proven
from zkfl_dapp.experiments.attacks import ATTACKS


@contextlib.contextmanager
def _stdout_to(path: Path) -> Iterator[None]:
    """Send file descriptor 1 to ``path``: ape prints a call trace to stdout for every reverted
    transaction (here: each attacker's rejected submission), bound to the original stdout object."""
    sys.stdout.flush()
    saved = os.dup(1)
    with path.open("w") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


@click.command(short_help="Play one attack scenario with real proofs for FedAvg, norm proofs and the median")
@click.option("--attack", type=click.Choice(sorted(ATTACKS)), default="sign_flip", show_default=True)
@click.option("--malicious", type=click.IntRange(1, 2), default=2, show_default=True, help="the last N hospitals")
@click.option("--split", type=click.Choice(["iid", "dirichlet"]), default="iid", show_default=True)
@click.option("--rounds", type=click.IntRange(1, 20), default=4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--anvil-port", type=int, default=8565, show_default=True)
@click.option("--out", type=click.Path(), default=str(REPO_ROOT / "build" / "attack-eval"), show_default=True)
@click.option("--report", type=click.Path(), default=None, help="also write the Markdown section to this file")
@clean_errors
def cli(
    attack: str, malicious: int, split: str, rounds: int, seed: int, anvil_port: int, out: str, report: str | None
) -> None:
    scenario = Scenario(attack, malicious, split)  # type: ignore[arg-type]
    traces = Path(out) / "proven" / "revert-traces.txt"
    traces.parent.mkdir(parents=True, exist_ok=True)
    say(f"ape's call traces of the attackers' reverted submissions go to {traces}")
    with _stdout_to(traces):
        rows = run_proven(scenario, rounds=rounds, seed=seed, out=Path(out), anvil_port=anvil_port, progress=say)
    text = format_proven(scenario, seed, rows)
    click.echo(text)
    if report:
        Path(report).write_text(text)
        say(f"wrote {report}")
