"""`ape run audit`: re-check a deployment and every round from the chain and the content store alone: the
published circuits and KZG basis, each FedAvg commitment (derived on-chain, re-derived here; per chunk for a
model committed in chunks), the norm proofs (or every chunk proof) and median proofs, the model files, the CIDs
and the lineage, and the prediction receipts of every PredictionRegistry the ConsortiumRegistry records on-chain.
Prints which proofs were checked where (on-chain, and again by the auditor)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from zkfl_dapp.apps.cli import build_settings, clean_errors, network_option, settings_options
from zkfl_dapp.apps.session import say, session
from zkfl_dapp.audit.auditor import audit, record_audit
from zkfl_dapp.audit.report import AuditReport
from zkfl_dapp.chain.deployment import round_manager_at
from zkfl_dapp.exceptions import ConfigError
from zkfl_dapp.protocol.wiring import bound_policy


def _table(report: AuditReport) -> str:
    rows = report.table()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@click.command(short_help="Audit a deployment: re-check every round: weights, commitment, proofs, model, lineage")
@network_option
@settings_options
@click.option("--round-manager", "round_manager", default=None, help="address (default: <workdir>/deployment.json)")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="JSON report path")
@click.option("--markdown", "md_path", type=click.Path(path_type=Path), default=None, help="Markdown report path")
@click.option("--record", is_flag=True, help="as the auditor account, publish the report and record verdicts on-chain")
@clean_errors
def cli(
    network: str | None,
    round_manager: str | None,
    json_path: Path | None,
    md_path: Path | None,
    record: bool,
    **overrides: object,
) -> None:
    settings = build_settings(**overrides)
    out_dir = settings.workdir / "audit"
    json_path = json_path or out_dir / "audit.json"
    md_path = md_path or out_dir / "audit.md"
    source = "--round-manager"
    if round_manager is None:
        source = str(settings.deployment_file)
        try:
            round_manager = json.loads(settings.deployment_file.read_text())["contracts"]["RoundManager"]
        except FileNotFoundError as exc:
            raise ConfigError(
                f"no deployment record at {settings.deployment_file}: pass --round-manager or run `ape run deploy`"
            ) from exc
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"deployment record {settings.deployment_file} is malformed: {exc}") from exc
    with session(settings, network) as s:
        rm = round_manager_at(s.project, s.chain, round_manager, source)
        report = audit(
            rm,
            s.storage,
            chain=s.chain,
            project=s.project,
            workdir=out_dir / "work",
            progress=say,
            policy=bound_policy(settings),
        )
        json_path.parent.mkdir(parents=True, exist_ok=True)
        md_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(report.to_json())
        md_path.write_text(report.to_markdown())
        say(f"reports written to {json_path} and {md_path}")
        if record:
            if s.roles.auditor is None:
                raise ConfigError("no auditor account: set ZKFL_AUDITOR_ALIAS on a non-local network")
            recorded = record_audit(report, rm, s.storage, s.roles.auditor)
            say(f"recorded {len(recorded)} verdicts on-chain (report {next(iter(recorded.values()), '-')})")
    click.echo(_table(report))
    for name, ok in report.deployment_checks.items():
        click.echo(f"deployment {name}: {'–' if ok is None else '✓' if ok else '✗'}")
    if report.enclave:
        click.echo(report.enclave_line())
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo("\nproofs, and where each was checked:")
    for line in report.proof_sites():
        click.echo(f"  {line}")
    if report.findings:
        click.echo("\nfindings:")
        for f in report.findings:
            click.echo(f"  {f.line()}")
    if not report.passed:
        click.echo(f"\nAUDIT FAILED: {len(report.errors)} discrepancies", err=True)
        sys.exit(1)
    click.echo("\naudit passed: every check holds")
