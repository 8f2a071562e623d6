"""The evidence sources of a real enclave (zkfl_dapp/attestation/sources.py) are untested on hardware here; off
it, each refuses with a message that names what is missing, and the default source is the development one."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkfl_dapp.attestation.sources import configfs_tsm_report, enclave_evidence, nitro_attestation, sev_snp_evidence
from zkfl_dapp.exceptions import AttestationError

KEY, REGISTRY = b"\x07" * 1184, "0x" + "ab" * 20


def test_development_source_gives_no_evidence():
    assert enclave_evidence("development", KEY, 31337, REGISTRY) is None


def test_unknown_source_is_refused():
    with pytest.raises(AttestationError, match="unknown evidence source 'sgx'"):
        enclave_evidence("sgx", KEY, 31337, REGISTRY)


def test_configfs_tsm_off_a_tee_guest_says_so(tmp_path: Path):
    with pytest.raises(AttestationError, match="not a TDX or SEV-SNP guest with configfs-tsm"):
        configfs_tsm_report(bytes(64), root=tmp_path / "absent")
    with pytest.raises(AttestationError, match="REPORTDATA is 64 bytes"):
        configfs_tsm_report(bytes(32), root=tmp_path)


def test_nitro_nsm_off_an_enclave_says_so(tmp_path: Path):
    with pytest.raises(AttestationError, match="not inside an AWS Nitro Enclave"):
        nitro_attestation(bytes(32), device=tmp_path / "nsm")


def test_sev_snp_evidence_takes_amds_cert_chain():
    from cryptography.hazmat.primitives.serialization import Encoding

    from tests.attestation_pki import amd, der

    pki = amd()
    chain = pki.ask.public_bytes(Encoding.PEM) + pki.ark.public_bytes(Encoding.PEM)  # KDS order: ASK, then ARK
    evidence = sev_snp_evidence(b"report", der(pki.vcek), chain)
    assert evidence.fields == {"report": b"report", **pki.fields}
    for bad in (pki.ask.public_bytes(Encoding.PEM), chain + chain, b"not PEM"):
        with pytest.raises(AttestationError, match="cert_chain"):
            sev_snp_evidence(b"report", der(pki.vcek), bad)


def test_cli_verify_prints_the_measurement_hospitals_pin(tmp_path: Path):
    from click.testing import CliRunner

    from tests.attestation_pki import AT, amd, sha256, snp_report
    from zkfl_dapp.apps.zkfl import main
    from zkfl_dapp.attestation import EvidenceFile, EvidenceKind, measurement_id

    report = snp_report(measurement=b"\x5a" * 48)
    path = tmp_path / "evidence.json"
    path.write_bytes(EvidenceFile(EvidenceKind.AMD_SEV_SNP, {"report": report, **amd().fields}).to_bytes())
    pins = ["--amd-ark-sha256", sha256(amd().ark), "--amd-ask-sha256", sha256(amd().ask)]
    result = CliRunner().invoke(main, ["attestation", "verify", str(path), "--at", str(AT), *pins])
    assert result.exit_code == 0, result.output
    expected = measurement_id(EvidenceKind.AMD_SEV_SNP, b"\x5a" * 48)
    assert "kind: amd-sev-snp" in result.output and f"measurement: 0x{expected.hex()}" in result.output
    vendor = CliRunner().invoke(main, ["attestation", "verify", str(path), "--at", str(AT)])  # AMD's roots only
    assert vendor.exit_code != 0 and "ARK certificate's SHA-256 fingerprint" in vendor.output
    expired = CliRunner().invoke(main, ["attestation", "verify", str(path), "--at", str(AT + 3651 * 86400), *pins])
    assert expired.exit_code != 0 and "ARK certificate is valid" in expired.output
