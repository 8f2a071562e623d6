"""PredictionRegistry over a real KZG RoundManager: a FedAvg round is finalized by hand (five hospitals submit
KZG commitments of padded updates, the chain derives C(S)), then real inference proofs are recorded against
the round's model commitment, and every typed revert is triggered by the change it names."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)

from __future__ import annotations

import ape
import numpy as np
import pytest
from eth_utils import keccak

from tests.kzg_fixtures import ROOT, aggregate, basis, kzg_norm, prev_aggregate, updates, zero  # noqa: F401
from zkfl_dapp.chain.enums import Phase, Role
from zkfl_dapp.chain.norm_claims import NO_CLAIM
from zkfl_dapp.chain.views import point_hash
from zkfl_dapp.circuits import kzg_inference as ki
from zkfl_dapp.circuits.kzg import G1Point, combine, commit
from zkfl_dapp.circuits.kzg_distance import address_limbs
from zkfl_dapp.circuits.verifier_codegen import install_verifier
from zkfl_dapp.core.fixedpoint import to_field
from zkfl_dapp.prediction.proofs import Prediction, prove_prediction, record_prediction, risk_of_logit

EIP170_LIMIT = 24_576
COUNTS = (50, 60, 70, 80, 90)
GENESIS_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
CIRCUIT_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
FEATURES = np.random.default_rng(21).normal(0.0, 1.0, 30)


@pytest.fixture(scope="module")
def inference() -> ki.KzgInferenceArtifacts:
    art = ki.ensure_kzg_inference_artifacts(ki.KzgInferenceCircuitSpec(), ROOT / "build" / "circuits")
    assert install_verifier(art, ROOT / "contracts").read_bytes() == art.verifier_sol.read_bytes()
    return art


@pytest.fixture(scope="module")
def chain_state(inference, basis, zero, updates, admin, aggregator, hospitals, outsider):
    """A real RoundManager whose round 1 is a finalized FedAvg round; the registry beside it."""
    project = ape.project
    verifier = project.InferenceVerifier.deploy(sender=admin)
    registry = project.ConsortiumRegistry.deploy(admin, sender=admin)
    for i, h in enumerate(hospitals[:5]):
        registry.admitMember(h, int(Role.HOSPITAL), f"hospital-{i}", sender=admin)
    registry.admitMember(aggregator, int(Role.AGGREGATOR), "enclave", sender=admin)
    scheme = (5, 31, 10, 1, 13, zero.as_uint256(), bytes.fromhex(basis.digest()), 0)  # one point, no window
    rm = project.RoundManager.deploy(
        registry, verifier, verifier, scheme, [zero.as_uint256()], GENESIS_CID, CIRCUIT_CID, sender=admin
    )  # the median / norm verifiers are never called by a FedAvg round without a norm bound
    commitments = [commit(list(u), basis)[0] for u in updates]
    deadline = ape.chain.pending_timestamp + 3600
    rm.openRoundWithPolicy(deadline, 3, 0, 0, sender=admin)
    for h, c, n in zip(hospitals, commitments, COUNTS, strict=False):
        rm.submitUpdate(1, [c.as_uint256()], f"cid-{n}", n, NO_CLAIM, sender=h)
    ape.chain.pending_timestamp = deadline + 1
    weights = [int(w) for w in rm.expectedWeights(1, 0)]
    rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    s = aggregate(updates, weights)
    assert sum(weights) == 2**13
    (model,) = commit(s, basis)
    assert combine(commitments, weights, zero).as_uint256() == model.as_uint256()
    assert bytes(rm.modelOf(1)) == point_hash(model.as_uint256())
    predictions = project.PredictionRegistry.deploy(rm, verifier, sender=admin)
    return rm, predictions, verifier, s


@pytest.fixture(scope="module")
def prediction(inference, chain_state, outsider, tmp_path_factory) -> Prediction:
    _, _, _, s = chain_state
    return prove_prediction(inference, s, FEATURES, outsider.address, tmp_path_factory.mktemp("predict"))


def _record(registry, prediction, sender, *, round_id=1, proof=None, instances=None):
    proof = prediction.proof.proof if proof is None else proof
    instances = list(prediction.proof.instances) if instances is None else instances
    return registry.recordPrediction(round_id, proof, instances, sender=sender)


def test_verifier_fitsEip170(chain_state):
    _, _, verifier, _ = chain_state
    size = len(ape.chain.provider.get_code(verifier.address))
    print(f"\nInferenceVerifier runtime bytecode: {size} bytes")
    assert size <= EIP170_LIMIT


def test_recordPrediction_acceptsTheRoundsModel_andEmitsTheLogit(chain_state, prediction, outsider):
    _, registry, _, s = chain_state
    receipt = record_prediction(registry, 1, prediction, outsider)
    print(
        f"\nrecordPrediction: {receipt.gas_used:,} gas; proof {len(prediction.proof.proof)} B, "
        f"proved in {prediction.proof.prove_seconds:.2f} s; logit {receipt.logit / 2**26:.4f}, "
        f"risk {receipt.probability:.4f}"
    )
    expected = ki.reference_logit(
        ki.KzgInferenceCircuitSpec(), s, ki.quantize_features(ki.KzgInferenceCircuitSpec(), FEATURES)
    )
    assert receipt.logit == prediction.logit == expected
    assert receipt.round_id == 1 and receipt.requester == outsider.address
    assert receipt.probability == risk_of_logit(expected)
    assert receipt.proof_hash == "0x" + keccak(prediction.proof.proof).hex()
    assert registry.isRecorded(keccak(prediction.proof.proof))
    assert receipt.gas_used < 1_000_000


def test_recordPrediction_revertsWhen_proofForAnotherModel(
    chain_state, inference, prev_aggregate, outsider, basis, tmp_path
):
    rm, registry, _, _ = chain_state
    other = prove_prediction(inference, prev_aggregate, FEATURES, outsider.address, tmp_path)
    expected = bytes(rm.modelOf(1))
    actual = point_hash(commit(prev_aggregate, basis)[0].as_uint256())
    with ape.reverts(registry.PredictionRegistryModelMismatch, roundId=1, expected=expected, actual=actual):
        _record(registry, other, outsider)


def test_recordPrediction_revertsWhen_callerIsNotTheRequester(chain_state, prediction, admin, outsider):
    _, registry, _, _ = chain_state
    with ape.reverts(
        registry.PredictionRegistryRequesterMismatch,
        index=1,
        expected=address_limbs(admin.address)[0],
        actual=address_limbs(outsider.address)[0],
    ):
        _record(registry, prediction, admin)


def test_recordPrediction_revertsWhen_proofBytesTampered(chain_state, prediction, outsider):
    _, registry, _, _ = chain_state
    tampered = bytearray(prediction.proof.proof)
    tampered[-1] ^= 1  # an evaluation of the opening proof: the model point is untouched
    with ape.reverts(registry.PredictionRegistryProofRejected, roundId=1):
        _record(registry, prediction, outsider, proof=bytes(tampered))


@pytest.mark.parametrize("delta", [1, -(2**26)])
def test_recordPrediction_revertsWhen_logitInstanceChanged(chain_state, prediction, outsider, delta):
    _, registry, _, _ = chain_state
    instances = list(prediction.proof.instances)
    instances[0] = to_field(prediction.logit + delta)
    with ape.reverts(registry.PredictionRegistryProofRejected, roundId=1):
        _record(registry, prediction, outsider, instances=instances)


def test_recordPrediction_revertsWhen_roundNotFinalized(chain_state, prediction, admin, outsider):
    rm, registry, _, _ = chain_state
    rm.openRoundWithPolicy(ape.chain.pending_timestamp + 3600, 3, 0, 0, sender=admin)
    with ape.reverts(registry.PredictionRegistryRoundNotFinalized, roundId=2, phase=int(Phase.OPEN)):
        _record(registry, prediction, outsider, round_id=2)
    with ape.reverts(registry.PredictionRegistryRoundNotFinalized, roundId=7, phase=int(Phase.NONE)):
        _record(registry, prediction, outsider, round_id=7)


@pytest.mark.parametrize("count", [5, 7, 0])
def test_recordPrediction_revertsWhen_wrongInstanceCount(chain_state, prediction, outsider, count):
    _, registry, _, _ = chain_state
    instances = [*prediction.proof.instances, 0][:count]
    with ape.reverts(registry.PredictionRegistryWrongInstanceCount, expected=6, actual=count):
        _record(registry, prediction, outsider, instances=instances)


def test_recordPrediction_revertsWhen_sameProofTwice(chain_state, prediction, outsider):
    _, registry, _, _ = chain_state
    _record(registry, prediction, outsider)
    with ape.reverts(registry.PredictionRegistryProofAlreadyRecorded, proofHash=keccak(prediction.proof.proof)):
        _record(registry, prediction, outsider)


def test_modelPoint_isWhatTheRegistryCompares(chain_state, prediction):
    rm, _, _, _ = chain_state
    assert point_hash(G1Point.from_bytes(prediction.proof.proof[:64]).as_uint256()) == bytes(rm.modelOf(1))
