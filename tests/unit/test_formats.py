"""Tests of zkfl_dapp.formats: canonical bytes (hence stable CIDs) and strict parsing of untrusted files."""

from __future__ import annotations

import json

import pytest

from zkfl_dapp.core.aggregation import aggregate, normalized_weights
from zkfl_dapp.core.fixedpoint import MAX_QUANTIZED
from zkfl_dapp.core.formats import MAX_MODEL_VALUE, ModelFile, UpdatePayload
from zkfl_dapp.exceptions import ModelFileError
from zkfl_dapp.storage.unixfs import compute_cid

HOSPITAL = "0x" + "ab" * 20
VALUES = (0, 1, -1, 4096, -8192, MAX_QUANTIZED - 1, -(MAX_QUANTIZED - 1))

PAD = 2  # the last two of VALUES are pad rows in a model file
MODEL_FIELDS = {"format": "zkfl-model/v2", "model_kind": "mlp", "num_features": 4, "scale_bits": 13, "pad_rows": PAD}
UPDATE_FIELDS = {"format": "zkfl-update/v1", "round_id": 3, "hospital": HOSPITAL, "sample_count": 120, "scale_bits": 13}


def make_model(values: tuple[int, ...] = VALUES, pad_rows: int = PAD) -> ModelFile:
    return ModelFile(model_kind="mlp", num_features=4, scale_bits=13, pad_rows=pad_rows, values=values)


def make_update(values: tuple[int, ...] = VALUES) -> UpdatePayload:
    return UpdatePayload(round_id=3, hospital=HOSPITAL, sample_count=120, scale_bits=13, values=values)


def model_json(**changes: object) -> bytes:
    doc: dict[str, object] = {**MODEL_FIELDS, "values": list(VALUES), **changes}
    return json.dumps(doc).encode()


# --- canonical bytes ----------------------------------------------------------------------------
def test_model_file_canonical_bytes_are_sorted_compact_json() -> None:
    assert make_model((1, -2, 3)).to_bytes() == (
        b'{"format":"zkfl-model/v2","model_kind":"mlp","num_features":4,"pad_rows":2,"scale_bits":13,"values":[1,-2,3]}'
    )


def test_update_payload_canonical_bytes_are_sorted_compact_json() -> None:
    assert make_update((7,)).to_bytes() == (
        b'{"format":"zkfl-update/v1","hospital":"' + HOSPITAL.encode() + b'","round_id":3,'
        b'"sample_count":120,"scale_bits":13,"values":[7]}'
    )


@pytest.mark.parametrize("make", [make_model, make_update])
def test_same_content_gives_same_bytes_and_same_cid(make) -> None:
    a, b = make(), make()
    assert a is not b
    assert a.to_bytes() == b.to_bytes()
    assert str(compute_cid(a.to_bytes())) == str(compute_cid(b.to_bytes()))
    different = make((*VALUES[:-1], VALUES[-1] + 1))
    assert str(compute_cid(different.to_bytes())) != str(compute_cid(a.to_bytes()))


def test_parsing_non_canonical_json_reserializes_to_the_canonical_bytes() -> None:
    canonical = make_model().to_bytes()
    shuffled = dict(reversed(list(json.loads(canonical).items())))
    pretty = json.dumps(shuffled, indent=4).encode()
    assert pretty != canonical
    parsed = ModelFile.parse(pretty)
    assert parsed == make_model()
    assert parsed.to_bytes() == canonical


def test_round_trip() -> None:
    model = make_model()
    assert ModelFile.parse(model.to_bytes(), expected_size=len(VALUES) - PAD, pad_rows=PAD) == model
    assert ModelFile.parse(model.to_bytes()).values == VALUES
    update = make_update()
    assert UpdatePayload.parse(update.to_bytes(), expected_size=len(VALUES)) == update
    assert UpdatePayload.parse(update.to_bytes()).values == VALUES


# --- the aggregate and its model rows --------------------------------------------------------------
def test_model_rows_are_the_values_before_the_pad_rows() -> None:
    model = make_model()
    assert model.model_size == len(VALUES) - PAD and model.aggregate_scale_bits == 26


def test_training_values_round_the_model_rows_half_away_from_zero() -> None:
    model = make_model((4096, -4096, 12288, 8191, -8192, 99, -99), pad_rows=2)
    assert model.training_values() == (1, -1, 2, 1, -1)


def test_genesis_is_the_quantized_model_at_scale_2_26_with_zero_pad_rows() -> None:
    q0 = (3, -1, 0, MAX_QUANTIZED - 1)
    genesis = ModelFile.genesis("logreg", 3, 13, q0, 10)
    assert genesis.values == (*(8192 * q for q in q0), *([0] * 10))
    assert genesis.pad_rows == 10 and genesis.model_size == 4 and genesis.training_values() == q0
    assert genesis.format == "zkfl-model/v2"


# --- strict parsing -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"format": "zkfl-model/v1", ', r"at 'file'.*Invalid JSON"),
        (b"", r"at 'file'.*Invalid JSON"),
        (b"[1, 2, 3]", r"at 'file'"),
        (model_json() + b" trailing", r"at 'file'.*Invalid JSON"),
        (b"\xff\xfe" + model_json(), r"at 'file'.*Invalid JSON"),
        (model_json(model_kind="ml\udcff").replace(b"\\udcff", b"\xff"), r"at 'file'.*Invalid JSON.*unicode"),
    ],
    ids=["truncated", "empty", "not-an-object", "trailing-garbage", "non-utf8-prefix", "non-utf8-in-string"],
)
def test_parse_rejects_malformed_bytes(data: bytes, message: str) -> None:
    with pytest.raises(ModelFileError, match=rf"model file is malformed {message}"):
        ModelFile.parse(data)


@pytest.mark.parametrize(
    "token",
    [b"NaN", b"Infinity", b"-Infinity", b"1.0", b"1.5", b"1e3", b"true", b"false", b'"7"', b"null"],
)
def test_parse_rejects_non_integer_values(token: bytes) -> None:
    data = model_json(values=[1, 111111, 3]).replace(b"111111", token)
    assert token in data
    with pytest.raises(ModelFileError, match=r"at 'values\.1'.*valid integer"):
        ModelFile.parse(data)
    update = json.dumps({**UPDATE_FIELDS, "values": [1, 111111, 3]}).encode().replace(b"111111", token)
    with pytest.raises(ModelFileError, match=r"update payload is malformed at 'values\.1'.*valid integer"):
        UpdatePayload.parse(update)


@pytest.mark.parametrize("field", ["num_features", "scale_bits"])
@pytest.mark.parametrize("bad", [True, 13.0, "13", None])
def test_parse_rejects_non_integer_header_fields(field: str, bad: object) -> None:
    with pytest.raises(ModelFileError, match=rf"at '{field}'.*valid integer"):
        ModelFile.parse(model_json(**{field: bad}))


@pytest.mark.parametrize("field", ["format", "model_kind", "num_features", "scale_bits", "pad_rows", "values"])
def test_parse_rejects_missing_fields(field: str) -> None:
    doc = {**MODEL_FIELDS, "values": list(VALUES)}
    del doc[field]
    with pytest.raises(ModelFileError, match=rf"at '{field}'.*[Ff]ield required"):
        ModelFile.parse(json.dumps(doc).encode())


@pytest.mark.parametrize("field", ["format", "round_id", "hospital", "sample_count", "scale_bits", "values"])
def test_update_parse_rejects_missing_fields(field: str) -> None:
    doc = {**UPDATE_FIELDS, "values": list(VALUES)}
    del doc[field]
    with pytest.raises(ModelFileError, match=rf"at '{field}'.*[Ff]ield required"):
        UpdatePayload.parse(json.dumps(doc).encode())


def test_parse_rejects_extra_fields() -> None:
    with pytest.raises(ModelFileError, match=r"at 'salt'.*Extra inputs are not permitted"):
        ModelFile.parse(model_json(salt=1))
    doc = {**UPDATE_FIELDS, "values": [1], "note": "hi"}
    with pytest.raises(ModelFileError, match=r"at 'note'.*Extra inputs"):
        UpdatePayload.parse(json.dumps(doc).encode())


@pytest.mark.parametrize("tag", ["zkfl-update/v1", "zkfl-model/v1", "", "ZKFL-MODEL/V2"])
def test_parse_rejects_a_wrong_format_tag(tag: str) -> None:
    with pytest.raises(ModelFileError, match=r"at 'format'.*zkfl-model/v2"):
        ModelFile.parse(model_json(format=tag))


def test_an_update_is_not_a_model_file_and_vice_versa() -> None:
    with pytest.raises(ModelFileError, match="at 'format'"):
        ModelFile.parse(make_update().to_bytes())
    with pytest.raises(ModelFileError, match="at 'format'"):
        UpdatePayload.parse(make_model().to_bytes())


@pytest.mark.parametrize("bad", [MAX_MODEL_VALUE, -MAX_MODEL_VALUE, 10**80, -(10**80)])
def test_parse_rejects_out_of_range_model_values(bad: int) -> None:
    with pytest.raises(ModelFileError, match=rf"values\[2\] = {bad} is outside the allowed range"):
        ModelFile.parse(model_json(values=[0, 1, bad]))


@pytest.mark.parametrize("bad", [MAX_QUANTIZED, -MAX_QUANTIZED, 10**80, -(10**80)])
def test_parse_rejects_out_of_range_update_values(bad: int) -> None:
    with pytest.raises(ModelFileError, match=rf"values\[2\] = {bad} is outside the allowed range"):
        UpdatePayload.parse(json.dumps({**UPDATE_FIELDS, "values": [0, 1, bad]}).encode())


def test_values_at_the_range_limits_are_accepted() -> None:
    # A proven average may exceed the update bound slightly (weights round to a sum just above 2^s).
    model_edge = [MAX_MODEL_VALUE - 1, -(MAX_MODEL_VALUE - 1)]
    assert ModelFile.parse(model_json(values=model_edge, pad_rows=1)).values == tuple(model_edge)
    update_edge = [MAX_QUANTIZED - 1, -(MAX_QUANTIZED - 1)]
    update = json.dumps({**UPDATE_FIELDS, "values": update_edge}).encode()
    assert UpdatePayload.parse(update).values == tuple(update_edge)


def test_constructing_out_of_range_values_fails_too() -> None:
    with pytest.raises(ValueError, match="outside the allowed range"):
        make_model((MAX_MODEL_VALUE,))


def test_parse_rejects_the_wrong_expected_size() -> None:
    size = len(VALUES) - PAD
    with pytest.raises(ModelFileError, match=rf"model file has {size} model values, the consortium's model has 31"):
        ModelFile.parse(make_model().to_bytes(), expected_size=31)
    with pytest.raises(ModelFileError, match=rf"update has {len(VALUES)} values \(model and pad rows\), expected 6"):
        UpdatePayload.parse(make_update().to_bytes(), expected_size=len(VALUES) - 1)


def test_parse_rejects_the_wrong_pad_rows() -> None:
    with pytest.raises(ModelFileError, match="declares 2 pad rows, the consortium commits 10"):
        ModelFile.parse(make_model().to_bytes(), pad_rows=10)
    with pytest.raises(ModelFileError, match="declares 7 pad rows but holds 7 values"):
        ModelFile.parse(model_json(pad_rows=len(VALUES)))
    with pytest.raises(ModelFileError, match="at 'pad_rows'"):
        ModelFile.parse(model_json(pad_rows=-1))


@pytest.mark.parametrize(
    ("expectation", "message"),
    [
        ({"kind": "logreg"}, "declares kind 'mlp', the consortium trains 'logreg'"),
        ({"num_features": 5}, "declares 4 features, the consortium's models take 5"),
        ({"scale_bits": 12}, "declares scale 2\\^13, the consortium's circuits use 2\\^12"),
    ],
)
def test_parse_rejects_metadata_other_than_the_consortiums(expectation: dict, message: str) -> None:
    with pytest.raises(ModelFileError, match=message):
        ModelFile.parse(make_model().to_bytes(), **expectation)


def test_values_must_be_an_array() -> None:
    with pytest.raises(ModelFileError, match=r"at 'values'.*array"):
        ModelFile.parse(model_json(values={"0": 1}))


def test_the_aggregate_of_extreme_updates_still_makes_a_model_file() -> None:
    """Weights sum to exactly 2^13, so S = sum w_i u_i stays below 2^13 * 2^23 = 2^36 = MAX_MODEL_VALUE."""
    top, bottom = (MAX_QUANTIZED - 1,) * 3, (-(MAX_QUANTIZED - 1),) * 3
    for updates in ([top, top, top], [bottom, bottom, bottom]):
        s = aggregate(updates, normalized_weights([1, 1, 1], 13))
        assert max(abs(v) for v in s) == 8192 * (MAX_QUANTIZED - 1) < MAX_MODEL_VALUE
        assert make_model(s, pad_rows=1).values == s


# --- chunked model files (one committed vector per chunk) ---------------------------------------------
CHUNKED_Q0 = (3, -1, 0, 5, 7)  # d = 5 in chunks of 2 rows: the last chunk is one model row and one zero fill


def test_chunked_genesis_lays_out_every_chunk_with_its_own_pad_rows() -> None:
    genesis = ModelFile.genesis("logreg", 4, 13, CHUNKED_Q0, 2, chunk=2)
    one = 8192
    assert genesis.values == (3 * one, -one, 0, 0, 0, 5 * one, 0, 0, 7 * one, 0, 0, 0)
    assert (genesis.chunk, genesis.model_rows, genesis.pad_rows, genesis.model_size) == (2, 5, 2, 5)
    assert genesis.layout().chunks == 3 and genesis.training_values() == CHUNKED_Q0
    assert b'"chunk":2' in genesis.to_bytes() and b'"model_rows":5' in genesis.to_bytes()
    parsed = ModelFile.parse(genesis.to_bytes(), expected_size=5, chunk=2, pad_rows=2)
    assert parsed == genesis and parsed.to_bytes() == genesis.to_bytes()


def test_a_genesis_in_one_chunk_of_the_whole_model_is_the_one_vector_file() -> None:
    single = ModelFile.genesis("logreg", 4, 13, CHUNKED_Q0, 2)
    assert ModelFile.genesis("logreg", 4, 13, CHUNKED_Q0, 2, chunk=len(CHUNKED_Q0)) == single
    assert (single.chunk, single.model_rows) == (0, 0) and single.layout().chunks == 1


@pytest.mark.parametrize("fields", [{"chunk": 2}, {"model_rows": 5}])
def test_parse_rejects_a_chunked_file_without_both_chunk_fields(fields: dict[str, int]) -> None:
    with pytest.raises(ModelFileError, match="only one of 'chunk' and 'model_rows'"):
        ModelFile.parse(model_json(**fields))


def test_parse_rejects_a_chunked_file_of_the_wrong_flat_length() -> None:
    # d = 5 in chunks of 2 with 2 pad rows takes 3 x (2 + 2) = 12 values; VALUES has 7
    with pytest.raises(ModelFileError, match=r"model file has 7 values, the layout takes 12 \(3 x \(2 model"):
        ModelFile.parse(model_json(chunk=2, model_rows=5))
    genesis = ModelFile.genesis("logreg", 4, 13, CHUNKED_Q0, 2, chunk=2)
    short = json.loads(genesis.to_bytes()) | {"values": list(genesis.values[:-1])}
    with pytest.raises(ModelFileError, match="model file has 11 values, the layout takes 12"):
        ModelFile.parse(json.dumps(short).encode())


def test_parse_rejects_a_chunk_longer_than_the_model() -> None:
    with pytest.raises(ModelFileError, match="invalid commitment layout: d = 5, chunk = 9"):
        ModelFile.parse(model_json(chunk=9, model_rows=5))


@pytest.mark.parametrize(("field", "bad"), [("chunk", -1), ("model_rows", -1), ("chunk", 10**8)])
def test_chunk_fields_are_bounded(field: str, bad: int) -> None:
    with pytest.raises(ModelFileError, match=rf"at '{field}'"):
        ModelFile.parse(model_json(**({"chunk": 2, "model_rows": 5} | {field: bad})))


def test_parse_rejects_another_chunking_than_the_consortiums() -> None:
    chunked = ModelFile.genesis("logreg", 4, 13, CHUNKED_Q0, 2, chunk=2).to_bytes()
    with pytest.raises(ModelFileError, match="declares chunks of 2 rows, the consortium commits one vector"):
        ModelFile.parse(chunked, chunk=0)
    with pytest.raises(ModelFileError, match="declares chunks of 2 rows, the consortium commits 3"):
        ModelFile.parse(chunked, chunk=3)
    with pytest.raises(ModelFileError, match="declares chunks of all rows, the consortium commits 2"):
        ModelFile.parse(make_model().to_bytes(), chunk=2)
    assert ModelFile.parse(make_model().to_bytes(), chunk=0) == make_model()


def test_a_constructed_chunked_file_of_the_wrong_length_has_no_layout() -> None:
    model = ModelFile(
        model_kind="mlp", num_features=4, scale_bits=13, pad_rows=PAD, chunk=2, model_rows=5, values=VALUES
    )
    with pytest.raises(ModelFileError, match="the layout takes 12"):
        model.training_values()
