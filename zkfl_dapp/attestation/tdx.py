"""Intel TDX quotes, verified offline with ``dcap-qvl`` (Phala Network, MIT; Rust with Python bindings).

``dcap_qvl.verify`` checks the quote's ECDSA signature chain (attestation key <- QE report <- PCK certificate
<- Intel's SGX Root CA, pinned inside dcap-qvl), the collateral's signatures, CRLs and validity at the given
time, and evaluates the TCB level; we then (:func:`accept_verified_quote`) accept only the TCB statuses the
caller allows (default: ``UpToDate``), require a TD (not an SGX enclave) and refuse a debug TD (TDATTRIBUTES bit 0).

Collateral (TCB info, QE identity, CRLs, issuer chains) comes from Intel's PCS or a PCCS; it travels inside the
evidence file, so verification needs no network.
"""

from __future__ import annotations

import dcap_qvl

from zkfl_dapp.attestation.evidence import DEFAULT_TCB_STATUSES, EvidenceKind, VerifiedEvidence
from zkfl_dapp.exceptions import AttestationError


def _fail(message: str) -> AttestationError:
    return AttestationError(f"Intel TDX quote: {message}")


def verify_tdx(
    quote: bytes, collateral: bytes, *, at: int, tcb_statuses: frozenset[str] = DEFAULT_TCB_STATUSES
) -> VerifiedEvidence:
    """Verify a TDX quote with its collateral (dcap-qvl's JSON) at unix time ``at``.

    Raises:
        AttestationError: the quote or collateral does not verify at ``at``, or :func:`accept_verified_quote`
            refuses it.
    """
    try:
        parsed_collateral = dcap_qvl.QuoteCollateralV3.from_json(collateral.decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(f"collateral is malformed ({exc})") from exc
    try:
        report = dcap_qvl.verify(quote, parsed_collateral, at)
    except ValueError as exc:
        raise _fail(f"does not verify at unix time {at}: {exc}") from exc
    return accept_verified_quote(quote, report.status, list(report.advisory_ids), at=at, tcb_statuses=tcb_statuses)


def accept_verified_quote(
    quote: bytes,
    status: str,
    advisory_ids: list[str],
    *,
    at: int,
    tcb_statuses: frozenset[str] = DEFAULT_TCB_STATUSES,
) -> VerifiedEvidence:
    """Our policy over a quote that ``dcap_qvl.verify`` verified with TCB ``status``: the status is allowed, it is a
    TD quote (not an SGX enclave's) and the TD is not in debug mode.

    Raises:
        AttestationError: one of those does not hold.
    """
    if status not in tcb_statuses:
        raise _fail(f"TCB status {status} (advisories {advisory_ids}) is not one of {sorted(tcb_statuses)}")
    try:
        parsed = dcap_qvl.parse_quote(quote)
    except ValueError as exc:
        raise _fail(f"does not parse ({exc})") from exc
    if not parsed.is_tdx():
        raise _fail(f"a {parsed.quote_type()} quote, not a TDX one")
    td = parsed.report
    if not isinstance(td, dcap_qvl.TdReport10):
        raise _fail("the quote carries no TD report")
    if td.td_attributes[0] & 0x01:
        raise _fail("TDATTRIBUTES.DEBUG is set: a debug TD, whose memory the host can read")
    return VerifiedEvidence(
        kind=EvidenceKind.INTEL_TDX,
        registers=td.mr_td + td.rt_mr0 + td.rt_mr1 + td.rt_mr2 + td.rt_mr3,
        report_data=td.report_data,
        verified_at=at,
        details={
            "tcb_status": status,
            "advisory_ids": ",".join(advisory_ids),
            "fmspc": parsed.fmspc(),
            "mr_td": td.mr_td.hex(),
        },
    )
