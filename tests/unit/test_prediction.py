"""Patient records, standardization, and the inference circuit's fidelity.

Fidelity: over the whole held-out test set, the risk of the circuit's logit (its bit-exact Python reference,
:func:`zkfl_dapp.circuits.kzg_inference.reference_logit`, checked against real proofs in
tests/unit/test_kzg_inference.py) is compared with the floating-point sigmoid of the same model (a logistic
regression trained on the consortium's training data, as an aggregate at scale 2^26).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT
from zkfl_dapp.circuits.kzg_inference import KzgInferenceCircuitSpec, quantize_features, reference_logit
from zkfl_dapp.core.fixedpoint import round_half_away
from zkfl_dapp.exceptions import PatientRecordError
from zkfl_dapp.ml.data import load_federated, training_statistics
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.ml.training import TrainConfig, train_local
from zkfl_dapp.prediction.patient import PatientRecord
from zkfl_dapp.prediction.proofs import float_probability, risk_of_logit

STATS = training_statistics(seed=0)
NAMES = STATS.feature_names
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def split():
    return load_federated(5, seed=0)


@pytest.fixture(scope="module")
def trained_model(split) -> tuple[int, ...]:
    """A logistic regression trained on all training shards (several epochs), as an aggregate S: the
    parameters at scale 2^26 followed by 10 (zero) pad rows."""
    spec = ModelSpec(num_features=30)
    params = spec.initial_params(0)
    cfg = TrainConfig(local_epochs=5, batch_size=32, lr=0.1, seed=0)
    for r in range(1, 4):
        params = np.mean([train_local(spec, params, shard, cfg, round_id=r) for shard in split.shards], axis=0)
    return tuple(round_half_away(float(v) * 2**26) for v in params) + (0,) * 10


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _csv(names, *rows) -> str:
    return "\n".join([",".join(names), *(",".join(str(v) for v in row) for row in rows)]) + "\n"


# --- parsing ---------------------------------------------------------------------------------


def test_examples_parse_identically_and_are_a_held_out_patient():
    from_json = PatientRecord.load(EXAMPLES / "patient.json", NAMES)
    from_csv = PatientRecord.load(EXAMPLES / "patient.csv", NAMES)
    assert from_json == from_csv and from_json.feature_names == NAMES and len(from_json.values) == 30
    split = load_federated(5, seed=0)
    standardized = from_json.standardized(STATS)
    assert np.min(np.max(np.abs(split.test.x - standardized), axis=1)) < 1e-5  # row of the held-out set


def test_json_record_roundtrips(tmp_path):
    record = PatientRecord.load(EXAMPLES / "patient.json", NAMES)
    assert PatientRecord.load(_write(tmp_path, "r.json", record.to_json()), NAMES) == record


def test_csv_accepts_any_column_order_and_numeric_strings(tmp_path):
    record = PatientRecord.load(EXAMPLES / "patient.json", NAMES)
    order = list(reversed(range(30)))
    text = _csv([NAMES[i] for i in order], [f" {record.values[i]!r} " for i in order])
    assert PatientRecord.load(_write(tmp_path, "r.csv", text), NAMES) == record


def _values(**override) -> dict:
    values = {n: 1.5 for n in NAMES}
    values.update(override)
    return values


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.json", "", "is empty"),
        ("blank.csv", "  \n\n", "is empty"),
        ("bad.json", '{"features": {"mean radius": 1.0,', "is not valid JSON"),
        ("shape.json", json.dumps([1, 2, 3]), 'expected a JSON object {"features"'),
        ("extra-key.json", json.dumps({"features": _values(), "name": "x"}), 'expected a JSON object {"features"'),
        (
            "missing.json",
            json.dumps({"features": {k: v for k, v in _values().items() if k != "worst area"}}),
            "missing field(s) 'worst area'",
        ),
        ("unknown.json", json.dumps({"features": _values(age=54)}), "unknown field(s) 'age'"),
        (
            "text.json",
            json.dumps({"features": _values(**{"mean radius": "large"})}),
            "field 'mean radius' is not numeric",
        ),
        (
            "null.json",
            json.dumps({"features": _values(**{"mean radius": None})}),
            "field 'mean radius' must be a number",
        ),
        (
            "bool.json",
            json.dumps({"features": _values(**{"mean radius": True})}),
            "field 'mean radius' must be a number",
        ),
        ("nan.json", '{"features": {"mean radius": NaN}}', "NaN is not a valid value"),
        ("nan-string.json", json.dumps({"features": _values(**{"mean area": "nan"})}), "field 'mean area' is 'nan'"),
        ("inf.csv", _csv(NAMES, ["inf"] + [1] * 29), "field 'mean radius' is 'inf'"),
        ("header-only.csv", _csv(NAMES), "needs a header row of feature names and one data row"),
        ("two-rows.csv", _csv(NAMES, [1] * 30, [2] * 30), "exactly one patient, found 2 data rows"),
        ("short-row.csv", _csv(NAMES, [1] * 29), "the header has 30 columns, the data row 29"),
        ("missing.csv", _csv(NAMES[:-1], [1] * 29), "missing field(s) 'worst fractal dimension'"),
        ("unknown.csv", _csv([*NAMES, "age"], [1] * 31), "unknown field(s) 'age'"),
        ("duplicate.csv", _csv([*NAMES, "mean radius"], [1] * 31), "duplicate column(s) ['mean radius']"),
        ("text.csv", _csv(NAMES, ["", *[1] * 29]), "field 'mean radius' is not numeric: ''"),
    ],
)
def test_malformed_patient_files_are_rejected_clearly(tmp_path, name, text, message):
    path = _write(tmp_path, name, text)
    with pytest.raises(PatientRecordError) as info:
        PatientRecord.load(path, NAMES)
    assert message in str(info.value) and str(path) in str(info.value)


def test_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(PatientRecordError, match="cannot read patient file"):
        PatientRecord.load(tmp_path / "absent.json", NAMES)
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PatientRecordError, match="not UTF-8"):
        PatientRecord.load(path, NAMES)


def test_training_statistics_match_load_federated_standardization(split):
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    bunch = load_breast_cancer()
    _, x_test, _, _ = train_test_split(bunch.data, bunch.target, test_size=0.2, stratify=bunch.target, random_state=0)
    assert np.allclose(STATS.standardize(x_test), split.test.x, atol=1e-5)


# --- the circuit -----------------------------------------------------------------------------


def test_fidelity_on_whole_held_out_set(trained_model, split):
    spec = KzgInferenceCircuitSpec()
    circuit, reference = [], []
    for x in split.test.x:
        logit = reference_logit(spec, trained_model, quantize_features(spec, x))
        circuit.append(risk_of_logit(logit))
        reference.append(float_probability(trained_model, x))
    circuit_arr, reference_arr = np.asarray(circuit), np.asarray(reference)
    mae = float(np.mean(np.abs(circuit_arr - reference_arr)))
    agree = float(np.mean((circuit_arr >= 0.5) == (reference_arr >= 0.5)))
    print(f"\nfidelity over {len(circuit)} held-out patients: MAE {mae:.2e}, label agreement {agree:.2%}")
    assert mae < 1e-6  # no sigmoid table any more: only the features' quantization at 2^-26 differs
    assert agree == 1.0
    accuracy = float(np.mean((circuit_arr >= 0.5) == (split.test.y == 1)))
    assert accuracy > 0.9
