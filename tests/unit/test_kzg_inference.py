"""The commit-and-prove inference circuit off-chain: a real proof verifies, proves the logit of the Python
reference bit for bit, starts with exactly the norm circuit's commitment of the aggregate (the commitment
RoundManager stores), and stops verifying when its logit instance or its model point changes. Features that
the circuit cannot represent are refused before ezkl runs."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)

from __future__ import annotations

import json
import math
import random
import stat
from pathlib import Path

import ezkl
import numpy as np
import pytest

from tests.kzg_fixtures import ADDRESS, ROOT, basis, kzg_norm, prev_aggregate, updates  # noqa: F401
from zkfl_dapp.circuits import kzg_inference as ki
from zkfl_dapp.circuits.kzg import commit
from zkfl_dapp.core.fixedpoint import felt_hex, to_field
from zkfl_dapp.exceptions import CircuitError
from zkfl_dapp.prediction.proofs import prove_prediction, risk_of_logit, verify_prediction_offchain

SPEC = ki.KzgInferenceCircuitSpec()
FEATURES = tuple(np.random.default_rng(3).normal(0.0, 1.0, SPEC.num_features))


@pytest.fixture(scope="module")
def inference() -> ki.KzgInferenceArtifacts:
    return ki.ensure_kzg_inference_artifacts(SPEC, ROOT / "build" / "circuits")


@pytest.fixture(scope="module")
def proof(inference, prev_aggregate, tmp_path_factory) -> ki.KzgInferenceProof:
    workdir = tmp_path_factory.mktemp("inference")
    return ki.prove_kzg_inference(inference, prev_aggregate, FEATURES, ADDRESS, workdir, rng=random.Random(5))


def _verifies(inference, proof, tmp_path: Path, *, logit: int | None = None, point0: bytes | None = None) -> bool:
    """ezkl's verdict on the proof file with the logit instance and/or the first point replaced."""
    raw = json.loads(proof.path.read_text())
    if logit is not None:
        raw["instances"][0][0] = felt_hex(to_field(logit))
    if point0 is not None:
        data = point0 + proof.proof[64:]
        raw["proof"], raw["hex_proof"] = list(data), "0x" + data.hex()
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(raw))
    try:
        return bool(ezkl.verify(str(path), str(inference.settings), str(inference.vk), str(inference.srs)))
    except RuntimeError:
        return False


def test_circuit_sharesTheNormCircuitsBasis(inference, kzg_norm, basis):
    own = inference.basis()
    assert (own.logrows, own.unusable_rows) == (basis.logrows, basis.unusable_rows) == (10, 6)
    assert inference.srs.read_bytes() == kzg_norm.srs.read_bytes()


def test_proof_verifiesOffchain_andProvesTheReferenceLogit(inference, proof, prev_aggregate):
    print(f"\ninference proof: {len(proof.proof)} bytes, proved in {proof.prove_seconds:.2f} s")
    assert ki.verify_kzg_inference_offchain(inference, proof)
    expected = ki.reference_logit(SPEC, prev_aggregate, ki.quantize_features(SPEC, FEATURES))
    assert proof.logit == expected
    assert proof.instances == ki.expected_instances(expected, ADDRESS)
    # and the reference is the real model's logit, up to the quantization of the features
    real = float(np.dot(np.asarray(prev_aggregate[:30], dtype=float), FEATURES)) / 2**26 + prev_aggregate[30] / 2**26
    assert math.isclose(proof.logit / 2**26, real, abs_tol=1e-6)


@pytest.mark.parametrize(("x0", "logit"), [(0.5, 8), (-0.5, 6), (1.5, 9), (-1.5, 5), (0.5 - 2**-26, 7)])
def test_circuitAndReference_roundTheDotProductHalfAwayFromZero(inference, x0, logit, tmp_path):
    """S_0 = 1 (scale 2^26), bias 7: the dot product is x0 * 2^26 / 2^26 rounded, exact halves away from 0."""
    s = [0] * SPEC.model_rows
    s[0], s[SPEC.num_features] = 1, 7
    features = [x0] + [0.0] * (SPEC.num_features - 1)
    assert ki.reference_logit(SPEC, s, ki.quantize_features(SPEC, features)) == logit
    assert ki.prove_kzg_inference(inference, s, features, ADDRESS, tmp_path).logit == logit


def test_firstPoint_isTheNormBasisCommitmentOfTheAggregate(proof, prev_aggregate, basis):
    assert proof.proof[:64] == commit(prev_aggregate, basis)[0].to_bytes()
    assert proof.model_commitment == commit(prev_aggregate, basis)[0]


def test_changedLogit_failsVerification(inference, proof, tmp_path):
    assert _verifies(inference, proof, tmp_path)  # the harness itself keeps a valid proof valid
    assert not _verifies(inference, proof, tmp_path, logit=proof.logit + 1)
    assert not _verifies(inference, proof, tmp_path, logit=-proof.logit)


def test_replacedModelPoint_failsVerification(inference, proof, updates, basis, tmp_path):
    other = commit(list(updates[0]), basis)[0].to_bytes()
    assert not _verifies(inference, proof, tmp_path, point0=other)


def test_padRows_hideTheFeatures_withoutChangingTheLogit(inference, proof, prev_aggregate, tmp_path):
    again = ki.prove_kzg_inference(inference, prev_aggregate, FEATURES, ADDRESS, tmp_path, rng=random.Random(6))
    assert again.logit == proof.logit and again.commitments[0] == proof.commitments[0]
    assert again.commitments[1] != proof.commitments[1]  # fresh pad: the features' point is not repeatable


def test_proving_leavesOnlyAPrivateProofFile(proof):
    assert [p.name for p in proof.path.parent.iterdir()] == ["proof.json"]
    assert stat.S_IMODE(proof.path.stat().st_mode) & 0o077 == 0


@pytest.mark.parametrize(
    ("index", "value"), [(3, 1000.5), (0, -1e300), (7, float("nan")), (29, float("inf")), (1, float("-inf"))]
)
def test_unrepresentableFeatures_areRefusedBeforeEzkl(index, value):
    features = [0.0] * SPEC.num_features
    features[index] = value
    art = type("Art", (), {"spec": SPEC})()  # never reaches ezkl: no artifacts needed
    with pytest.raises(CircuitError, match=f"feature {index} "):
        ki.prove_kzg_inference(art, [0] * SPEC.model_rows, features, ADDRESS, Path("/nonexistent"))  # type: ignore[arg-type]


def test_largestFeature_fitsTheRangeCheck():
    assert ki.quantize_features(SPEC, [ki.MAX_FEATURE_ABS] * SPEC.num_features)[0] < ki.INPUT_RANGE
    with pytest.raises(CircuitError, match="30 features"):
        ki.quantize_features(SPEC, [0.0] * 29)


def test_aggregateOutOfRange_orOfWrongLength_isRefused():
    art = type("Art", (), {"spec": SPEC})()
    with pytest.raises(CircuitError, match="41 values"):
        ki.prove_kzg_inference(art, [0] * 31, [0.0] * 30, ADDRESS, Path("/nonexistent"))  # type: ignore[arg-type]
    with pytest.raises(CircuitError, match=r"aggregate\[40\]"):
        ki.prove_kzg_inference(art, [0] * 40 + [2**36], [0.0] * 30, ADDRESS, Path("/nonexistent"))  # type: ignore[arg-type]
    big = [2**35] * SPEC.model_rows  # logit = 30 * 2^35 * 1000 / 2^26 + 2^35: beyond 2^36
    with pytest.raises(CircuitError, match="logit"):
        ki.prove_kzg_inference(art, big, [1000.0] * 30, ADDRESS, Path("/nonexistent"))  # type: ignore[arg-type]


def test_specRefusesTooLittleFeatureHiding():
    with pytest.raises(CircuitError, match="hide fewer than 128"):
        ki.KzgInferenceCircuitSpec(feature_pad_rows=3)


def test_predictionApi_reportsTheRiskOfTheLogit(inference, prev_aggregate, basis, tmp_path):
    prediction = prove_prediction(inference, prev_aggregate, FEATURES, ADDRESS, tmp_path)
    assert prediction.probability == risk_of_logit(prediction.logit)
    assert abs(prediction.probability - prediction.float_probability) < 1e-6
    assert verify_prediction_offchain(inference, prediction, commit(prev_aggregate, basis)[0])
    assert not verify_prediction_offchain(inference, prediction, commit([1, 2, 3], basis)[0])


def test_riskOfLogit_isTheSigmoidAtScale26():
    assert risk_of_logit(0) == 0.5
    assert math.isclose(risk_of_logit(2**26), 1 / (1 + math.exp(-1)))
    assert math.isclose(risk_of_logit(-(2**26)), 1 / (1 + math.exp(1)))
    assert risk_of_logit(-(2**40)) == 0.0 and risk_of_logit(2**40) == 1.0  # no overflow
