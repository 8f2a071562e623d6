"""``zkfl attestation``: the TEE evidence of the enclave key (docs/operators.md, "Attestation").

zkfl attestation verify evidence.json [--at UNIX]     # offline: kind, measurement id, report data
                                                      # (--amd-ark-sha256 ... pins another vendor root)
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
@click.option("--nitro-root-sha256", default=None, help="pin another Nitro root (default: AWS's root G1)")
@click.option("--amd-ark-sha256", default=None, help="pin another AMD ARK, e.g. Genoa's (default: Milan's)")
@click.option("--amd-ask-sha256", default=None, help="pin another AMD ASK (default: Milan's)")
@clean_errors
def verify(
    evidence_file: Path,
    at: int | None,
    nitro_root_sha256: str | None,
    amd_ark_sha256: str | None,
    amd_ask_sha256: str | None,
) -> None:
    """Verify EVIDENCE_FILE offline against the vendors' roots (pinned by SHA-256 fingerprint); print its kind,
    the measurement id that hospitals pin and approve, and its report data (the key binding)."""
    import dataclasses

    from zkfl_dapp.attestation.evidence import EvidenceFile
    from zkfl_dapp.attestation.roots import VENDOR_ANCHORS
    from zkfl_dapp.attestation.verify import verify_evidence_file

    pins = {"nitro_root_sha256": nitro_root_sha256, "amd_ark_sha256": amd_ark_sha256, "amd_ask_sha256": amd_ask_sha256}
    anchors = dataclasses.replace(VENDOR_ANCHORS, **{k: v for k, v in pins.items() if v is not None})
    evidence = EvidenceFile.parse(evidence_file.read_bytes())
    verified = verify_evidence_file(evidence, at=at or int(time.time()), anchors=anchors)
    click.echo(f"kind: {verified.kind.label}\nmeasurement: 0x{verified.measurement.hex()}")
    click.echo(f"report data: 0x{verified.report_data.hex()}")
    for name, value in verified.details.items():
        click.echo(f"{name}: {value}")
