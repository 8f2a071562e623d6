"""``zkfl attestation``: the TEE evidence of the enclave key (docs/operators.md, "Attestation").

zkfl attestation verify evidence.json [--at UNIX]     # offline: kind, measurement id, report data
zkfl attestation approve --index 0 0x<measurement>     # a hospital approves a measurement (majority allowlists)
zkfl attestation revoke 0x<measurement>                # the admin takes it off the allowlist
zkfl attestation accept aws-nitro [--refuse]           # the admin accepts (or refuses) an evidence kind
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from zkfl_dapp.apps.cli import clean_errors


@click.group()
def attestation() -> None:
    """The enclave key's TEE evidence: verify it, approve or revoke measurements, accept evidence kinds."""


@attestation.command("verify")
@click.argument("evidence_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--at", "at", type=int, default=None, help="unix time to verify at (default: now)")
@clean_errors
def verify(evidence_file: Path, at: int | None) -> None:
    """Verify EVIDENCE_FILE offline against the vendors' pinned roots; print its kind, the measurement id that
    hospitals pin and approve, and its report data (the key binding)."""
    from zkfl_dapp.attestation.evidence import EvidenceFile
    from zkfl_dapp.attestation.verify import verify_evidence_file

    verified = verify_evidence_file(EvidenceFile.parse(evidence_file.read_bytes()), at=at or int(time.time()))
    click.echo(f"kind: {verified.kind.label}\nmeasurement: 0x{verified.measurement.hex()}")
    click.echo(f"report data: 0x{verified.report_data.hex()}")
    for name, value in verified.details.items():
        click.echo(f"{name}: {value}")
