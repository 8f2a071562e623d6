"""A hospital checks the registered enclave key's evidence before it encrypts (protocol/attested_key.py), against
the real registry: SEV-SNP evidence from the TEST PKI of tests/attestation_pki.py (a test ARK/ASK, pinned in the
hospital's policy by fingerprint) stands in for the enclave's, bound to the registered key, or to another."""

from __future__ import annotations

import hashlib

import pytest

from tests.attestation_pki import AT, amd, pins_of_test_roots, snp_report
from zkfl_dapp.attestation import AttestationPolicy, EvidenceFile, EvidenceKind, measurement_id, report_data_for
from zkfl_dapp.crypto.envelope import EnclaveKeyPair
from zkfl_dapp.exceptions import AttestationError, DigestMismatchError
from zkfl_dapp.protocol.attested_key import fetch_attested_enclave_key
from zkfl_dapp.storage.embedded import EmbeddedStore

MEASURED = b"\x5a" * 48
MEASUREMENT = measurement_id(EvidenceKind.AMD_SEV_SNP, MEASURED)
PINNED = AttestationPolicy(measurements=frozenset({MEASUREMENT}), anchors=pins_of_test_roots())


@pytest.fixture
def store(tmp_path):
    return EmbeddedStore(tmp_path / "ipfs")


def _register(deployment, aggregator, store, kind, measurement, evidence: bytes, key: bytes | None = None) -> bytes:
    key = key or EnclaveKeyPair.generate().public_key
    key_cid, evidence_cid = str(store.put(key)), str(store.put(evidence))
    reg = deployment.registry
    reg.registerEnclaveKey(
        hashlib.sha256(key).digest(), key_cid, int(kind), measurement, evidence_cid, sender=aggregator
    )
    return key


def _register_snp(deployment, aggregator, hospitals, store, chain, *, bind: bool = True) -> bytes:
    for h in hospitals[:3]:
        deployment.registry.approveMeasurement(MEASUREMENT, sender=h)
    key = EnclaveKeyPair.generate().public_key
    bound = key if bind else EnclaveKeyPair.generate().public_key
    report_data = report_data_for(bound, int(chain.chain_id), str(deployment.registry.address))
    report = snp_report(report_data=report_data, measurement=MEASURED)
    evidence = EvidenceFile(EvidenceKind.AMD_SEV_SNP, {"report": report, **amd().fields}).to_bytes()
    return _register(deployment, aggregator, store, EvidenceKind.AMD_SEV_SNP, MEASUREMENT, evidence, key)


def _fetch(deployment, store, chain, policy):
    return fetch_attested_enclave_key(store, deployment.registry, int(chain.chain_id), policy, at=AT)


def test_hospital_accepts_a_bound_pinned_key(deployment, aggregator, hospitals, store, chain):
    key = _register_snp(deployment, aggregator, hospitals, store, chain)
    public_key, check = _fetch(deployment, store, chain, PINNED)
    assert public_key == key and check.attested and check.measurement == MEASUREMENT


def test_hospital_refuses_evidence_off_its_pinned_roots(deployment, aggregator, hospitals, store, chain):
    _register_snp(deployment, aggregator, hospitals, store, chain)
    with pytest.raises(AttestationError, match="ARK certificate's SHA-256 fingerprint"):
        _fetch(deployment, store, chain, AttestationPolicy(measurements=PINNED.measurements))  # AMD's roots


def test_hospital_refuses_a_key_the_evidence_does_not_bind(deployment, aggregator, hospitals, store, chain):
    _register_snp(deployment, aggregator, hospitals, store, chain, bind=False)
    with pytest.raises(AttestationError, match="does not bind this enclave key to chain"):
        _fetch(deployment, store, chain, PINNED)


def test_hospital_refuses_a_measurement_off_its_own_allowlist(deployment, aggregator, hospitals, store, chain):
    _register_snp(deployment, aggregator, hospitals, store, chain)
    with pytest.raises(AttestationError, match="not on this hospital's own allowlist"):
        _fetch(deployment, store, chain, AttestationPolicy(anchors=PINNED.anchors))


def test_hospital_refuses_a_measurement_the_registry_revoked(deployment, admin, aggregator, hospitals, store, chain):
    _register_snp(deployment, aggregator, hospitals, store, chain)
    deployment.registry.revokeMeasurement(MEASUREMENT, sender=admin)
    with pytest.raises(AttestationError, match="the registry no longer allows"):
        _fetch(deployment, store, chain, PINNED)


def test_hospital_refuses_a_kind_it_does_not_accept(deployment, aggregator, hospitals, store, chain):
    _register_snp(deployment, aggregator, hospitals, store, chain)
    policy = AttestationPolicy(kinds=frozenset({EvidenceKind.INTEL_TDX}), measurements=PINNED.measurements)
    with pytest.raises(AttestationError, match="amd-sev-snp evidence is not a kind this hospital accepts"):
        _fetch(deployment, store, chain, policy)


def test_hospital_refuses_a_key_other_than_the_registered_one(deployment, admin, aggregator, store, chain):
    deployment.registry.setEvidenceKindAccepted(int(EvidenceKind.DEVELOPMENT), True, sender=admin)
    registered, served = EnclaveKeyPair.generate().public_key, EnclaveKeyPair.generate().public_key
    evidence_cid = str(store.put(EvidenceFile(EvidenceKind.DEVELOPMENT, {}).to_bytes()))
    deployment.registry.registerEnclaveKey(
        hashlib.sha256(registered).digest(), str(store.put(served)), 1, bytes(32), evidence_cid, sender=aggregator
    )
    with pytest.raises(DigestMismatchError, match="does not match its registered SHA-256"):
        _fetch(deployment, store, chain, AttestationPolicy(allow_development=True))


def test_development_enclave_needs_the_hospitals_opt_in(deployment, admin, aggregator, store, chain):
    deployment.registry.setEvidenceKindAccepted(int(EvidenceKind.DEVELOPMENT), True, sender=admin)
    dev = EvidenceFile(EvidenceKind.DEVELOPMENT, {}).to_bytes()
    key = _register(deployment, aggregator, store, EvidenceKind.DEVELOPMENT, bytes(32), dev)
    with pytest.raises(AttestationError, match="development enclave: not attested"):
        _fetch(deployment, store, chain, AttestationPolicy())
    public_key, check = _fetch(deployment, store, chain, AttestationPolicy(allow_development=True))
    assert public_key == key and not check.attested and check.summary.startswith("RED: development enclave")
