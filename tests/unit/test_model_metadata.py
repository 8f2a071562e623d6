"""A model file's metadata (scale, kind, feature count) is not covered by its commitment: it is bounded by
the format and must equal what the consortium expects wherever a global model is read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zkfl_dapp.circuits.kzg import commit
from zkfl_dapp.core.formats import MAX_SCALE_BITS, ModelFile, UpdatePayload
from zkfl_dapp.exceptions import ModelFileError
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.prediction.proofs import float_probability
from zkfl_dapp.protocol.hospital import fetch_global_model
from zkfl_dapp.storage.embedded import EmbeddedStore

VALUES = [1, -2, 3, 4096]
GOOD = {
    "format": "zkfl-model/v2",
    "model_kind": "logreg",
    "num_features": 3,
    "scale_bits": 13,
    "pad_rows": 0,
    "values": VALUES,
}


def _bytes(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"scale_bits": 10**6}, "scale_bits"),
        ({"scale_bits": 0}, "scale_bits"),
        ({"scale_bits": -13}, "scale_bits"),
        ({"model_kind": "cnn"}, "model_kind"),
        ({"model_kind": ""}, "model_kind"),
        ({"num_features": 0}, "num_features"),
        ({"num_features": 10**12}, "num_features"),
    ],
)
def test_out_of_range_metadata_is_a_model_file_error(changes: dict[str, object], where: str) -> None:
    with pytest.raises(ModelFileError, match=where):
        ModelFile.parse(_bytes(**changes))


def test_a_huge_scale_never_reaches_arithmetic() -> None:
    with pytest.raises(ModelFileError, match="scale_bits"):
        float_probability(ModelFile.parse(_bytes(scale_bits=10**6)).values, [0.0, 0.0, 0.0])
    assert MAX_SCALE_BITS == 20


@pytest.mark.parametrize(("pad_rows", "where"), [(-1, "pad_rows"), (10**6, "pad_rows"), (4, "pad rows")])
def test_pad_rows_are_bounded(pad_rows: int, where: str) -> None:
    with pytest.raises(ModelFileError, match=where):
        ModelFile.parse(_bytes(pad_rows=pad_rows))


def test_update_payload_metadata_is_bounded() -> None:
    update = {
        "format": "zkfl-update/v1",
        "round_id": 1,
        "hospital": "0x" + "ab" * 20,
        "sample_count": 10,
        "scale_bits": 10**6,
        "values": VALUES,
    }
    with pytest.raises(ModelFileError, match="scale_bits"):
        UpdatePayload.parse(json.dumps(update).encode())
    for field, value in (("sample_count", -1), ("round_id", -1)):
        with pytest.raises(ModelFileError, match=field):
            UpdatePayload.parse(json.dumps({**update, "scale_bits": 13, field: value}).encode())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scale_bits": 12}, "scale 2\\^12.*2\\^13"),
        ({"model_kind": "mlp"}, "kind 'mlp'.*'logreg'"),
        ({"num_features": 2}, "2 features.*3"),
        # the same values as one chunk of 31 rows: the same flat vector and point, but another layout
        ({"chunk": 31, "model_rows": 31}, "chunks of 31 rows, the consortium commits one vector"),
    ],
)
def test_fetch_global_model_requires_the_consortium_metadata(
    tmp_path: Path, suite, changes: dict[str, object], message: str
) -> None:
    store = EmbeddedStore(tmp_path / "store")
    values = list(range(-15, 16)) + [0] * suite.pad_rows  # d = 31 model rows (3 features: d = 4 below)
    spec = ModelSpec(num_features=30)
    good = {**GOOD, "num_features": 30, "pad_rows": suite.pad_rows, "values": values}
    genuine = ModelFile.parse(json.dumps(good).encode())
    (point,) = commit(values, suite.basis)
    commitment = (point.as_uint256(),)
    assert fetch_global_model(store, spec, commitment, store.put(genuine.to_bytes()), suite=suite) == genuine
    # same values, hence the same commitment: only the metadata differs
    changes = {**changes, "num_features": 29} if "num_features" in changes else changes
    cid = store.put(json.dumps({**good, **changes}).encode())
    with pytest.raises(ModelFileError, match=message.replace("2 features.*3", "29 features.*30")):
        fetch_global_model(store, spec, commitment, cid, suite=suite)


def test_parse_checks_each_expected_field() -> None:
    data = _bytes()
    assert ModelFile.parse(data, expected_size=4, kind="logreg", num_features=3, scale_bits=13).values == tuple(VALUES)
    with pytest.raises(ModelFileError, match="scale"):
        ModelFile.parse(data, scale_bits=12)
