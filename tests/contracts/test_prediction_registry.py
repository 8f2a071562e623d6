"""PredictionRegistry: inference proofs accepted only for the model of a named finalized round.

Round 1 is finalized with a real aggregation proof (conftest ``prove``); its global model is the proof's
model instances. Inference proofs are real ezkl proofs, made once per module and reused across fresh
deployments (they depend only on the model values and the features, not on addresses).
"""

from __future__ import annotations

import ape
import numpy as np
import pytest
from eth_utils import keccak

from tests.conftest import ROOT, SPEC, make_updates
from zkfl_dapp.core.aggregation import normalized_weights
from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.circuits.inference import InferenceArtifacts, InferenceCircuitSpec, ensure_inference_artifacts, install_verifier, witness_outputs
from zkfl_dapp.prediction.proofs import Prediction, prove_prediction
from zkfl_dapp.core.fixedpoint import FIELD_MODULUS, from_field, quantize
from zkfl_dapp.core.commitments import model_commitment, poseidon_commitment

COUNTS = [50, 60, 70, 80, 90]
NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
PROOF_CID = "bafkreiabcproofcidforthetestsonlyaaaaaaaaaaaaaaaaaaaaaaaaaaaa"


@pytest.fixture(scope="session", autouse=True)
def inference_circuit() -> InferenceArtifacts:
    art = ensure_inference_artifacts(InferenceCircuitSpec(), ROOT / "build" / "circuits")
    installed = install_verifier(art, ROOT / "contracts")
    assert installed.name == "InferenceVerifier.sol" and installed.read_bytes() == art.verifier_sol.read_bytes()
    return art


def _model_file(values) -> ModelFile:
    return ModelFile(model_kind="logreg", num_features=30, scale_bits=13, values=tuple(values))


@pytest.fixture(scope="module")
def round_updates():
    return {1: make_updates(seed=11, count=5), 2: make_updates(seed=12, count=5)}


@pytest.fixture(scope="module")
def round_models(prove, round_updates) -> dict[int, ModelFile]:
    """The global model each round finalizes with: the aggregation proof's model instances."""
    return {
        r: _model_file(from_field(v) for v in prove(u, COUNTS).model_values(SPEC)) for r, u in round_updates.items()
    }


@pytest.fixture(scope="module")
def features() -> np.ndarray:
    # small standardized values: with random N(0, 1) models the logit stays near the sigmoid's slope
    return np.random.default_rng(7).normal(0.0, 0.05, 30)


@pytest.fixture(scope="module")
def proofs(inference_circuit, round_models, features, tmp_path_factory) -> dict[str, Prediction]:
    made_up = _model_file(quantize(np.random.default_rng(99).normal(0, 0.3, 31), 13))
    return {
        "round1": prove_prediction(inference_circuit, round_models[1], features, tmp_path_factory.mktemp("p1")),
        "made_up": prove_prediction(inference_circuit, made_up, features, tmp_path_factory.mktemp("p2")),
    }


def _finalize_round(dep, admin, aggregator, hospitals, chain, prove, updates) -> int:
    rm = dep.round_manager
    rm.openRound(chain.pending_timestamp + 3600, 3, sender=admin)
    round_id = int(rm.currentRoundId())
    for h, u, n in zip(hospitals, updates, COUNTS, strict=False):
        rm.submitUpdate(round_id, poseidon_commitment(u), f"cid-{poseidon_commitment(u)}", n, sender=h)
    proof = prove(updates, COUNTS)
    assert list(rm.expectedWeights(round_id, 0)) == list(normalized_weights(COUNTS, SPEC.scale_bits))
    rm.finalizeRound(round_id, proof.proof, list(proof.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)
    return round_id


@pytest.fixture
def registry(inference_circuit, admin, project, deployment):
    verifier = project.InferenceVerifier.deploy(sender=admin)
    return project.PredictionRegistry.deploy(deployment.round_manager.address, verifier.address, sender=admin)


@pytest.fixture
def finalized(prove, round_updates, admin, aggregator, hospitals, chain, deployment, registry):
    """A deployment whose round 1 is finalized; returns (deployment, registry)."""
    assert _finalize_round(deployment, admin, aggregator, hospitals, chain, prove, round_updates[1]) == 1
    return deployment, registry


def _record(registry, round_id, prediction: Prediction, sender, instances=None, proof=None):
    inst = list(prediction.proof.instances) if instances is None else list(instances)
    return registry.recordPrediction(round_id, prediction.proof.proof if proof is None else proof, inst, sender=sender)


# --- the model binding ---------------------------------------------------------------------------


def test_modelInstances_equalTheModelFileValues_bitForBit(proofs, round_models, finalized):
    dep, _ = finalized
    p = proofs["round1"].proof
    assert p.model_values == round_models[1].values
    assert (
        model_commitment(p.model_values)
        == round_models[1].keccak_commitment()
        == dep.round_manager.getRound(1).newModelCommitment
    )


def test_constructor_readsModelSizeAndBindings(registry, deployment, project, chain):
    reg = project.IPredictionRegistry.at(registry.address)  # every getter is declared by the interface
    assert reg.modelSize() == SPEC.model_size
    assert reg.roundManager() == deployment.round_manager.address
    assert reg.RISK_SCALE_BITS() == 13
    verifier_code = chain.provider.get_code(reg.inferenceVerifier())
    assert verifier_code == project.InferenceVerifier.contract_type.get_runtime_bytecode()


# --- recording -------------------------------------------------------------------------------


def test_recordPrediction_acceptsValidProofAndEmitsReceipt(
    proofs, inference_circuit, round_models, features, outsider, finalized, tmp_path
):
    dep, registry = finalized
    prediction = proofs["round1"]
    tx = _record(registry, 1, prediction, outsider)  # a non-member (a patient's app) may record

    (event,) = tx.events.filter(registry.PredictionRecorded)
    assert event.roundId == 1 and event.requester == outsider.address
    assert event.risk == prediction.risk == prediction.proof.instances[0]
    assert bytes(event.proofHash) == keccak(prediction.proof.proof)
    assert registry.isRecorded(keccak(prediction.proof.proof))
    # the recorded risk is the circuit's output for these features and this model
    outputs = witness_outputs(inference_circuit, features, round_models[1].values, tmp_path)
    assert event.risk == outputs[0]
    assert abs(prediction.probability - prediction.float_probability) < 0.01
    print(f"recordPrediction gas {tx.gas_used:,}; proof {len(prediction.proof.proof)} B")
    assert tx.gas_used < 1_500_000


def test_recordPrediction_revertsWhen_sameProofTwice(proofs, outsider, admin, finalized):
    _, registry = finalized
    prediction = proofs["round1"]
    _record(registry, 1, prediction, outsider)
    with ape.reverts(registry.PredictionRegistryProofAlreadyRecorded, proofHash=keccak(prediction.proof.proof)):
        _record(registry, 1, prediction, admin)


def test_recordPrediction_revertsWhen_proofMadeWithAnotherModel(proofs, outsider, finalized):
    dep, registry = finalized
    made_up = proofs["made_up"]
    expected = dep.round_manager.getRound(1).newModelCommitment
    actual = model_commitment(made_up.proof.model_values)
    with ape.reverts(registry.PredictionRegistryModelMismatch, roundId=1, expected=expected, actual=actual):
        _record(registry, 1, made_up, outsider)


def test_recordPrediction_revertsWhen_modelInstancesSwappedIn(proofs, round_models, outsider, finalized):
    """Another model's proof relabelled with round 1's model instances: the binding passes, the verifier rejects."""
    _, registry = finalized
    made_up = proofs["made_up"]
    relabelled = [made_up.proof.instances[0], *(v % FIELD_MODULUS for v in round_models[1].values)]
    with ape.reverts(registry.PredictionRegistryProofRejected, roundId=1):
        _record(registry, 1, made_up, outsider, instances=relabelled)


def test_recordPrediction_revertsWhen_replayedForAnotherRound(
    proofs, prove, round_updates, round_models, outsider, admin, aggregator, hospitals, chain, finalized
):
    dep, registry = finalized
    assert _finalize_round(dep, admin, aggregator, hospitals, chain, prove, round_updates[2]) == 2
    prediction = proofs["round1"]  # valid for round 1's model
    expected = dep.round_manager.getRound(2).newModelCommitment
    assert expected == round_models[2].keccak_commitment()
    with ape.reverts(
        registry.PredictionRegistryModelMismatch,
        roundId=2,
        expected=expected,
        actual=round_models[1].keccak_commitment(),
    ):
        _record(registry, 2, prediction, outsider)
    _record(registry, 1, prediction, outsider)  # still fine for the round it was made for


def test_recordPrediction_revertsWhen_outputTampered(proofs, outsider, finalized):
    _, registry = finalized
    prediction = proofs["round1"]
    inst = list(prediction.proof.instances)
    inst[0] = (inst[0] + 1) % FIELD_MODULUS  # claim a different risk
    with ape.reverts(registry.PredictionRegistryProofRejected, roundId=1):
        _record(registry, 1, prediction, outsider, instances=inst)
    inst[0] = 8192  # claim certainty
    with ape.reverts(registry.PredictionRegistryProofRejected, roundId=1):
        _record(registry, 1, prediction, outsider, instances=inst)
    assert not registry.isRecorded(keccak(prediction.proof.proof))


def test_recordPrediction_revertsWhen_proofBytesTampered(proofs, outsider, finalized):
    _, registry = finalized
    prediction = proofs["round1"]
    tampered = bytearray(prediction.proof.proof)
    tampered[len(tampered) // 2] ^= 0x01
    with ape.reverts(registry.PredictionRegistryProofRejected, roundId=1):
        _record(registry, 1, prediction, outsider, proof=bytes(tampered))
    with ape.reverts(registry.PredictionRegistryProofRejected, roundId=1):
        _record(registry, 1, prediction, outsider, proof=prediction.proof.proof[:-32])


def test_recordPrediction_revertsWhen_roundNotFinalized(proofs, outsider, admin, chain, deployment, registry):
    prediction = proofs["round1"]
    with ape.reverts(registry.PredictionRegistryRoundNotFinalized, roundId=1, phase=Phase.NONE):
        _record(registry, 1, prediction, outsider)
    deployment.round_manager.openRound(chain.pending_timestamp + 100, 3, sender=admin)
    with ape.reverts(registry.PredictionRegistryRoundNotFinalized, roundId=1, phase=Phase.OPEN):
        _record(registry, 1, prediction, outsider)
    chain.pending_timestamp += 200
    deployment.round_manager.abortRound(1, sender=admin)
    with ape.reverts(registry.PredictionRegistryRoundNotFinalized, roundId=1, phase=Phase.ABORTED):
        _record(registry, 1, prediction, outsider)


@pytest.mark.parametrize("delta", [-1, 1])
def test_recordPrediction_revertsWhen_wrongInstanceCount(proofs, outsider, finalized, delta):
    _, registry = finalized
    inst = list(proofs["round1"].proof.instances)
    inst = inst[:-1] if delta < 0 else [*inst, 0]
    with ape.reverts(registry.PredictionRegistryWrongInstanceCount, expected=SPEC.model_size + 1, actual=len(inst)):
        _record(registry, 1, proofs["round1"], outsider, instances=inst)
