"""Intel TDX quotes (zkfl_dapp/attestation/tdx.py). dcap-qvl verifies only quotes chained to Intel's root (built
into it), so without Intel-signed data these tests cover: malformed input and a test-rooted quote and collateral
refused by dcap-qvl, and our policy over a verified quote (``accept_verified_quote``: TCB status allowlist, a TD
quote, not a debug TD) on quotes in Intel's layout built here (tests/attestation_pki.py). Real Intel quotes, with
their tampered variants: tests/unit/test_attestation_samples.py."""

from __future__ import annotations

import hashlib

import pytest

from tests.attestation_pki import AT, TD_DEBUG, TEST_FMSPC, tdx_collateral, tdx_quote
from zkfl_dapp.attestation import EvidenceKind, measurement_id
from zkfl_dapp.attestation.tdx import accept_verified_quote, verify_tdx
from zkfl_dapp.exceptions import AttestationError


def test_a_test_rooted_quote_and_collateral_do_not_verify():
    # dcap-qvl checks the collateral's CRLs and chains against Intel's root: ours is a test root
    with pytest.raises(AttestationError, match="Intel TDX quote: does not verify at unix time 1893456000"):
        verify_tdx(tdx_quote(), tdx_collateral(), at=AT)


@pytest.mark.parametrize("quote", [b"", b"\x04\x00garbage", tdx_quote()[:700]])
def test_a_malformed_quote_is_refused(quote):
    with pytest.raises(AttestationError, match="does not verify at unix time"):
        verify_tdx(quote, tdx_collateral(), at=AT)


@pytest.mark.parametrize(("collateral", "reason"), [(b"{", "Failed to parse JSON"), (b"\xff", "utf-8"), (b"{}", "")])
def test_malformed_collateral_is_refused(collateral, reason):
    with pytest.raises(AttestationError, match=f"collateral is malformed .*{reason}"):
        verify_tdx(tdx_quote(), collateral, at=AT)


def test_a_verified_td_quote_yields_its_registers_and_report_data():
    mr_td, rtmrs = b"\x11" * 48, tuple(bytes([i]) * 48 for i in range(4))
    ev = accept_verified_quote(tdx_quote(mr_td=mr_td, rtmrs=rtmrs, report_data=b"\x22" * 64), "UpToDate", [], at=AT)
    assert ev.kind is EvidenceKind.INTEL_TDX and ev.verified_at == AT
    assert ev.registers == mr_td + b"".join(rtmrs)
    assert ev.measurement == measurement_id(EvidenceKind.INTEL_TDX, mr_td + b"".join(rtmrs))
    assert ev.report_data == b"\x22" * 64
    assert ev.details == {
        "tcb_status": "UpToDate",
        "advisory_ids": "",
        "fmspc": TEST_FMSPC.hex().upper(),
        "mr_td": mr_td.hex(),
    }


@pytest.mark.parametrize("status", ["OutOfDate", "SWHardeningNeeded", "ConfigurationNeeded", "Revoked"])
def test_a_tcb_status_off_the_allowlist_is_refused(status):
    with pytest.raises(AttestationError, match=f"TCB status {status} \\(advisories \\['INTEL-SA-00837'\\]\\)"):
        accept_verified_quote(tdx_quote(), status, ["INTEL-SA-00837"], at=AT)


def test_a_policy_may_allow_more_tcb_statuses():
    allowed = frozenset({"UpToDate", "SWHardeningNeeded"})
    ev = accept_verified_quote(tdx_quote(), "SWHardeningNeeded", ["INTEL-SA-00615"], at=AT, tcb_statuses=allowed)
    assert ev.details["tcb_status"] == "SWHardeningNeeded" and ev.details["advisory_ids"] == "INTEL-SA-00615"
    with pytest.raises(AttestationError, match="TCB status UpToDate"):
        accept_verified_quote(tdx_quote(), "UpToDate", [], at=AT, tcb_statuses=frozenset({"SWHardeningNeeded"}))


def test_an_sgx_enclave_quote_is_refused():
    with pytest.raises(AttestationError, match="a SGX quote, not a TDX one"):
        accept_verified_quote(tdx_quote(tdx=False), "UpToDate", [], at=AT)


def test_a_debug_td_is_refused():
    attributes = bytes([TD_DEBUG]) + bytes(7)
    with pytest.raises(AttestationError, match="TDATTRIBUTES.DEBUG is set"):
        accept_verified_quote(tdx_quote(td_attributes=attributes), "UpToDate", [], at=AT)
    other_bits = bytes([0x00, 0x00, 0x00, 0x10]) + bytes(4)  # e.g. SEPT_VE_DISABLE: not debug
    accept_verified_quote(tdx_quote(td_attributes=other_bits), "UpToDate", [], at=AT)


def test_an_unparsable_quote_is_refused_by_the_policy_too():
    with pytest.raises(AttestationError, match="does not parse"):
        accept_verified_quote(hashlib.sha256(b"x").digest(), "UpToDate", [], at=AT)
