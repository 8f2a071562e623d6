"""AWS Nitro attestation documents (zkfl_dapp/attestation/nitro.py) end to end on a TEST PKI generated here
(tests/attestation_pki.py): the test root is pinned by passing its fingerprint explicitly; every tampered or
out-of-policy variant is refused with its reason. Real AWS documents: tests/unit/test_attestation_samples.py."""

from __future__ import annotations

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.attestation_pki import (
    AT,
    certificate,
    cose_sign1,
    der,
    nitro,
    nitro_document,
    nitro_payload,
    nitro_pki,
    sha256,
)
from zkfl_dapp.attestation import EvidenceKind, check_key_binding, key_binding, measurement_id
from zkfl_dapp.attestation.nitro import verify_nitro
from zkfl_dapp.attestation.roots import AWS_NITRO_ROOT_SHA256
from zkfl_dapp.exceptions import AttestationError


def _verify(document: bytes, *, at: int = AT, **options):
    return verify_nitro(document, at=at, root_sha256=sha256(nitro().root), **options)


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


def _parts(document: bytes) -> list:
    return list(cbor2.loads(document).value)


def test_a_document_chained_to_the_pinned_root_verifies():
    pcrs = nitro_payload(nitro())["pcrs"]
    ev = _verify(nitro_document(user_data=b"\x01" * 32))
    assert ev.kind is EvidenceKind.AWS_NITRO
    assert ev.registers == pcrs[0] + pcrs[1] + pcrs[2]
    assert ev.measurement == measurement_id(EvidenceKind.AWS_NITRO, ev.registers)
    assert ev.report_data == b"\x01" * 32 and ev.details["pcr0"] == pcrs[0].hex()
    untagged = cbor2.dumps(_parts(nitro_document()))  # AWS's documents come untagged too
    assert _verify(untagged).registers == ev.registers


def test_the_vendor_pin_refuses_a_test_root():
    with pytest.raises(
        AttestationError, match=f"fingerprint is {sha256(nitro().root)}, not the pinned {AWS_NITRO_ROOT_SHA256}"
    ):
        verify_nitro(nitro_document(), at=AT)  # the production default: AWS's root only


def test_another_root_in_the_cabundle_is_refused():
    other = nitro_pki()
    document = cose_sign1(nitro_payload(other), other.leaf_key)  # a complete chain, to a root we did not pin
    with pytest.raises(AttestationError, match="cabundle\\[0\\]\\)? certificate's SHA-256 fingerprint"):
        _verify(document)


def test_a_leaf_from_another_chain_under_the_pinned_root_is_refused():
    other = nitro_pki()
    payload = nitro_payload(nitro(), certificate=der(other.leaf), cabundle=[der(nitro().root), der(other.intermediate)])
    with pytest.raises(AttestationError, match="does not verify to the pinned Nitro root"):
        _verify(cose_sign1(payload, other.leaf_key))


def test_a_leaf_outside_its_validity_is_refused():
    expired = nitro_pki(leaf_valid=(AT - 4 * 3600, AT - 3600))
    payload = nitro_payload(expired, timestamp=(AT - 2 * 3600) * 1000)
    with pytest.raises(AttestationError, match="does not verify to the pinned Nitro root at 2030-01-01 00:00:00Z"):
        verify_nitro(cose_sign1(payload, expired.leaf_key), at=AT, root_sha256=sha256(expired.root))
    # the same document verifies while its leaf lived
    verify_nitro(cose_sign1(payload, expired.leaf_key), at=AT - 2 * 3600, root_sha256=sha256(expired.root))


@pytest.mark.parametrize("offset", [3, 50, 95])
def test_a_tampered_signature_is_refused(offset):
    protected, unprotected, payload, signature = _parts(nitro_document())
    forged = cbor2.dumps([protected, unprotected, payload, _flip(signature, offset)])
    with pytest.raises(AttestationError, match="signature does not verify"):
        _verify(forged)


def test_a_tampered_payload_is_refused():
    protected, unprotected, payload, signature = _parts(nitro_document())
    doc = cbor2.loads(payload)
    doc["pcrs"] = {**doc["pcrs"], 0: bytes(47) + b"\x01"}
    with pytest.raises(AttestationError, match="signature does not verify"):
        _verify(cbor2.dumps([protected, unprotected, cbor2.dumps(doc), signature]))


def test_a_document_signed_by_another_key_is_refused():
    with pytest.raises(AttestationError, match="signature does not verify"):
        _verify(cose_sign1(nitro_payload(nitro()), ec.generate_private_key(ec.SECP384R1())))


def test_a_stale_or_future_document_is_refused():
    old = nitro_document(timestamp=(AT - 2 * 3600) * 1000)
    with pytest.raises(AttestationError, match="not within 3600 s before the verification time"):
        _verify(old, max_age_s=3600)
    _verify(old, max_age_s=3 * 3600)
    with pytest.raises(AttestationError, match="not within"):
        _verify(nitro_document(timestamp=(AT + 3600) * 1000))


def test_a_debug_mode_enclave_is_refused():
    pcrs = {**nitro_payload(nitro())["pcrs"], 0: bytes(48)}
    with pytest.raises(AttestationError, match="debug-mode enclave"):
        _verify(nitro_document(pcrs=pcrs))


def test_the_measured_pcrs_must_all_be_present():
    pcrs = {i: v for i, v in nitro_payload(nitro())["pcrs"].items() if i != 2}
    with pytest.raises(AttestationError, match="PCR0, PCR1 and PCR2 must all be present"):
        _verify(nitro_document(pcrs=pcrs))


def test_a_signing_key_other_than_p384_is_refused():
    pki, key = nitro(), ec.generate_private_key(ec.SECP256R1())
    leaf = certificate(
        "zkfl test P-256 enclave",
        key,
        issuer=pki.intermediate,
        issuer_key=pki.intermediate_key,
        ca=False,
        valid=(AT - 600, AT + 3600),
    )
    with pytest.raises(AttestationError, match="not ECDSA P-384"):
        _verify(cose_sign1(nitro_payload(pki, certificate=der(leaf)), pki.leaf_key))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"digest": "SHA256"}, "'digest' is missing or malformed"),
        ({"module_id": ""}, "'module_id' is missing or malformed"),
        ({"cabundle": []}, "'cabundle' is missing or malformed"),
        ({"certificate": b""}, "'certificate' is missing or malformed"),
        ({"user_data": bytes(513)}, "'user_data' is not at most 512 bytes"),
        ({"pcrs": {0: bytes(47)}}, "PCR 0 is malformed"),
    ],
)
def test_malformed_payloads_are_refused(fields, reason):
    with pytest.raises(AttestationError, match=reason):
        _verify(nitro_document(**fields))


def test_malformed_envelopes_are_refused():
    protected, unprotected, payload, signature = _parts(nitro_document())
    with pytest.raises(AttestationError, match="not CBOR"):
        _verify(b"\xff\x00")
    with pytest.raises(AttestationError, match="tag 17 is not COSE_Sign1"):
        _verify(cbor2.dumps(cbor2.CBORTag(17, [protected, unprotected, payload, signature])))
    with pytest.raises(AttestationError, match="a 4-element array"):
        _verify(cbor2.dumps([protected, payload, signature]))
    with pytest.raises(AttestationError, match="is not ES384"):
        _verify(cose_sign1(nitro_payload(nitro()), nitro().leaf_key, alg=-7))
    with pytest.raises(AttestationError, match="96 bytes, got 95"):
        _verify(cbor2.dumps([protected, unprotected, payload, signature[:95]]))


def test_the_key_binding_is_the_user_data():
    key, registry = b"\x07" * 1184, "0x" + "ab" * 20
    ev = _verify(nitro_document(user_data=key_binding(key, 31337, registry)))
    check_key_binding(ev, key, 31337, registry)
    with pytest.raises(AttestationError, match="does not bind this enclave key"):
        check_key_binding(ev, b"\x08" * 1184, 31337, registry)
