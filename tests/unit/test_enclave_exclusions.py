"""Every per-slot failure the enclave meets (hostile storage, ciphertext or payload) excludes that slot with
a reason; none aborts the round's finalization."""

from __future__ import annotations

import hashlib
import json
import pathlib
from types import SimpleNamespace

import pytest

from zkfl_dapp.chain.views import SubmissionView
from zkfl_dapp.core.commitments import poseidon_commitment
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
VALUES = (10, -20, 30)
KEY = EnclaveKeyPair.generate()


def _sealed(store: EmbeddedStore, payload: bytes, commitment: int) -> str:
    return str(store.put(seal(KEY.public_key, payload, associated_data(ROUND, HOSPITAL, commitment))))


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
def enclave(tmp_path: pathlib.Path) -> AggregatorEnclave:
    store = EmbeddedStore(tmp_path / "store", max_bytes=4096)
    artifacts = SimpleNamespace(spec=SimpleNamespace(model_size=len(VALUES), scale_bits=13))
    return AggregatorEnclave(None, KEY, store, artifacts, ModelSpec(num_features=2), tmp_path)  # type: ignore[arg-type]


def test_every_hostile_slot_is_an_exclusion_with_a_reason(enclave: AggregatorEnclave, monkeypatch) -> None:
    store = enclave.storage
    assert isinstance(store, EmbeddedStore)
    good = UpdatePayload(round_id=ROUND, hospital=HOSPITAL, sample_count=5, scale_bits=13, values=VALUES)
    commitment = poseidon_commitment(VALUES)
    huge_scale = json.loads(good.to_bytes()) | {"scale_bits": 10**6}
    cases = {
        "valid": (_sealed(store, good.to_bytes(), commitment), None),
        "too large": (str(store.put(bytes(100_000))), "cap of 4096 bytes"),
        "too deep": (_deep(store, 3000), "too deep"),
        "not a CID": ("not-a-cid", "not a valid CID"),
        "missing": ("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", "no content"),
        "garbage": (str(store.put(b"garbage" * 200)), "ciphertext rejected"),
        "huge scale": (_sealed(store, json.dumps(huge_scale).encode(), commitment), "scale_bits"),
    }
    subs = [
        SubmissionView(slot=i, hospital=HOSPITAL, commitment=commitment, sample_count=5, cid=cid)
        for i, (cid, _) in enumerate(cases.values())
    ]
    monkeypatch.setattr(enclave_module, "read_submissions", lambda rm, round_id: subs)
    outcomes = enclave.open_submissions(object(), ROUND)
    assert len(outcomes) == len(cases)
    for outcome, (name, (_, reason)) in zip(outcomes, cases.items(), strict=True):
        if reason is None:
            assert outcome.included and outcome.values == VALUES, name
        else:
            assert not outcome.included and outcome.reason is not None and reason in outcome.reason, (
                name,
                outcome.reason,
            )
