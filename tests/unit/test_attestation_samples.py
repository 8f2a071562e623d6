"""Real vendor-signed evidence against the vendors' pinned roots (production defaults), with tampered variants.
The samples are public but not part of this repository: fetch them into one directory and point
``ZKFL_ATTESTATION_SAMPLES`` at it (docs/auditors.md, "Attestation", names each file's repository, path and
commit). Without it these tests are skipped with that reason."""

from __future__ import annotations

import base64
import calendar
import json
import os
import time
from pathlib import Path

import cbor2
import pytest

from zkfl_dapp.attestation import EvidenceFile, EvidenceKind, verify_evidence_file
from zkfl_dapp.attestation.nitro import verify_nitro
from zkfl_dapp.attestation.sev_snp import verify_sev_snp
from zkfl_dapp.attestation.sources import sev_snp_evidence
from zkfl_dapp.attestation.tdx import verify_tdx
from zkfl_dapp.exceptions import AttestationError

SAMPLES = os.environ.get("ZKFL_ATTESTATION_SAMPLES", "")
pytestmark = pytest.mark.skipif(
    not SAMPLES,
    reason="ZKFL_ATTESTATION_SAMPLES is not set: the vendors' sample evidence is not in this repository "
    "(docs/auditors.md, 'Attestation', says where to fetch it)",
)


def _utc(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def _read(name: str) -> bytes:
    path = Path(SAMPLES) / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: ZKFL_ATTESTATION_SAMPLES must hold every sample docs/auditors.md lists")
    return path.read_bytes()


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


NITRO_AT = _utc("2022-10-13T09:00:00Z")  # document issued 08:58:02Z, leaf valid until 11:58:02Z
TDX_AT = _utc("2025-06-20T12:00:00Z")  # collateral valid 2025-06-19 to 2025-07-19
SNP_AT = _utc("2025-01-01T00:00:00Z")  # VCEK valid 2023-04-03 to 2030-04-03


# --- AWS Nitro (evervault/attestation-doc-validation) -------------------------------------------------------
def test_nitro_sample_verifies_to_aws_root():
    ev = verify_nitro(_read("valid-attestation-doc-bytes"), at=NITRO_AT)
    assert ev.kind is EvidenceKind.AWS_NITRO and ev.details["pcr0"].startswith("f4d48b81a460c991")


def test_nitro_sample_tampered_is_refused():
    protected, unprotected, payload, signature = cbor2.loads(_read("valid-attestation-doc-bytes"))
    with pytest.raises(AttestationError, match="signature does not verify"):
        verify_nitro(cbor2.dumps([protected, unprotected, payload, _flip(signature, 10)]), at=NITRO_AT)
    doc = cbor2.loads(payload)
    doc["pcrs"][0] = bytes(47) + b"\x01"
    with pytest.raises(AttestationError, match="signature does not verify"):
        verify_nitro(cbor2.dumps([protected, unprotected, cbor2.dumps(doc), signature]), at=NITRO_AT)
    with pytest.raises(AttestationError, match="does not verify to the pinned Nitro root"):
        verify_nitro(_read("valid-attestation-doc-bytes"), at=_utc("2022-10-13T12:30:00Z"))


def test_nitro_debug_sample_is_refused():
    debug = base64.b64decode(_read("valid-attestation-doc-base64"))
    with pytest.raises(AttestationError, match="debug-mode enclave"):
        verify_nitro(debug, at=_utc("2023-09-18T15:05:00Z"))


# --- Intel TDX (Phala-Network/dcap-qvl) ---------------------------------------------------------------------
def test_tdx_sample_verifies_to_intel_root():
    ev = verify_tdx(_read("tdx_quote"), _read("tdx_quote_collateral.json"), at=TDX_AT)
    assert ev.details["tcb_status"] == "UpToDate" and ev.details["mr_td"].startswith("91eb2b44d141d4ec")


def test_tdx_sample_tampered_is_refused():
    quote, collateral = _read("tdx_quote"), _read("tdx_quote_collateral.json")
    for offset in (48 + 136, 48 + 584 + 4 + 10):  # a byte of MRTD, of the quote signature
        with pytest.raises(AttestationError, match="does not verify"):
            verify_tdx(_flip(quote, offset), collateral, at=TDX_AT)
    body = json.loads(collateral)
    body["tcb_info"] = body["tcb_info"].replace('"tcbEvaluationDataNumber":', '"tcbEvaluationDataNumber": ', 1)
    with pytest.raises(AttestationError, match="does not verify"):
        verify_tdx(quote, json.dumps(body).encode(), at=TDX_AT)
    with pytest.raises(AttestationError, match="does not verify"):
        verify_tdx(quote, collateral, at=_utc("2025-08-01T00:00:00Z"))
    with pytest.raises(AttestationError, match="TCB status UpToDate"):
        verify_tdx(quote, collateral, at=TDX_AT, tcb_statuses=frozenset({"SWHardeningNeeded"}))


# --- AMD SEV-SNP (virtee/sev: a Milan report, its VCEK, and the KDS cert_chain) ---------------------------
def _snp() -> EvidenceFile:
    # cert_chain_milan is AMD KDS's /vcek/v1/Milan/cert_chain (ASK, then ARK), as an operator fetches it
    report = bytes.fromhex(_read("report_milan.hex").decode())
    return sev_snp_evidence(report, _read("vcek_milan.der"), _read("cert_chain_milan"))


def test_sev_snp_sample_verifies_to_amd_milan_roots():
    ev = verify_evidence_file(_snp(), at=SNP_AT)
    assert ev.details["measurement"].startswith("7a1e5c266c0108db")


def test_sev_snp_sample_tampered_is_refused():
    f = _snp().fields
    for offset in (0x90, 0x50, 0x2A0 + 5):
        with pytest.raises(AttestationError, match="signature does not verify"):
            verify_sev_snp(_flip(f["report"], offset), f["vcek"], f["ask"], f["ark"], at=SNP_AT)
    with pytest.raises(AttestationError, match="not signed by the pinned AMD chain|does not parse"):
        verify_sev_snp(f["report"], _flip(f["vcek"], 300), f["ask"], f["ark"], at=SNP_AT)
    with pytest.raises(AttestationError, match="VCEK certificate is valid"):
        verify_sev_snp(f["report"], f["vcek"], f["ask"], f["ark"], at=_utc("2031-01-01T00:00:00Z"))
    with pytest.raises(AttestationError, match="ASK certificate's SHA-256 fingerprint"):
        verify_sev_snp(f["report"], f["vcek"], _flip(f["ask"], 300), f["ark"], at=SNP_AT)
