"""AWS Nitro Enclaves attestation documents, verified offline as AWS specifies ("Verifying the root of trust",
Nitro Enclaves user guide, and aws-nitro-enclaves-nsm-api's attestation document specification):

1. The document is a COSE_Sign1 (RFC 9052; CBOR array, optionally tag 18) whose protected header names ES384
   (alg -35). Parsed with ``cbor2``.
2. The payload is a CBOR map with the mandatory fields and sizes AWS lists (module_id, digest "SHA384",
   timestamp, pcrs, certificate, cabundle; optional public_key, user_data, nonce).
3. The certificate chain leaf <- cabundle[1:] <- cabundle[0], the AWS Nitro root, accepted only if its SHA-256
   fingerprint is the pinned one (``root_sha256``, default AWS's, :mod:`.roots`), is built and checked by
   ``cryptography``'s X.509 path verifier at the pinned time ``at`` (signatures,
   validity windows, basicConstraints and key usage of the CAs).
4. The COSE signature (ECDSA P-384 / SHA-384 over the Sig_structure) verifies under the leaf's key.
5. A debug-mode enclave (PCR0 all zeros) is refused: its memory is readable from the parent instance.
"""

from __future__ import annotations

import datetime
from typing import Any, Final

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509 import verification

from zkfl_dapp.attestation.evidence import DEFAULT_MAX_AGE_S, EvidenceKind, VerifiedEvidence
from zkfl_dapp.attestation.roots import AWS_NITRO_ROOT_SHA256, pinned_certificate
from zkfl_dapp.exceptions import AttestationError

_ES384: Final = -35
_COSE_SIGN1_TAG: Final = 18
#: Registers that make the measurement: the enclave image (PCR0), its kernel (PCR1), its application (PCR2).
MEASURED_PCRS: Final = (0, 1, 2)


def _fail(message: str) -> AttestationError:
    return AttestationError(f"AWS Nitro attestation document: {message}")


def _cose_sign1(document: bytes) -> tuple[bytes, bytes, bytes]:
    try:
        obj = cbor2.loads(document)
    except (cbor2.CBORDecodeError, ValueError, TypeError) as exc:
        raise _fail(f"not CBOR ({exc})") from exc
    if isinstance(obj, cbor2.CBORTag):
        if obj.tag != _COSE_SIGN1_TAG:
            raise _fail(f"CBOR tag {obj.tag} is not COSE_Sign1 (18)")
        obj = obj.value
    # cbor2 decodes an array inside a tag as an (immutable) tuple
    if not isinstance(obj, list | tuple) or len(obj) != 4:
        raise _fail("not a COSE_Sign1 structure (a 4-element array)")
    protected, _unprotected, payload, signature = obj
    if not all(isinstance(x, bytes) for x in (protected, payload, signature)):
        raise _fail("COSE_Sign1 protected header, payload and signature must be byte strings")
    try:
        header = cbor2.loads(protected)
    except (cbor2.CBORDecodeError, ValueError) as exc:
        raise _fail(f"protected header is not CBOR ({exc})") from exc
    if not isinstance(header, dict) or header.get(1) != _ES384:
        raise _fail(
            f"protected header algorithm {header.get(1) if isinstance(header, dict) else header!r} is not ES384"
        )
    return protected, payload, signature


def _payload(payload: bytes) -> dict[str, Any]:
    try:
        doc = cbor2.loads(payload)
    except (cbor2.CBORDecodeError, ValueError) as exc:
        raise _fail(f"payload is not CBOR ({exc})") from exc
    if not isinstance(doc, dict):
        raise _fail("payload is not a map")
    checks = {
        "module_id": lambda v: isinstance(v, str) and v != "",
        "digest": lambda v: v == "SHA384",
        "timestamp": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
        "pcrs": lambda v: isinstance(v, dict) and 1 <= len(v) <= 32,
        "certificate": lambda v: isinstance(v, bytes) and 1 <= len(v) <= 1024,
        "cabundle": lambda v: isinstance(v, list)
        and v
        and all(isinstance(c, bytes) and 1 <= len(c) <= 1024 for c in v),
    }
    for name, ok in checks.items():
        if not ok(doc.get(name)):
            raise _fail(f"mandatory field {name!r} is missing or malformed")
    for name, limit in (("public_key", 1024), ("user_data", 512), ("nonce", 512)):
        value = doc.get(name)
        if value is not None and not (isinstance(value, bytes) and len(value) <= limit):
            raise _fail(f"optional field {name!r} is not at most {limit} bytes")
    for index, value in doc["pcrs"].items():
        if not (isinstance(index, int) and 0 <= index < 32 and isinstance(value, bytes) and len(value) in (32, 48, 64)):
            raise _fail(f"PCR {index!r} is malformed")
    return doc


def _check_chain(doc: dict[str, Any], at: int, root_sha256: str) -> x509.Certificate:
    try:
        root = pinned_certificate(doc["cabundle"][0], root_sha256, "AWS Nitro Enclaves root (cabundle[0])")
    except AttestationError as exc:
        raise _fail(str(exc)) from exc
    try:
        leaf = x509.load_der_x509_certificate(doc["certificate"])
        intermediates = [x509.load_der_x509_certificate(c) for c in doc["cabundle"][1:]]
    except ValueError as exc:
        raise _fail(f"a certificate does not parse ({exc})") from exc
    when = datetime.datetime.fromtimestamp(at, tz=datetime.UTC)
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store([root]))
        .time(when)
        .max_chain_depth(len(intermediates) + 1)
        # AWS's CAs follow the Web PKI CA profile; the leaf carries no EKU/SAN, so its profile is not the Web's.
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except verification.VerificationError as exc:
        raise _fail(
            f"the certificate chain does not verify to the pinned Nitro root at {when:%Y-%m-%d %H:%M:%SZ}: {exc}"
        ) from exc
    return leaf


def verify_nitro(
    document: bytes, *, at: int, max_age_s: int = DEFAULT_MAX_AGE_S, root_sha256: str = AWS_NITRO_ROOT_SHA256
) -> VerifiedEvidence:
    """Verify an AWS Nitro attestation document at unix time ``at``, chained to the root whose SHA-256
    fingerprint is ``root_sha256`` (default: AWS's Nitro Enclaves root G1).

    Raises:
        AttestationError: malformed, chain or signature invalid, expired, too old, or a debug-mode enclave.
    """
    if not isinstance(document, bytes):
        raise _fail("must be bytes")
    protected, payload, signature = _cose_sign1(document)
    doc = _payload(payload)
    leaf = _check_chain(doc, at, root_sha256)
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        raise _fail("the signing certificate's key is not ECDSA P-384")
    if len(signature) != 96:
        raise _fail(f"an ES384 signature is 96 bytes, got {len(signature)}")
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    der = encode_dss_signature(int.from_bytes(signature[:48], "big"), int.from_bytes(signature[48:], "big"))
    try:
        key.verify(der, to_be_signed, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature as exc:
        raise _fail("the COSE_Sign1 signature does not verify under the signing certificate") from exc
    issued = doc["timestamp"] // 1000
    if not issued - 300 <= at <= issued + max_age_s:
        raise _fail(f"issued at unix time {issued}, not within {max_age_s} s before the verification time {at}")
    pcrs = doc["pcrs"]
    if any(i not in pcrs for i in MEASURED_PCRS):
        raise _fail("PCR0, PCR1 and PCR2 must all be present")
    if not any(pcrs[0]):
        raise _fail("PCR0 is all zeros: a debug-mode enclave, whose memory the parent instance can read")
    user_data = doc.get("user_data") or b""
    return VerifiedEvidence(
        kind=EvidenceKind.AWS_NITRO,
        registers=b"".join(pcrs[i] for i in MEASURED_PCRS),
        report_data=user_data,
        verified_at=at,
        details={
            "module_id": doc["module_id"],
            "timestamp_ms": str(doc["timestamp"]),
            "nonce": (doc.get("nonce") or b"").hex(),
            "public_key": (doc.get("public_key") or b"").hex(),
            **{f"pcr{i}": pcrs[i].hex() for i in MEASURED_PCRS},
        },
    )
