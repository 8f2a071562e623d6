"""A TEST PKI for the attestation verifiers, generated when the tests run (nothing copied, nothing committed): a
test Nitro root -> intermediate -> signing certificate, and a test AMD-style ARK -> ASK -> VCEK. Every root's
subject says "TEST ROOT - not a vendor's"; tests pin it by passing its fingerprint explicitly
(:data:`TEST_ANCHORS`), never as a vendor's.

With them the tests build evidence in the vendors' formats: an AWS Nitro attestation document (a COSE_Sign1 with
ES384, built with ``cbor2``) and an AMD SEV-SNP attestation report (AMD's 1184-byte layout, ECDSA P-384 over
bytes 0x000..0x29F, r and s little-endian). Import from a test module: ``from tests.attestation_pki import ...``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from zkfl_dapp.attestation.roots import TrustAnchors

#: The tests' verification time (2030-01-01T00:00:00Z); every test certificate is valid then.
AT = 1_893_456_000
_DAY = 86_400
AMD_OID = "1.3.6.1.4.1.3704.1."
CHIP_ID = bytes(range(64))
#: REPORTED_TCB (Milan): bootloader 3, TEE 0, reserved, SNP 8, microcode 115.
REPORTED_TCB = bytes([3, 0, 0, 0, 0, 0, 8, 115])
#: Guest policy: SMT allowed (bit 16), the must-be-one bit 17; DEBUG (bit 19) clear.
POLICY = (1 << 16) | (1 << 17)
POLICY_DEBUG = 1 << 19


def _utc(t: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(t, tz=datetime.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zkfl-dapp tests"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    )


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)


def certificate(
    cn: str,
    key: Any,
    *,
    issuer: x509.Certificate | None = None,
    issuer_key: Any = None,
    valid: tuple[int, int] = (AT - 365 * _DAY, AT + 3650 * _DAY),
    ca: bool,
    extensions: tuple[x509.ExtensionType, ...] = (),
    rsa_pss: bool = False,
) -> x509.Certificate:
    """A certificate for ``key`` (self-signed without ``issuer``), SHA-384-signed (RSA-PSS if ``rsa_pss``)."""
    signer = issuer_key if issuer is not None else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer.subject if issuer is not None else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_utc(valid[0]))
        .not_valid_after(_utc(valid[1]))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=False)
    else:
        usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True)
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    for ext in extensions:
        builder = builder.add_extension(ext, critical=False)
    if rsa_pss:
        return builder.sign(signer, hashes.SHA384(), rsa_padding=_pss())
    return builder.sign(signer, hashes.SHA384())


def sha256(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


# --- AWS Nitro-shaped ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NitroPki:
    root: x509.Certificate
    intermediate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    leaf: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey

    @property
    def cabundle(self) -> list[bytes]:
        return [der(self.root), der(self.intermediate)]


def nitro_pki(*, leaf_valid: tuple[int, int] = (AT - 600, AT + 3 * 3600)) -> NitroPki:
    """A test Nitro chain; the signing certificate lives about three hours, as AWS's do."""
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP384R1()) for _ in range(3))
    root = certificate("zkfl TEST ROOT - not a vendor's (Nitro-shaped)", root_key, ca=True)
    inter = certificate("zkfl test Nitro intermediate", inter_key, issuer=root, issuer_key=root_key, ca=True)
    leaf = certificate("zkfl test enclave", leaf_key, issuer=inter, issuer_key=inter_key, ca=False, valid=leaf_valid)
    return NitroPki(root, inter, inter_key, leaf, leaf_key)


@cache
def nitro() -> NitroPki:
    return nitro_pki()


def nitro_payload(pki: NitroPki, **fields: Any) -> dict[str, Any]:
    """An attestation document's payload (AWS's fields), issued a minute before :data:`AT` unless overridden."""
    body: dict[str, Any] = {
        "module_id": "i-0123456789abcdef0-enc0123456789abcdef",
        "digest": "SHA384",
        "timestamp": (AT - 60) * 1000,
        "pcrs": {i: hashlib.sha384(b"zkfl test PCR %d" % i).digest() for i in range(16)},
        "certificate": der(pki.leaf),
        "cabundle": pki.cabundle,
        "public_key": None,
        "user_data": b"",
        "nonce": None,
    }
    body.update(fields)
    return body


def cose_sign1(payload: dict[str, Any] | bytes, key: ec.EllipticCurvePrivateKey, *, alg: int = -35) -> bytes:
    """A COSE_Sign1 (tag 18) over ``payload``: ES384, the 96-byte r || s signature over the Sig_structure."""
    body = payload if isinstance(payload, bytes) else cbor2.dumps(payload)
    protected = cbor2.dumps({1: alg})
    der_sig = key.sign(cbor2.dumps(["Signature1", protected, b"", body]), ec.ECDSA(hashes.SHA384()))
    r, s = decode_dss_signature(der_sig)
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, body, r.to_bytes(48, "big") + s.to_bytes(48, "big")]))


def nitro_document(pki: NitroPki | None = None, **fields: Any) -> bytes:
    pki = pki or nitro()
    return cose_sign1(nitro_payload(pki, **fields), pki.leaf_key)


# --- AMD SEV-SNP-shaped -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AmdPki:
    ark: x509.Certificate
    ark_key: rsa.RSAPrivateKey
    ask: x509.Certificate
    ask_key: rsa.RSAPrivateKey
    vcek: x509.Certificate
    vcek_key: ec.EllipticCurvePrivateKey

    @property
    def fields(self) -> dict[str, bytes]:
        """The certificate fields of an SEV-SNP evidence file."""
        return {"vcek": der(self.vcek), "ask": der(self.ask), "ark": der(self.ark)}


def _der_int(value: int) -> bytes:
    return bytes([0x02, 0x01, value])


def vcek_extensions(chip_id: bytes = CHIP_ID, tcb: bytes = REPORTED_TCB) -> tuple[x509.ExtensionType, ...]:
    """AMD's VCEK extensions: hwID (the chip id, raw) and the SPLs of the TCB it was issued for (DER INTEGERs)."""
    spl = {"3.1": tcb[0], "3.2": tcb[1], "3.3": tcb[6], "3.8": tcb[7]}
    return (
        x509.UnrecognizedExtension(x509.ObjectIdentifier(AMD_OID + "4"), chip_id),
        *(x509.UnrecognizedExtension(x509.ObjectIdentifier(AMD_OID + k), _der_int(v)) for k, v in spl.items()),
    )


def make_vcek(
    pki: AmdPki, *, extensions: tuple[x509.ExtensionType, ...] | None = None, valid: tuple[int, int] | None = None
) -> x509.Certificate:
    """Another VCEK for ``pki.vcek_key`` signed by the ASK (other extensions or validity)."""
    return certificate(
        "SEV-VCEK (zkfl test)",
        pki.vcek_key,
        issuer=pki.ask,
        issuer_key=pki.ask_key,
        ca=False,
        extensions=vcek_extensions() if extensions is None else extensions,
        valid=valid or (AT - 365 * _DAY, AT + 3650 * _DAY),
        rsa_pss=True,
    )


@cache
def amd() -> AmdPki:
    """A test ARK (self-signed) -> ASK -> VCEK, RSA-PSS/SHA-384 as AMD's (RSA-2048 here, for speed)."""
    ark_key, ask_key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    ark = certificate("zkfl TEST ROOT - not a vendor's (ARK-shaped)", ark_key, ca=True, rsa_pss=True)
    ask = certificate("zkfl test ASK", ask_key, issuer=ark, issuer_key=ark_key, ca=True, rsa_pss=True)
    pki = AmdPki(ark, ark_key, ask, ask_key, ark, ec.generate_private_key(ec.SECP384R1()))
    return AmdPki(ark, ark_key, ask, ask_key, make_vcek(pki), pki.vcek_key)


def snp_report(
    key: ec.EllipticCurvePrivateKey | None = None,
    *,
    report_data: bytes = bytes(64),
    measurement: bytes = hashlib.sha384(b"zkfl test guest").digest(),
    policy: int = POLICY,
    chip_id: bytes = CHIP_ID,
    reported_tcb: bytes = REPORTED_TCB,
    version: int = 2,
    signature_algo: int = 1,
) -> bytes:
    """An SEV-SNP ATTESTATION_REPORT (AMD SEV-SNP ABI spec 56860, 1184 bytes) signed by ``key`` (the test VCEK's)."""
    key = key or amd().vcek_key
    body = bytearray(0x2A0)
    body[0x00:0x04] = version.to_bytes(4, "little")
    body[0x08:0x10] = policy.to_bytes(8, "little")
    body[0x34:0x38] = signature_algo.to_bytes(4, "little")
    body[0x38:0x40] = reported_tcb  # CURRENT_TCB
    body[0x50:0x90] = report_data
    body[0x90:0xC0] = measurement
    body[0x180:0x188] = reported_tcb
    body[0x1A0:0x1E0] = chip_id
    r, s = decode_dss_signature(key.sign(bytes(body), ec.ECDSA(hashes.SHA384())))
    signature = r.to_bytes(72, "little") + s.to_bytes(72, "little")
    return bytes(body) + signature + bytes(0x4A0 - 0x2A0 - len(signature))


def pins_of_test_roots() -> TrustAnchors:
    """The test roots' fingerprints, passed explicitly where a test verifies test evidence."""
    return TrustAnchors(
        nitro_root_sha256=sha256(nitro().root), amd_ark_sha256=sha256(amd().ark), amd_ask_sha256=sha256(amd().ask)
    )


# --- Intel TDX-shaped (dcap-qvl verifies only Intel-rooted quotes: these exercise parsing and our policy) -----
_SGX_OID = "1.2.840.113741.1.13.1"
TD_DEBUG = 0x01


def _tlv(tag: int, value: bytes) -> bytes:
    n = len(value)
    length = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else bytes([0x82]) + n.to_bytes(2, "big")
    return bytes([tag]) + length + value


def _oid(dotted: str) -> bytes:
    parts = [int(x) for x in dotted.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7F]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(enc))
    return _tlv(0x06, out)


def _sgx(sub: str, value: bytes) -> bytes:
    return _tlv(0x30, _oid(f"{_SGX_OID}.{sub}") + value)


def pck_extension(fmspc: bytes) -> x509.UnrecognizedExtension:
    """Intel's SGX extension of a PCK certificate (PPID, TCB, PCE-ID, FMSPC, SGX type), DER-encoded by hand."""
    tcb = b"".join(_sgx(f"2.{i}", _tlv(0x02, b"\x01")) for i in range(1, 17))
    tcb += _sgx("2.17", _tlv(0x02, b"\x0b")) + _sgx("2.18", _tlv(0x04, bytes(16)))
    body = (
        _sgx("1", _tlv(0x04, bytes(16)))
        + _sgx("2", _tlv(0x30, tcb))
        + _sgx("3", _tlv(0x04, bytes(2)))
        + _sgx("4", _tlv(0x04, fmspc))
        + _sgx("5", _tlv(0x0A, b"\x00"))
    )
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(_SGX_OID), _tlv(0x30, body))


@dataclass(frozen=True)
class SgxPki:
    root: x509.Certificate
    root_key: ec.EllipticCurvePrivateKey
    pck: x509.Certificate

    @property
    def chain_pem(self) -> bytes:
        return self.pck.public_bytes(Encoding.PEM) + self.root.public_bytes(Encoding.PEM)


@cache
def sgx() -> SgxPki:
    """A test root -> PCK certificate in Intel's shape (P-256, the SGX extension)."""
    key, root_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = certificate("zkfl TEST ROOT - not a vendor's (SGX-shaped)", root_key, ca=True)
    pck = certificate(
        "zkfl test PCK", key, issuer=root, issuer_key=root_key, ca=False, extensions=(pck_extension(TEST_FMSPC),)
    )
    return SgxPki(root, root_key, pck)


def _crl(pki: SgxPki) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.root.subject)
        .last_update(_utc(AT - _DAY))
        .next_update(_utc(AT + 30 * _DAY))
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.root_key.public_key()), critical=False)
    )
    return builder.sign(pki.root_key, hashes.SHA256()).public_bytes(Encoding.DER)


def tdx_collateral() -> bytes:
    """dcap-qvl's collateral JSON, every chain and CRL from the test root (TCB info and QE identity unsigned)."""
    import dcap_qvl

    pki, pem = sgx(), sgx().chain_pem.decode()
    crl = _crl(pki)
    tcb_info = json.dumps({"id": "TDX", "version": 3, "fmspc": TEST_FMSPC.hex()})
    qe_identity = '{"id":"TD_QE","version":2}'
    collateral = dcap_qvl.QuoteCollateralV3(pem, crl, crl, pem, tcb_info, bytes(64), pem, qe_identity, bytes(64))
    return collateral.to_json().encode()


TEST_FMSPC = bytes.fromhex("00906ed50000")


def tdx_quote(
    *,
    tdx: bool = True,
    td_attributes: bytes = bytes(8),
    mr_td: bytes = hashlib.sha384(b"zkfl test TD").digest(),
    rtmrs: tuple[bytes, ...] = tuple(hashlib.sha384(b"zkfl test RTMR %d" % i).digest() for i in range(4)),
    report_data: bytes = bytes(64),
) -> bytes:
    """A quote v4 in Intel's layout (header, TD report 1.0 or an SGX enclave report, ECDSA quote data with a QE
    report certification (type 6) carrying a test PCK chain (type 5)), all signatures zero: it parses, it does
    not verify (dcap-qvl checks it against Intel's root)."""
    import struct

    tee_type = 0x81 if tdx else 0x00
    qe_vendor = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")
    header = struct.pack("<HHIHH", 4, 2, tee_type, 0, 0) + qe_vendor + bytes(20)
    if tdx:
        body = bytes(16 + 48 + 48 + 8) + td_attributes + bytes(8) + mr_td + bytes(3 * 48) + b"".join(rtmrs)
        body += report_data
    else:
        body = bytes(320) + report_data
    pem = sgx().chain_pem
    qe_cert = bytes(384) + bytes(64) + struct.pack("<H", 0) + struct.pack("<HI", 5, len(pem)) + pem
    auth = bytes(64) + bytes(64) + struct.pack("<HI", 6, len(qe_cert)) + qe_cert
    return header + body + struct.pack("<I", len(auth)) + auth
