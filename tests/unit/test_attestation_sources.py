"""The evidence sources of a real enclave (zkfl_dapp/attestation/sources.py) are untested on hardware here; off
it, each refuses with a message that names what is missing, and the default source is the development one."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkfl_dapp.attestation.sources import configfs_tsm_report, enclave_evidence, nitro_attestation
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
