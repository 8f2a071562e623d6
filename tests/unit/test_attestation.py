"""Offline verification of real vendor-signed TEE evidence (tests/data/attestation/ATTRIBUTION.md), each
tampered variant refused, and the key-binding and policy checks a hospital runs before encrypting."""

from __future__ import annotations

import calendar
import dataclasses
import json
from pathlib import Path

import cbor2
import pytest

from zkfl_dapp.attestation import (
    AttestationPolicy,
    EvidenceFile,
    EvidenceKind,
    check_enclave,
    check_key_binding,
    key_binding,
    measurement_id,
    report_data_for,
    verify_evidence_file,
)
from zkfl_dapp.attestation.nitro import verify_nitro
from zkfl_dapp.attestation.sev_snp import verify_sev_snp
from zkfl_dapp.attestation.tdx import verify_tdx
from zkfl_dapp.exceptions import AttestationError

DATA = Path(__file__).resolve().parents[1] / "data" / "attestation"


def _utc(text: str) -> int:
    return calendar.timegm(__import__("time").strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


NITRO_AT = _utc("2022-10-13T09:00:00Z")  # document issued 08:58:02Z, leaf valid until 11:58:02Z
TDX_AT = _utc("2025-06-20T12:00:00Z")  # collateral valid 2025-06-19 to 2025-07-19
SNP_AT = _utc("2025-01-01T00:00:00Z")  # VCEK valid 2023-04-03 to 2030-04-03

NITRO = (DATA / "nitro" / "attestation-doc.cbor").read_bytes()
TDX_QUOTE = (DATA / "tdx" / "quote.bin").read_bytes()
TDX_COLLATERAL = (DATA / "tdx" / "collateral.json").read_bytes()
SNP_REPORT = (DATA / "sev-snp" / "report-milan.bin").read_bytes()
SNP_VCEK = (DATA / "sev-snp" / "vcek-milan.der").read_bytes()


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


# --- AWS Nitro ----------------------------------------------------------------------------------------------
def test_nitro_sample_verifies():
    ev = verify_nitro(NITRO, at=NITRO_AT)
    assert ev.kind is EvidenceKind.AWS_NITRO
    assert ev.details["pcr0"].startswith("f4d48b81a460c991")
    assert len(ev.registers) == 3 * 48
    assert ev.measurement == measurement_id(EvidenceKind.AWS_NITRO, ev.registers)


def test_nitro_refuses_tampered_signature():
    protected, unprotected, payload, signature = cbor2.loads(NITRO)
    forged = cbor2.dumps([protected, unprotected, payload, _flip(signature, 10)])
    with pytest.raises(AttestationError, match="signature does not verify"):
        verify_nitro(forged, at=NITRO_AT)


def test_nitro_refuses_tampered_payload():
    protected, unprotected, payload, signature = cbor2.loads(NITRO)
    doc = cbor2.loads(payload)
    doc["pcrs"][0] = bytes(47) + b"\x01"
    forged = cbor2.dumps([protected, unprotected, cbor2.dumps(doc), signature])
    with pytest.raises(AttestationError, match="signature does not verify"):
        verify_nitro(forged, at=NITRO_AT)


def test_nitro_refuses_foreign_chain():
    protected, unprotected, payload, signature = cbor2.loads(NITRO)
    doc = cbor2.loads(payload)
    other = cbor2.loads(cbor2.loads((DATA / "nitro" / "debug-mode-attestation-doc.cbor").read_bytes())[2])
    doc["cabundle"] = other["cabundle"]  # another instance's intermediates: the leaf no longer chains
    forged = cbor2.dumps([protected, unprotected, cbor2.dumps(doc), signature])
    with pytest.raises(AttestationError, match="does not verify to the pinned AWS root"):
        verify_nitro(forged, at=NITRO_AT)


def test_nitro_refuses_other_root():
    protected, unprotected, payload, signature = cbor2.loads(NITRO)
    doc = cbor2.loads(payload)
    doc["cabundle"] = [doc["cabundle"][1], *doc["cabundle"][1:]]
    forged = cbor2.dumps([protected, unprotected, cbor2.dumps(doc), signature])
    with pytest.raises(AttestationError, match="not the pinned AWS Nitro Enclaves root"):
        verify_nitro(forged, at=NITRO_AT)


@pytest.mark.parametrize("at", [_utc("2022-10-13T12:30:00Z"), _utc("2022-10-12T09:00:00Z")])
def test_nitro_refuses_outside_validity(at):
    with pytest.raises(AttestationError, match="does not verify to the pinned AWS root"):
        verify_nitro(NITRO, at=at)


def test_nitro_refuses_stale_document():
    with pytest.raises(AttestationError, match="not within 60 s"):
        verify_nitro(NITRO, at=NITRO_AT, max_age_s=60)


def test_nitro_refuses_debug_mode():
    debug = (DATA / "nitro" / "debug-mode-attestation-doc.cbor").read_bytes()
    with pytest.raises(AttestationError, match="debug-mode enclave"):
        verify_nitro(debug, at=_utc("2023-09-18T15:05:00Z"))


def test_nitro_refuses_malformed():
    with pytest.raises(AttestationError, match="not CBOR|COSE_Sign1"):
        verify_nitro(b"\xff\x00", at=NITRO_AT)
    protected, unprotected, payload, signature = cbor2.loads(NITRO)
    with pytest.raises(AttestationError, match="not ES384"):
        verify_nitro(cbor2.dumps([cbor2.dumps({1: -7}), unprotected, payload, signature]), at=NITRO_AT)


# --- Intel TDX ----------------------------------------------------------------------------------------------
def test_tdx_sample_verifies():
    ev = verify_tdx(TDX_QUOTE, TDX_COLLATERAL, at=TDX_AT)
    assert ev.kind is EvidenceKind.INTEL_TDX
    assert ev.details["tcb_status"] == "UpToDate"
    assert ev.details["mr_td"].startswith("91eb2b44d141d4ec")
    assert len(ev.report_data) == 64 and len(ev.registers) == 5 * 48


def test_tdx_refuses_tampered_signature():
    with pytest.raises(AttestationError, match="does not verify"):
        verify_tdx(_flip(TDX_QUOTE, 48 + 584 + 4 + 10), TDX_COLLATERAL, at=TDX_AT)


def test_tdx_refuses_tampered_measurement():
    with pytest.raises(AttestationError, match="does not verify"):
        verify_tdx(_flip(TDX_QUOTE, 48 + 136), TDX_COLLATERAL, at=TDX_AT)  # a byte of MRTD


def test_tdx_refuses_tampered_collateral():
    body = json.loads(TDX_COLLATERAL)
    body["tcb_info"] = body["tcb_info"].replace('"tcbEvaluationDataNumber":', '"tcbEvaluationDataNumber": ', 1)
    with pytest.raises(AttestationError, match="does not verify"):
        verify_tdx(TDX_QUOTE, json.dumps(body).encode(), at=TDX_AT)


def test_tdx_refuses_expired_collateral():
    with pytest.raises(AttestationError, match="does not verify"):
        verify_tdx(TDX_QUOTE, TDX_COLLATERAL, at=_utc("2025-08-01T00:00:00Z"))


def test_tdx_refuses_disallowed_tcb_status():
    with pytest.raises(AttestationError, match="TCB status UpToDate"):
        verify_tdx(TDX_QUOTE, TDX_COLLATERAL, at=TDX_AT, tcb_statuses=frozenset({"SWHardeningNeeded"}))


# --- AMD SEV-SNP --------------------------------------------------------------------------------------------
def test_sev_snp_sample_verifies():
    ev = verify_sev_snp(SNP_REPORT, SNP_VCEK, at=SNP_AT)
    assert ev.kind is EvidenceKind.AMD_SEV_SNP
    assert ev.details["measurement"].startswith("7a1e5c266c0108db")
    assert ev.report_data == SNP_REPORT[0x50:0x90]


@pytest.mark.parametrize("offset", [0x90, 0x50, 0x2A0 + 5])  # measurement, report data, signature
def test_sev_snp_refuses_tampered_report(offset):
    with pytest.raises(AttestationError, match="signature does not verify"):
        verify_sev_snp(_flip(SNP_REPORT, offset), SNP_VCEK, at=SNP_AT)


def test_sev_snp_refuses_tampered_vcek():
    with pytest.raises(AttestationError, match="not signed by the pinned AMD Milan chain|does not parse"):
        verify_sev_snp(SNP_REPORT, _flip(SNP_VCEK, 300), at=SNP_AT)


def test_sev_snp_refuses_expired_vcek():
    with pytest.raises(AttestationError, match="VCEK certificate is valid"):
        verify_sev_snp(SNP_REPORT, SNP_VCEK, at=_utc("2031-01-01T00:00:00Z"))


def test_sev_snp_refuses_malformed():
    with pytest.raises(AttestationError, match="must be 1184 bytes"):
        verify_sev_snp(SNP_REPORT[:-1], SNP_VCEK, at=SNP_AT)


# --- evidence files, key binding, a hospital's policy -------------------------------------------------------
REGISTRY = "0x" + "ab" * 20
KEY = b"\x07" * 1184


def test_evidence_file_round_trip_and_dispatch():
    ef = EvidenceFile(EvidenceKind.AMD_SEV_SNP, {"report": SNP_REPORT, "vcek": SNP_VCEK})
    parsed = EvidenceFile.parse(ef.to_bytes())
    assert parsed == ef
    assert verify_evidence_file(parsed, at=SNP_AT).kind is EvidenceKind.AMD_SEV_SNP
    with pytest.raises(AttestationError, match="exactly the fields"):
        EvidenceFile.parse(json.dumps({"format": "zkfl-dapp/evidence/v1", "kind": "aws-nitro"}).encode())
    with pytest.raises(AttestationError, match="nothing to verify"):
        verify_evidence_file(EvidenceFile(EvidenceKind.DEVELOPMENT, {}), at=SNP_AT)


def test_key_binding_accepts_only_the_bound_key_chain_and_registry():
    ev = verify_sev_snp(SNP_REPORT, SNP_VCEK, at=SNP_AT)
    bound = dataclasses.replace(ev, report_data=report_data_for(KEY, 31337, REGISTRY))
    check_key_binding(bound, KEY, 31337, REGISTRY)
    for key, chain, registry in ((b"\x08" * 1184, 31337, REGISTRY), (KEY, 1, REGISTRY), (KEY, 31337, "0x" + "cd" * 20)):
        with pytest.raises(AttestationError, match="does not bind this enclave key"):
            check_key_binding(bound, key, chain, registry)
    with pytest.raises(AttestationError, match="does not bind"):
        check_key_binding(ev, KEY, 31337, REGISTRY)  # the real sample binds someone else's data
    nitro = dataclasses.replace(verify_nitro(NITRO, at=NITRO_AT), report_data=key_binding(KEY, 31337, REGISTRY))
    check_key_binding(nitro, KEY, 31337, REGISTRY)


def _snp_check(policy: AttestationPolicy, *, allowed_on_chain: bool = True, measurement: bytes | None = None):
    ev = verify_sev_snp(SNP_REPORT, SNP_VCEK, at=SNP_AT)
    return check_enclave(
        public_key=KEY,
        kind=EvidenceKind.AMD_SEV_SNP,
        measurement=ev.measurement if measurement is None else measurement,
        evidence_file=EvidenceFile(EvidenceKind.AMD_SEV_SNP, {"report": SNP_REPORT, "vcek": SNP_VCEK}).to_bytes(),
        measurement_allowed_on_chain=allowed_on_chain,
        chain_id=31337,
        registry=REGISTRY,
        policy=policy,
        at=SNP_AT,
    ), ev


def test_check_enclave_refuses_in_order():
    ev = verify_sev_snp(SNP_REPORT, SNP_VCEK, at=SNP_AT)
    pinned = AttestationPolicy(measurements=frozenset({ev.measurement}))
    with pytest.raises(AttestationError, match="not a kind this hospital accepts"):
        _snp_check(AttestationPolicy(kinds=frozenset({EvidenceKind.AWS_NITRO}), measurements=pinned.measurements))
    with pytest.raises(AttestationError, match="the registry records"):
        _snp_check(pinned, measurement=b"\x01" * 32)
    with pytest.raises(AttestationError, match="not on this hospital's own allowlist"):
        _snp_check(AttestationPolicy())
    with pytest.raises(AttestationError, match="no longer allows"):
        _snp_check(pinned, allowed_on_chain=False)
    # everything else holds: the sample's REPORTDATA does not bind our key, so the last check refuses
    with pytest.raises(AttestationError, match="does not bind this enclave key"):
        _snp_check(pinned)


def test_check_enclave_development_needs_opt_in():
    dev = EvidenceFile(EvidenceKind.DEVELOPMENT, {}).to_bytes()
    args = dict(
        public_key=KEY,
        kind=EvidenceKind.DEVELOPMENT,
        measurement=bytes(32),
        evidence_file=dev,
        measurement_allowed_on_chain=True,
        chain_id=31337,
        registry=REGISTRY,
    )
    with pytest.raises(AttestationError, match="development enclave: not attested"):
        check_enclave(policy=AttestationPolicy(), **args)
    result = check_enclave(policy=AttestationPolicy(allow_development=True), **args)
    assert not result.attested and result.summary.startswith("RED: development enclave")
    with pytest.raises(AttestationError, match="measurement zero"):
        check_enclave(policy=AttestationPolicy(allow_development=True), **{**args, "measurement": b"\x01" * 32})
