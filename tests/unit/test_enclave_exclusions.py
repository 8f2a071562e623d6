"""Every per-slot failure the enclave meets (hostile storage, ciphertext or payload) excludes that slot with
a reason; none aborts the round's finalization."""

from __future__ import annotations

import hashlib
import json
import pathlib
from types import SimpleNamespace

import pytest

from tests.conftest import padded_update
from zkfl_dapp.chain.views import Commitment, SubmissionView, commitment_bytes
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.core.formats import UpdatePayload
from zkfl_dapp.crypto.envelope import EnclaveKeyPair, associated_data, seal
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.protocol import enclave as enclave_module
from zkfl_dapp.protocol.enclave import AggregatorEnclave
from zkfl_dapp.storage.cid import _DAG_PB, _RAW, _make_cid
from zkfl_dapp.storage.embedded import EmbeddedStore
from zkfl_dapp.storage.unixfs import _encode_file_node

ROUND = 4
HOSPITAL = "0x" + "ab" * 20
VALUES = padded_update(1)  # 31 model rows and 10 pad rows
OTHER = padded_update(2)
KEY = EnclaveKeyPair.generate()


def _sealed(store: EmbeddedStore, payload: bytes, commitment: Commitment) -> str:
    ad = associated_data(
        ROUND, HOSPITAL, commitment_bytes(commitment), enclave_key_hash=hashlib.sha256(KEY.public_key).digest()
    )
    return str(store.put(seal(KEY.public_key, payload, ad)))


def _deep(store: EmbeddedStore, depth: int) -> str:
    def write(codec: int, block: bytes) -> str:
        cid = _make_cid(codec, hashlib.sha256(block).digest())
        (store.root / "blocks" / cid).write_bytes(block)
        return cid

    cid = write(_RAW, b"x")
    for _ in range(depth):
        cid = write(_DAG_PB, _encode_file_node([(cid, 1, 1)]))  # type: ignore[list-item]
    return cid


@pytest.fixture
def enclave(tmp_path: pathlib.Path, suite: CircuitSuite) -> AggregatorEnclave:
    store = EmbeddedStore(tmp_path / "store", max_bytes=4096)
    return AggregatorEnclave(None, KEY, store, suite, ModelSpec(num_features=30), tmp_path)


def test_every_hostile_slot_is_an_exclusion_with_a_reason(
    enclave: AggregatorEnclave, suite: CircuitSuite, commit_of, monkeypatch
) -> None:
    store = enclave.storage
    assert isinstance(store, EmbeddedStore)
    good = UpdatePayload(round_id=ROUND, hospital=HOSPITAL, sample_count=5, scale_bits=13, values=VALUES)
    commitment = (commit_of(VALUES).as_uint256(),)  # the one-point scheme: one point per commitment
    # the right point and another one, bound into the ciphertext and on the chain alike: a point too many
    two_points = (*commitment, commit_of(OTHER).as_uint256())
    huge_scale = json.loads(good.to_bytes()) | {"scale_bits": 10**6}

    def payload(**changes: object) -> bytes:
        return json.dumps(json.loads(good.to_bytes()) | changes).encode()

    cases = {
        "valid": (_sealed(store, good.to_bytes(), commitment), None),
        "does not open": (_sealed(store, payload(values=list(OTHER)), commitment), "does not open its on-chain"),
        "model rows only": (_sealed(store, payload(values=list(VALUES[:31])), commitment), "malformed update"),
        "other round": (_sealed(store, payload(round_id=ROUND + 1), commitment), "names round 5"),
        "other count": (_sealed(store, payload(sample_count=6), commitment), "declares 6 samples"),
        "other scale": (_sealed(store, payload(scale_bits=12), commitment), "quantized at 2^12"),
        "other point in AD": (_sealed(store, good.to_bytes(), (commit_of(OTHER).as_uint256(),)), "ciphertext rejected"),
        "two points": (_sealed(store, good.to_bytes(), two_points), "does not open its on-chain"),
        "too large": (str(store.put(bytes(100_000))), "cap of 4096 bytes"),
        "too deep": (_deep(store, 3000), "too deep"),
        "not a CID": ("not-a-cid", "not a valid CID"),
        "missing": ("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "no content"),
        "garbage": (str(store.put(b"garbage" * 200)), "ciphertext rejected"),
        "huge scale": (_sealed(store, json.dumps(huge_scale).encode(), commitment), "scale_bits"),
    }
    subs = [
        SubmissionView(
            slot=i,
            hospital=HOSPITAL,
            commitment=two_points if name == "two points" else commitment,
            sample_count=5,
            cid=cid,
        )
        for i, (name, (cid, _)) in enumerate(cases.items())
    ]
    monkeypatch.setattr(enclave_module, "read_submissions", lambda rm, round_id: subs)
    outcomes = enclave.open_submissions(SimpleNamespace(challengeWindow=lambda: 0), ROUND)
    assert len(outcomes) == len(cases)
    for outcome, (name, (_, reason)) in zip(outcomes, cases.items(), strict=True):
        if reason is None:
            assert outcome.included and outcome.values == VALUES, name
        else:
            assert not outcome.included and outcome.reason is not None and reason in outcome.reason, (
                name,
                outcome.reason,
            )
