"""Exclusion evidence (docs/exclusions.md): the decapsulation evidence m' of one envelope proves its shared
secret from the enclave's public key alone; a forged m', another key or a tampered evidence file proves nothing;
and the check anyone runs refutes an exclusion of a valid, opening update (the censorship attack of issue 18)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey
from kyber_py.ml_kem import ML_KEM_768

from tests.conftest import padded_update
from zkfl_dapp.chain.enums import ExclusionReason
from zkfl_dapp.chain.views import SubmissionView, commitment_bytes
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.core.exclusions import ExclusionEvidence
from zkfl_dapp.core.formats import UpdatePayload
from zkfl_dapp.crypto.envelope import EnclaveKeyPair, associated_data, open_sealed, seal
from zkfl_dapp.crypto.evidence import (
    kem_message,
    open_with_message,
    seal_recoverable,
    shared_secret,
    split_envelope,
)
from zkfl_dapp.exceptions import EvidenceError, ModelFileError
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.protocol import enclave as enclave_module
from zkfl_dapp.protocol.enclave import AggregatorEnclave
from zkfl_dapp.protocol.exclusions import build_evidence, check_evidence
from zkfl_dapp.storage.embedded import EmbeddedStore

ROUND = 4
HOSPITAL = "0x" + "ab" * 20
KEY = EnclaveKeyPair.generate()
OTHER_KEY = EnclaveKeyPair.generate()
KEY_HASH = hashlib.sha256(KEY.public_key).digest()
AD = associated_data(ROUND, HOSPITAL, bytes(64), enclave_key_hash=KEY_HASH)
VALUES = padded_update(1)
OTHER = padded_update(2)
UNDECRYPTABLE, INVALID = ExclusionReason.UNDECRYPTABLE, ExclusionReason.INVALID_CONTENT

# --- the two ML-KEM implementations agree ------------------------------------------------------------


def test_cryptography_and_kyber_py_derive_the_same_keys_and_secrets_from_one_seed() -> None:
    for _ in range(3):
        seed = os.urandom(64)
        private = MLKEM768PrivateKey.from_seed_bytes(seed)
        ek, dk = ML_KEM_768.key_derive(seed)
        assert ek == private.public_key().public_bytes_raw()
        secret, kem = private.public_key().encapsulate()
        assert ML_KEM_768.decaps(dk, kem) == private.decapsulate(kem) == secret


# --- the decapsulation evidence of one envelope ----------------------------------------------------


def test_kem_message_proves_the_envelopes_shared_secret_from_the_public_key_alone() -> None:
    envelope = seal(KEY.public_key, b"update", AD)
    kem, _, _ = split_envelope(envelope)
    message = kem_message(KEY.private_key, kem)
    assert MLKEM768PrivateKey.from_seed_bytes(KEY.private_key).decapsulate(kem) == shared_secret(
        KEY.public_key, kem, message
    )
    assert open_with_message(KEY.public_key, envelope, AD, message) == b"update"
    assert open_with_message(KEY.public_key, envelope, AD + b"x", message) is None  # fails under other AD


def test_a_forged_kem_message_proves_nothing() -> None:
    envelope = seal(KEY.public_key, b"update", AD)
    kem, _, _ = split_envelope(envelope)
    message = bytearray(kem_message(KEY.private_key, kem))
    message[0] ^= 1
    with pytest.raises(EvidenceError, match="does not re-encapsulate"):
        shared_secret(KEY.public_key, kem, bytes(message))
    with pytest.raises(EvidenceError, match="does not re-encapsulate"):
        open_with_message(KEY.public_key, envelope, AD, os.urandom(32))
    with pytest.raises(EvidenceError, match="32 bytes"):
        shared_secret(KEY.public_key, kem, bytes(message[:31]))


def test_a_message_checked_under_another_key_proves_nothing() -> None:
    envelope = seal(KEY.public_key, b"update", AD)
    kem, _, _ = split_envelope(envelope)
    with pytest.raises(EvidenceError):  # the right m', the wrong public key
        shared_secret(OTHER_KEY.public_key, kem, kem_message(KEY.private_key, kem))
    with pytest.raises(EvidenceError):  # m' computed with the wrong secret key
        shared_secret(KEY.public_key, kem, kem_message(OTHER_KEY.private_key, kem))


def test_seal_recoverable_is_a_normal_envelope_whose_kept_message_is_the_evidence() -> None:
    envelope, message = seal_recoverable(KEY.public_key, b"update", AD)
    assert open_sealed(KEY, envelope, AD) == b"update"
    kem, _, _ = split_envelope(envelope)
    assert kem_message(KEY.private_key, kem) == message
    assert open_with_message(KEY.public_key, envelope, AD, message) == b"update"


def test_an_encapsulation_outside_the_image_of_encaps_has_no_verifiable_message() -> None:
    envelope = bytearray(seal(KEY.public_key, b"update", AD))
    envelope[8 + 5] ^= 0x40  # a changed KEM ciphertext: decapsulation falls back to implicit rejection
    kem, _, _ = split_envelope(bytes(envelope))
    with pytest.raises(EvidenceError):
        shared_secret(KEY.public_key, kem, kem_message(KEY.private_key, kem))


# --- the evidence file and its check ------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: pathlib.Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "store")


@pytest.fixture
def commitment(commit_of):
    return (commit_of(VALUES).as_uint256(),)


def _payload(**changes: object) -> bytes:
    good = UpdatePayload(round_id=ROUND, hospital=HOSPITAL, sample_count=5, scale_bits=13, values=VALUES)
    return json.dumps(json.loads(good.to_bytes()) | changes).encode()


def _submission(store: EmbeddedStore, commitment, plaintext: bytes, *, ad_round: int = ROUND, slot: int = 0):
    ad = associated_data(ad_round, HOSPITAL, commitment_bytes(commitment), enclave_key_hash=KEY_HASH)
    envelope = seal(KEY.public_key, plaintext, ad)
    cid = str(store.put(envelope))
    return SubmissionView(slot=slot, hospital=HOSPITAL, commitment=commitment, sample_count=5, cid=cid), envelope


def _check(reason, evidence: ExclusionEvidence | bytes | None, envelope, sub, suite, declared: bytes | None = None):
    data = evidence.to_bytes() if isinstance(evidence, ExclusionEvidence) else evidence
    digest = declared if declared is not None else hashlib.sha256(data or b"").digest()
    return check_evidence(
        reason, digest, data, envelope, round_id=ROUND, sub=sub, public_key=KEY.public_key, suite=suite
    )


def _evidence(sub, envelope, reason: str, finding: str = "the enclave's finding") -> ExclusionEvidence:
    return build_evidence(KEY.private_key, KEY.public_key, ROUND, sub, envelope, reason, finding)  # type: ignore[arg-type]


def test_good_evidence_of_each_reason_holds(store, commitment, suite: CircuitSuite) -> None:
    sub, envelope = _submission(store, commitment, _payload(values=list(OTHER)))  # does not open
    verdict = _check(INVALID, _evidence(sub, envelope, "invalid_content"), envelope, sub, suite)
    assert verdict.holds and "does not open its on-chain commitment" in verdict.why
    sub, envelope = _submission(store, commitment, _payload(sample_count=6))
    assert _check(INVALID, _evidence(sub, envelope, "invalid_content"), envelope, sub, suite).holds
    sub, envelope = _submission(store, commitment, _payload(), ad_round=ROUND + 1)  # sealed for another round
    verdict = _check(UNDECRYPTABLE, _evidence(sub, envelope, "undecryptable"), envelope, sub, suite)
    assert verdict.holds and "authentication" in verdict.why
    garbage = b"not an envelope" * 10
    sub = dataclasses.replace(sub, cid=str(store.put(garbage)))
    assert _check(UNDECRYPTABLE, _evidence(sub, garbage, "undecryptable"), garbage, sub, suite).holds


def test_censorship_evidence_fails_an_excluded_valid_update_decrypts_and_opens(
    store, commitment, suite: CircuitSuite
) -> None:
    sub, envelope = _submission(store, commitment, _payload())  # valid and opening
    verdict = _check(INVALID, _evidence(sub, envelope, "invalid_content"), envelope, sub, suite)
    assert not verdict.holds and "unjustified" in verdict.why
    verdict = _check(UNDECRYPTABLE, _evidence(sub, envelope, "undecryptable"), envelope, sub, suite)
    assert not verdict.holds and "decrypts" in verdict.why


def test_forged_message_in_the_evidence_fails(store, commitment, suite: CircuitSuite) -> None:
    sub, envelope = _submission(store, commitment, _payload())
    forged = _evidence(sub, envelope, "undecryptable").model_copy(update={"kem_message": os.urandom(32).hex()})
    verdict = _check(UNDECRYPTABLE, forged, envelope, sub, suite)
    assert not verdict.holds and "does not re-encapsulate" in verdict.why


def test_evidence_made_with_a_wrong_key_fails(store, commitment, suite: CircuitSuite) -> None:
    sub, envelope = _submission(store, commitment, _payload())
    kem, _, _ = split_envelope(envelope)
    wrong = _evidence(sub, envelope, "undecryptable").model_copy(
        update={"kem_message": kem_message(OTHER_KEY.private_key, kem).hex()}
    )
    assert not _check(UNDECRYPTABLE, wrong, envelope, sub, suite).holds
    other_key = _evidence(sub, envelope, "undecryptable").model_copy(
        update={"enclave_key_sha256": hashlib.sha256(OTHER_KEY.public_key).hexdigest()}
    )
    assert "the chain" in _check(UNDECRYPTABLE, other_key, envelope, sub, suite).why


def test_tampered_missing_or_mismatched_evidence_fails(store, commitment, suite: CircuitSuite) -> None:
    sub, envelope = _submission(store, commitment, _payload(values=list(OTHER)))
    good = _evidence(sub, envelope, "invalid_content")
    data = bytearray(good.to_bytes())
    data[-3] ^= 1  # a tampered byte: no longer the file declared on-chain
    declared = hashlib.sha256(good.to_bytes()).digest()
    assert "SHA-256 differs" in _check(INVALID, bytes(data), envelope, sub, suite, declared=declared).why
    assert "not served" in _check(INVALID, None, envelope, sub, suite, declared=declared).why
    extra = json.dumps(json.loads(good.to_bytes()) | {"extra": 1}).encode()
    assert "malformed" in _check(INVALID, extra, envelope, sub, suite).why
    assert "the chain" in _check(UNDECRYPTABLE, good, envelope, sub, suite).why  # declared with another reason
    assert "the chain" in _check(INVALID, good.model_copy(update={"slot": 3}), envelope, sub, suite).why
    other = seal(KEY.public_key, _payload(), AD)
    assert "other bytes" in _check(INVALID, good, other, sub, suite).why
    assert "not served" in _check(INVALID, good, None, sub, suite).why
    assert not _check(ExclusionReason.NONE, good, envelope, sub, suite).holds


def test_evidence_file_parses_strictly(store, commitment) -> None:
    sub, envelope = _submission(store, commitment, _payload())
    good = _evidence(sub, envelope, "undecryptable")
    assert ExclusionEvidence.parse(good.to_bytes()) == good and good.reason_code == UNDECRYPTABLE
    for change in ({"kem_message": "00" * 31}, {"reason": "unavailable"}, {"slot": "0"}, {"format": "v0"}):
        with pytest.raises(ModelFileError):
            ExclusionEvidence.parse(json.dumps(json.loads(good.to_bytes()) | change).encode())
    missing_tag = {k: v for k, v in json.loads(good.to_bytes()).items() if k != "format"}
    with pytest.raises(ModelFileError, match="format"):
        ExclusionEvidence.parse(json.dumps(missing_tag).encode())


# --- the enclave: every exclusion it makes carries evidence that holds --------------------------------


def test_every_enclave_exclusion_with_a_reason_code_has_evidence_that_holds(
    tmp_path: pathlib.Path, suite: CircuitSuite, commitment, monkeypatch
) -> None:
    store = EmbeddedStore(tmp_path / "store")
    enclave = AggregatorEnclave(None, KEY, store, suite, ModelSpec(num_features=30), tmp_path)
    cases = [
        (_payload(), ROUND, 0),
        (_payload(values=list(OTHER)), ROUND, INVALID),
        (_payload(round_id=ROUND + 1), ROUND, INVALID),
        (_payload(), ROUND + 1, UNDECRYPTABLE),
    ]
    subs, envelopes = [], []
    for slot, (plaintext, ad_round, _) in enumerate(cases):
        sub, envelope = _submission(store, commitment, plaintext, ad_round=ad_round, slot=slot)
        subs.append(sub)
        envelopes.append(envelope)
    missing = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    subs.append(SubmissionView(slot=4, hospital=HOSPITAL, commitment=commitment, sample_count=5, cid=missing))
    monkeypatch.setattr(enclave_module, "read_submissions", lambda rm, round_id: subs)
    outcomes = enclave.open_submissions(SimpleNamespace(challengeWindow=lambda: 0), ROUND)
    assert [o.code for o in outcomes] == [0, INVALID, INVALID, UNDECRYPTABLE, ExclusionReason.UNAVAILABLE]
    assert outcomes[0].included and outcomes[0].evidence is None and outcomes[4].evidence is None
    for o, sub, envelope in zip(outcomes[1:4], subs[1:4], envelopes[1:4], strict=True):
        assert o.evidence is not None
        verdict = _check(o.code, o.evidence, envelope, sub, suite)
        assert verdict.holds, (o.slot, verdict.why)
