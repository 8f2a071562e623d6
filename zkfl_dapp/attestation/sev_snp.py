"""AMD SEV-SNP attestation reports, verified offline with ``cryptography`` (AMD SEV-SNP ABI specification,
publication 56860, table "ATTESTATION_REPORT Structure"; AMD's VCEK certificate specification, 57230).

1. The chain ARK (self-signed) -> ASK -> VCEK, the ARK and ASK accepted only if their SHA-256 fingerprints are
   the pinned ones (``ark_sha256``/``ask_sha256``, default AMD's Milan, :mod:`.roots`; the operator fetches
   them from AMD's KDS and they travel in the evidence file): each link with
   ``Certificate.verify_directly_issued_by`` (RSASSA-PSS/SHA-384; cryptography's Web PKI path verifier refuses
   RSA-PSS, so each link is checked by that library call instead), every certificate within its validity
   window at ``at``, ARK and ASK CAs.
2. The report (1184 bytes, version >= 2, signature algorithm 1 = ECDSA P-384 with SHA-384) is signed by the
   VCEK over bytes 0x000..0x29F; r and s are little-endian 72-byte fields.
3. The VCEK belongs to this chip and TCB: its hwID extension equals the report's CHIP_ID and its SPL
   extensions equal REPORTED_TCB.
4. The guest policy's DEBUG bit (bit 19) is clear.
"""

from __future__ import annotations

import datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from zkfl_dapp.attestation.evidence import EvidenceKind, VerifiedEvidence
from zkfl_dapp.attestation.roots import AMD_MILAN_ARK_SHA256, AMD_MILAN_ASK_SHA256, pinned_certificate
from zkfl_dapp.exceptions import AttestationError

REPORT_SIZE: Final = 0x4A0
_SIGNED_END: Final = 0x2A0
_POLICY_DEBUG: Final = 1 << 19
_AMD_OID: Final = "1.3.6.1.4.1.3704.1."
#: REPORTED_TCB byte -> the VCEK extension holding the same SPL (bootloader, TEE, SNP, microcode).
_TCB_FIELDS: Final = {0: "3.1", 1: "3.2", 6: "3.3", 7: "3.8"}


def _fail(message: str) -> AttestationError:
    return AttestationError(f"AMD SEV-SNP report: {message}")


def _valid_at(cert: x509.Certificate, when: datetime.datetime, name: str) -> None:
    if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        raise _fail(
            f"the {name} certificate is valid {cert.not_valid_before_utc:%Y-%m-%d} to "
            f"{cert.not_valid_after_utc:%Y-%m-%d}, not at {when:%Y-%m-%d %H:%M:%SZ}"
        )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _check_chain(vcek: x509.Certificate, ask: x509.Certificate, ark: x509.Certificate, when: datetime.datetime) -> None:
    for cert, issuer, name in ((ark, ark, "ARK"), (ask, ark, "ASK"), (vcek, ask, "VCEK")):
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise _fail(f"the {name} certificate is not signed by the pinned AMD chain ({exc!r})") from exc
        _valid_at(cert, when, name)
    if not (_is_ca(ark) and _is_ca(ask)):
        raise _fail("the pinned ARK and ASK must be CA certificates")


def _der_uint(value: bytes) -> int:
    """A small DER INTEGER's value (the VCEK's SPL extensions: 02 01 xx)."""
    if len(value) < 3 or value[0] != 0x02 or value[1] != len(value) - 2:
        raise _fail("a VCEK TCB extension is not a DER INTEGER")
    return int.from_bytes(value[2:], "big")


def _extension(vcek: x509.Certificate, suffix: str) -> bytes:
    for ext in vcek.extensions:
        if ext.oid.dotted_string == _AMD_OID + suffix and isinstance(ext.value, x509.UnrecognizedExtension):
            return ext.value.value
    raise _fail(f"the VCEK lacks AMD extension {_AMD_OID + suffix}")


def verify_sev_snp(
    report: bytes,
    vcek_der: bytes,
    ask_der: bytes,
    ark_der: bytes,
    *,
    at: int,
    ark_sha256: str = AMD_MILAN_ARK_SHA256,
    ask_sha256: str = AMD_MILAN_ASK_SHA256,
) -> VerifiedEvidence:
    """Verify an SEV-SNP attestation report and the VCEK that signed it, at unix time ``at``, chained through
    the ASK and ARK (DER) whose SHA-256 fingerprints are ``ask_sha256`` and ``ark_sha256`` (default: AMD Milan's).

    Raises:
        AttestationError: malformed, the ARK or ASK is not the pinned one, the chain or the signature does not
            verify, the VCEK is another chip's or another TCB's, or the guest is debuggable.
    """
    if not isinstance(report, bytes) or len(report) != REPORT_SIZE:
        raise _fail(f"must be {REPORT_SIZE} bytes")
    version = int.from_bytes(report[0:4], "little")
    if version < 2:
        raise _fail(f"version {version} is not supported (2 or later)")
    if int.from_bytes(report[0x34:0x38], "little") != 1:
        raise _fail("signature algorithm is not ECDSA P-384 with SHA-384")
    try:
        vcek = x509.load_der_x509_certificate(vcek_der)
    except ValueError as exc:
        raise _fail(f"the VCEK does not parse ({exc})") from exc
    try:
        ark = pinned_certificate(ark_der, ark_sha256, "AMD ARK")
        ask = pinned_certificate(ask_der, ask_sha256, "AMD ASK")
    except AttestationError as exc:
        raise _fail(str(exc)) from exc
    _check_chain(vcek, ask, ark, datetime.datetime.fromtimestamp(at, tz=datetime.UTC))
    key = vcek.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        raise _fail("the VCEK's key is not ECDSA P-384")
    r = int.from_bytes(report[_SIGNED_END : _SIGNED_END + 72], "little")
    s = int.from_bytes(report[_SIGNED_END + 72 : _SIGNED_END + 144], "little")
    try:
        key.verify(encode_dss_signature(r, s), report[:_SIGNED_END], ec.ECDSA(hashes.SHA384()))
    except InvalidSignature as exc:
        raise _fail("the signature does not verify under the VCEK") from exc
    chip_id = report[0x1A0:0x1E0]
    if _extension(vcek, "4") != chip_id:
        raise _fail("the VCEK's hwID is not the report's CHIP_ID: another chip's certificate")
    reported_tcb = report[0x180:0x188]
    for index, suffix in _TCB_FIELDS.items():
        if _der_uint(_extension(vcek, suffix)) != reported_tcb[index]:
            raise _fail("the VCEK was issued for another TCB than the report's REPORTED_TCB")
    if int.from_bytes(report[0x08:0x10], "little") & _POLICY_DEBUG:
        raise _fail("the guest policy allows debugging: the hypervisor can read the guest's memory")
    return VerifiedEvidence(
        kind=EvidenceKind.AMD_SEV_SNP,
        registers=report[0x90:0xC0],
        report_data=report[0x50:0x90],
        verified_at=at,
        details={"chip_id": chip_id.hex(), "reported_tcb": reported_tcb.hex(), "measurement": report[0x90:0xC0].hex()},
    )
