"""Hostile input to the parsers: values the inference circuit cannot represent, duplicate JSON keys
(last-wins in Python's json), numeric strings beyond plain decimals, and deep nesting."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from zkfl_dapp.circuits.kzg_inference import KzgInferenceCircuitSpec, prove_kzg_inference
from zkfl_dapp.core.formats import ModelFile, UpdatePayload
from zkfl_dapp.exceptions import CircuitError, ModelFileError, PatientRecordError
from zkfl_dapp.ml.data import training_statistics
from zkfl_dapp.prediction.patient import PatientRecord

STATS = training_statistics(seed=0)
NAMES = STATS.feature_names


def _fields(**override: object) -> dict[str, object]:
    return {**{n: 1.5 for n in NAMES}, **override}


def _csv(values: dict[str, object]) -> str:
    return ",".join(values) + "\n" + ",".join(str(v) for v in values.values()) + "\n"


# --- values the circuit cannot represent ---------------------------------------------------------
@pytest.mark.parametrize("value", [1e300, -1e300, 1e10, "1e300"])
def test_a_huge_finite_value_is_refused_naming_the_feature(value: object) -> None:
    text = json.dumps({"features": _fields(**{"worst area": value})})
    with pytest.raises(PatientRecordError, match="'worst area'.*range"):
        PatientRecord.parse_json(text, NAMES)
    with pytest.raises(PatientRecordError, match="'worst area'.*range"):
        PatientRecord.parse_csv(_csv(_fields(**{"worst area": value})), NAMES)


def test_a_value_far_outside_the_training_distribution_is_refused_when_standardized() -> None:
    record = PatientRecord.parse_json(json.dumps({"features": _fields(**{"mean smoothness": 1e8})}), NAMES)
    with pytest.raises(PatientRecordError, match="'mean smoothness'.*standard deviations"):
        record.standardized(STATS)


def test_the_inference_circuit_refuses_unrepresentable_features_before_ezkl() -> None:
    art = SimpleNamespace(spec=KzgInferenceCircuitSpec())
    with pytest.raises(CircuitError, match="feature 3"):
        prove_kzg_inference(art, [0] * 41, [0.0, 0.0, 0.0, 1e300] + [0.0] * 26, 0, None)  # type: ignore[arg-type]


# --- duplicate keys -----------------------------------------------------------------------------
def test_duplicate_keys_in_patient_json_are_refused() -> None:
    body = ", ".join(f'"{n}": 1.5' for n in NAMES)
    with pytest.raises(PatientRecordError, match="duplicate key 'mean radius'"):
        PatientRecord.parse_json('{"features": {' + body + ', "mean radius": 99}}', NAMES)
    with pytest.raises(PatientRecordError, match="duplicate key 'features'"):
        PatientRecord.parse_json('{"features": {' + body + '}, "features": {' + body + "}}", NAMES)


def test_duplicate_keys_in_the_strict_file_formats_are_refused() -> None:
    model = ModelFile(model_kind="logreg", num_features=2, scale_bits=13, pad_rows=0, values=(1, 2, 3)).to_bytes()
    with pytest.raises(ModelFileError, match="duplicate key 'values'"):
        ModelFile.parse(model[:-1] + b',"values":[4,5,6]}')
    update = UpdatePayload(round_id=1, hospital="0x" + "ab" * 20, sample_count=3, scale_bits=13, values=(1,))
    with pytest.raises(ModelFileError, match="duplicate key 'sample_count'"):
        UpdatePayload.parse(update.to_bytes()[:-1] + b',"sample_count":300}')


def test_deeply_nested_json_is_a_clear_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(ModelFileError):
        ModelFile.parse(deep.encode())
    with pytest.raises(PatientRecordError):
        PatientRecord.parse_json('{"features": ' + deep + "}", NAMES)


# --- only plain decimal numbers -----------------------------------------------------------------
@pytest.mark.parametrize("text", ["1_000", "1_0.5", "\u0661\u0662", "0x10", "+ 1", "1e", ".", "1.5.2"])
def test_numeric_strings_must_be_plain_decimals(text: str) -> None:
    with pytest.raises(PatientRecordError, match="'mean radius' is not numeric"):
        PatientRecord.parse_csv(_csv(_fields(**{"mean radius": text})), NAMES)
    with pytest.raises(PatientRecordError, match="'mean radius' is not numeric"):
        PatientRecord.parse_json(json.dumps({"features": _fields(**{"mean radius": text})}), NAMES)


@pytest.mark.parametrize("text", ["13.82", " -0.5 ", "+2", "1e-3", "4.2E+2", ".5", "7."])
def test_plain_decimals_still_parse(text: str) -> None:
    record = PatientRecord.parse_csv(_csv(_fields(**{"mean radius": text})), NAMES)
    assert record.values[0] == float(text)
