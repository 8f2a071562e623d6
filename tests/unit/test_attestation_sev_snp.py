"""AMD SEV-SNP reports (zkfl_dapp/attestation/sev_snp.py) end to end on a TEST ARK -> ASK -> VCEK generated here
(tests/attestation_pki.py), in AMD's report layout: the test ARK and ASK are pinned by passing their fingerprints
explicitly; every tampered or out-of-policy variant is refused with its reason. Real AMD reports:
tests/unit/test_attestation_samples.py."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.attestation_pki import (
    AMD_OID,
    AT,
    CHIP_ID,
    POLICY,
    POLICY_DEBUG,
    REPORTED_TCB,
    AmdPki,
    amd,
    certificate,
    der,
    make_vcek,
    sha256,
    snp_report,
    vcek_extensions,
)
from zkfl_dapp.attestation import EvidenceKind, check_key_binding, measurement_id, report_data_for
from zkfl_dapp.attestation.roots import AMD_MILAN_ARK_SHA256
from zkfl_dapp.attestation.sev_snp import verify_sev_snp
from zkfl_dapp.exceptions import AttestationError

_DAY = 86_400


def _verify(report: bytes, pki: AmdPki | None = None, *, at: int = AT, vcek: bytes | None = None, **pins):
    pki = pki or amd()
    pins = {"ark_sha256": sha256(amd().ark), "ask_sha256": sha256(amd().ask), **pins}
    return verify_sev_snp(report, vcek or der(pki.vcek), der(pki.ask), der(pki.ark), at=at, **pins)


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


def _other_amd() -> AmdPki:
    ark_key, ask_key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    ark = certificate("zkfl TEST ROOT - another ARK", ark_key, ca=True, rsa_pss=True)
    ask = certificate("zkfl test ASK (other)", ask_key, issuer=ark, issuer_key=ark_key, ca=True, rsa_pss=True)
    pki = AmdPki(ark, ark_key, ask, ask_key, ark, amd().vcek_key)
    return dataclasses.replace(pki, vcek=make_vcek(pki))


def test_a_report_chained_to_the_pinned_ark_verifies():
    measurement = b"\x5a" * 48
    ev = _verify(snp_report(measurement=measurement, report_data=b"\x01" * 64))
    assert ev.kind is EvidenceKind.AMD_SEV_SNP
    assert ev.registers == measurement and ev.measurement == measurement_id(EvidenceKind.AMD_SEV_SNP, measurement)
    assert ev.report_data == b"\x01" * 64
    assert ev.details == {
        "chip_id": CHIP_ID.hex(),
        "reported_tcb": REPORTED_TCB.hex(),
        "measurement": measurement.hex(),
    }


def test_the_vendor_pin_refuses_a_test_ark():
    with pytest.raises(
        AttestationError, match=f"ARK certificate's SHA-256 fingerprint is .*, not the pinned {AMD_MILAN_ARK_SHA256}"
    ):
        _verify(snp_report(), ark_sha256=AMD_MILAN_ARK_SHA256)


def test_an_ask_other_than_the_pinned_one_is_refused():
    pki = amd()
    ask_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ask = certificate(
        "zkfl test ASK (reissued)", ask_key, issuer=pki.ark, issuer_key=pki.ark_key, ca=True, rsa_pss=True
    )
    reissued = dataclasses.replace(pki, ask=ask, ask_key=ask_key)
    with pytest.raises(AttestationError, match="ASK certificate's SHA-256 fingerprint"):
        _verify(snp_report(), dataclasses.replace(reissued, vcek=make_vcek(reissued)))


def test_a_vcek_from_another_chain_is_refused():
    other = _other_amd()
    with pytest.raises(AttestationError, match="the VCEK certificate is not signed by the pinned AMD chain"):
        _verify(snp_report(), vcek=der(other.vcek))


def test_an_ask_the_ark_did_not_sign_is_refused():
    other = _other_amd()  # pin its ASK's fingerprint: the link to our pinned ARK still fails
    mixed = dataclasses.replace(other, ark=amd().ark)
    with pytest.raises(AttestationError, match="the ASK certificate is not signed by the pinned AMD chain"):
        _verify(snp_report(), mixed, ask_sha256=sha256(other.ask))


def test_an_ark_that_is_not_self_signed_is_refused():
    other = _other_amd()
    ark = certificate(
        "zkfl TEST ROOT - cross-signed",
        amd().ark_key,
        issuer=other.ark,
        issuer_key=other.ark_key,
        ca=True,
        rsa_pss=True,
    )
    with pytest.raises(AttestationError, match="the ARK certificate is not signed by the pinned AMD chain"):
        _verify(snp_report(), dataclasses.replace(amd(), ark=ark), ark_sha256=sha256(ark))


def test_an_ask_that_is_not_a_ca_is_refused():
    pki = amd()
    ask = certificate(
        "zkfl test ASK (no CA)", pki.ask_key, issuer=pki.ark, issuer_key=pki.ark_key, ca=False, rsa_pss=True
    )
    not_ca = dataclasses.replace(pki, ask=ask)
    with pytest.raises(AttestationError, match="must be CA certificates"):
        _verify(snp_report(), not_ca, vcek=der(make_vcek(not_ca)), ask_sha256=sha256(ask))


def test_certificates_outside_their_validity_are_refused():
    expired = make_vcek(amd(), valid=(AT - 400 * _DAY, AT - _DAY))
    with pytest.raises(AttestationError, match="the VCEK certificate is valid .* not at 2030-01-01"):
        _verify(snp_report(), vcek=der(expired))
    with pytest.raises(AttestationError, match="the ARK certificate is valid"):
        _verify(snp_report(), at=AT + 3651 * _DAY)


@pytest.mark.parametrize("offset", [0x08, 0x50, 0x90, 0x1A0, 0x2A0 + 5, 0x2A0 + 72 + 5])
def test_a_tampered_report_is_refused(offset):
    # policy, report data, measurement, chip id, r, s
    with pytest.raises(AttestationError, match="signature does not verify under the VCEK"):
        _verify(_flip(snp_report(), offset))


def test_a_report_signed_by_another_key_is_refused():
    with pytest.raises(AttestationError, match="signature does not verify under the VCEK"):
        _verify(snp_report(ec.generate_private_key(ec.SECP384R1())))


def test_a_vcek_other_than_p384_is_refused():
    pki = amd()
    p256 = dataclasses.replace(pki, vcek_key=ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(AttestationError, match="VCEK's key is not ECDSA P-384"):
        _verify(snp_report(), vcek=der(make_vcek(p256)))


def test_another_chips_vcek_is_refused():
    with pytest.raises(AttestationError, match="hwID is not the report's CHIP_ID"):
        _verify(snp_report(chip_id=b"\x01" * 64))


@pytest.mark.parametrize("index", [0, 1, 6, 7])
def test_a_vcek_for_another_tcb_is_refused(index):
    tcb = bytearray(REPORTED_TCB)
    tcb[index] += 1
    with pytest.raises(AttestationError, match="issued for another TCB"):
        _verify(snp_report(reported_tcb=bytes(tcb)))


def test_a_vcek_without_amd_extensions_is_refused():
    no_hwid = make_vcek(amd(), extensions=vcek_extensions()[1:])
    with pytest.raises(AttestationError, match=f"lacks AMD extension {AMD_OID}4"):
        _verify(snp_report(), vcek=der(no_hwid))
    from cryptography import x509

    bad_spl = (
        *vcek_extensions()[:4],
        x509.UnrecognizedExtension(x509.ObjectIdentifier(AMD_OID + "3.8"), b"\x04\x01\x73"),
    )
    with pytest.raises(AttestationError, match="not a DER INTEGER"):
        _verify(snp_report(), vcek=der(make_vcek(amd(), extensions=bad_spl)))


def test_a_debuggable_guest_is_refused():
    with pytest.raises(AttestationError, match="guest policy allows debugging"):
        _verify(snp_report(policy=POLICY | POLICY_DEBUG))


def test_malformed_reports_are_refused():
    with pytest.raises(AttestationError, match="must be 1184 bytes"):
        _verify(snp_report()[:-1])
    with pytest.raises(AttestationError, match="version 1 is not supported"):
        _verify(snp_report(version=1))
    with pytest.raises(AttestationError, match="not ECDSA P-384 with SHA-384"):
        _verify(snp_report(signature_algo=2))
    with pytest.raises(AttestationError, match="VCEK does not parse"):
        _verify(snp_report(), vcek=b"\x30\x00")
    with pytest.raises(AttestationError, match="ARK certificate's SHA-256 fingerprint"):
        verify_sev_snp(snp_report(), der(amd().vcek), der(amd().ask), b"", at=AT)


def test_the_key_binding_is_the_first_half_of_report_data():
    key, registry = b"\x07" * 1184, "0x" + "ab" * 20
    ev = _verify(snp_report(report_data=report_data_for(key, 31337, registry)))
    check_key_binding(ev, key, 31337, registry)
    for other_key, chain, other_registry in (
        (b"\x08" * 1184, 31337, registry),
        (key, 1, registry),
        (key, 31337, "0x" + "cd" * 20),
    ):
        with pytest.raises(AttestationError, match="does not bind this enclave key"):
            check_key_binding(ev, other_key, chain, other_registry)
