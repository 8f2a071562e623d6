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
from typing import Any

import click

from zkfl_dapp.apps.cli import build_settings, clean_errors, say
from zkfl_dapp.apps.zkfl_party import acting_as, party_options
from zkfl_dapp.exceptions import ConfigError


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


KINDS = ["development", "aws-nitro", "intel-tdx", "amd-sev-snp"]


def _measurement(text: str) -> bytes:
    try:
        value = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        value = b""
    if len(value) != 32:
        raise ConfigError(f"{text!r} is not a measurement id (0x + 64 hex digits)")
    return value


@attestation.command("approve")
@party_options
@click.option("--index", type=int, required=True, help="this hospital's index (its role is hospital-<index>)")
@click.argument("measurement")
@clean_errors
def approve(rpc_url: str | None, network: str | None, index: int, measurement: str, **overrides: Any) -> None:
    """As hospital INDEX, approve MEASUREMENT (e.g. from your own reproducible build of the enclave); it is
    allowlisted once more than half of the member hospitals approved it. Pin it locally too
    (ZKFL_ENCLAVE_MEASUREMENTS)."""
    value = _measurement(measurement)
    settings = build_settings(**overrides)
    with acting_as(f"hospital-{index}", settings, rpc_url, network) as (conn, account):
        registry = conn.deployment(settings).registry
        registry.approveMeasurement(value, sender=account)
        state = "allowlisted" if registry.isMeasurementAllowed(value) else "not yet allowlisted"
        say(f"approved {measurement}: {registry.measurementApprovals(value)} approvals, {state}")


@attestation.command("revoke")
@party_options
@click.argument("measurement")
@clean_errors
def revoke(rpc_url: str | None, network: str | None, measurement: str, **overrides: Any) -> None:
    """As the admin, take MEASUREMENT off the allowlist: hospitals then refuse to encrypt to a key with it."""
    value = _measurement(measurement)
    settings = build_settings(**overrides)
    with acting_as("admin", settings, rpc_url, network) as (conn, account):
        conn.deployment(settings).registry.revokeMeasurement(value, sender=account)
    say(f"revoked {measurement}")


@attestation.command("accept")
@party_options
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--refuse", is_flag=True, help="stop accepting KIND instead")
@clean_errors
def accept(rpc_url: str | None, network: str | None, kind: str, refuse: bool, **overrides: Any) -> None:
    """As the admin, accept (or --refuse) enclave keys vouched for by KIND of evidence."""
    from zkfl_dapp.attestation.evidence import EvidenceKind

    settings = build_settings(**overrides)
    with acting_as("admin", settings, rpc_url, network) as (conn, account):
        registry = conn.deployment(settings).registry
        registry.setEvidenceKindAccepted(int(EvidenceKind.from_label(kind)), not refuse, sender=account)
    say(f"{kind} evidence {'refused' if refuse else 'accepted'}")
