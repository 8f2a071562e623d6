"""RoundManager's poisoning defence: norm-bound proofs checked in submitBoundedUpdate, and the median rule.

Every proof is a real ezkl proof (norm and median circuits), checked by the generated verifier contracts;
proofs are cached per input for the session.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import ape
import numpy as np
import pytest

from tests.conftest import CIRCUIT_CID, GENESIS_CID, SPEC
from zkfl_dapp.chain.enums import Phase, Role, Rule
from zkfl_dapp.chain.deployment import deploy_contracts
from zkfl_dapp.circuits.artifacts import CircuitProof
from zkfl_dapp.core.fixedpoint import from_field, quantize
from zkfl_dapp.core.commitments import model_commitment, poseidon_commitment
from zkfl_dapp.core.norms import bound_sq_quantized, squared_distance_quantized
from zkfl_dapp.core.median import fill_slots, median_quantized
from zkfl_dapp.circuits.median import prove_median
from zkfl_dapp.circuits.norm import prove_norm

S, D, Q = SPEC.slots, SPEC.model_size, SPEC.scale_bits
BOUND = bound_sq_quantized(1.0, Q)  # L2 bound 1.0
NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
PROOF_CID = "bafkreiabcproofcidforthetestsonlyaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

_rng = np.random.default_rng(7)
#: the previous global model every test round starts from
G = quantize(_rng.normal(0.0, 1.0, D), Q)
#: honest updates: L2 distance ~0.5 from G, within the bound
HONEST = [quantize(np.asarray(G) / 2**Q + _rng.normal(0.0, 0.5 / np.sqrt(D), D), Q) for _ in range(4)]
#: a boosted update: L2 distance ~5 from G
BOOSTED = quantize(np.asarray(G) / 2**Q + _rng.normal(0.0, 5.0 / np.sqrt(D), D), Q)


@pytest.fixture(scope="session")
def norm_proof(defence, tmp_path_factory) -> Callable[[Sequence[int], int], CircuitProof]:
    cache: dict[tuple, CircuitProof] = {}

    def _prove(update: Sequence[int], bound: int = BOUND) -> CircuitProof:
        key = (tuple(update), bound)
        if key not in cache:
            cache[key] = prove_norm(defence.norm, update, G, bound, tmp_path_factory.mktemp("norm"))
        return cache[key]

    return _prove


@pytest.fixture(scope="session")
def median_proof(defence, tmp_path_factory) -> CircuitProof:
    """The median of HONEST[0..2] with two empty slots (carrying G)."""
    slots = fill_slots([HONEST[0], HONEST[1], HONEST[2], None, None], G)
    return prove_median(defence.median, slots, G, tmp_path_factory.mktemp("median"))


def _deploy(admin, aggregator, hospitals, genesis_values: Sequence[int], *, with_median: bool = True):
    dep = deploy_contracts(
        ape.project,
        admin,
        slots=S,
        model_size=D,
        scale_bits=Q,
        empty_slot_commitment=poseidon_commitment([0] * D),
        genesis_commitment=model_commitment(genesis_values),
        genesis_cid=GENESIS_CID,
        circuit_cid=CIRCUIT_CID,
        with_median=with_median,
    )
    dep.registry.admitMember(aggregator, int(Role.AGGREGATOR), "enclave", sender=admin)
    for i, h in enumerate(hospitals[:5]):
        dep.registry.admitMember(h, int(Role.HOSPITAL), f"hospital-{i}", sender=admin)
    return dep


@pytest.fixture
def dep(circuit, defence, admin, aggregator, hospitals):
    """A fresh consortium whose current global model is G."""
    return _deploy(admin, aggregator, hospitals, G)


def _open(dep, admin, chain, rule=Rule.FEDAVG, bound=BOUND, quorum=3):
    dep.round_manager.openRoundWithPolicy(chain.pending_timestamp + 3600, quorum, int(rule), bound, sender=admin)
    return int(dep.round_manager.currentRoundId())


def _submit_bounded(dep, round_id, hospital, update, proof, *, commitment=None):
    c = poseidon_commitment(update) if commitment is None else commitment
    return dep.round_manager.submitBoundedUpdate(
        round_id, c, f"cid-{c}", 100, proof.proof, list(proof.instances), sender=hospital
    )


# --- the reference and the circuit agree ------------------------------------------------------


def test_norm_proof_flag_matches_reference(norm_proof):
    for u in (*HONEST[:3], BOOSTED):
        flag = from_field(norm_proof(u).instances[3])
        assert flag == (2**Q if squared_distance_quantized(u, G, Q) <= BOUND else 0)
    assert from_field(norm_proof(BOOSTED).instances[3]) == 0
    assert norm_proof(HONEST[0]).instances[0] == poseidon_commitment(HONEST[0])  # the submitted commitment


def test_norm_proof_at_exact_bound(defence, tmp_path):
    """dist2 == b is within the bound; b = dist2 - 1 is not: the comparison is exact."""
    d2 = squared_distance_quantized(HONEST[3], G, Q)
    assert from_field(prove_norm(defence.norm, HONEST[3], G, d2, tmp_path / "a").instances[3]) == 2**Q
    assert from_field(prove_norm(defence.norm, HONEST[3], G, d2 - 1, tmp_path / "b").instances[3]) == 0


def test_median_proof_matches_reference(median_proof):
    slots = fill_slots([HONEST[0], HONEST[1], HONEST[2], None, None], G)
    model = tuple(from_field(v) for v in median_proof.instances[S + 1 : S + 1 + D])
    assert model == median_quantized(slots)
    assert [from_field(v) for v in median_proof.instances[S + 1 + D :]] == list(G)


# --- opening rounds with a policy ---------------------------------------------------------------


def test_openRoundWithPolicy_recordsRuleAndBound(dep, admin, chain):
    tx = dep.round_manager.openRoundWithPolicy(chain.pending_timestamp + 100, 3, int(Rule.MEDIAN), BOUND, sender=admin)
    info = dep.round_manager.getRound(1)
    assert (info.rule, info.normBoundSq) == (int(Rule.MEDIAN), BOUND)
    logs = list(tx.decode_logs(dep.round_manager.RoundPolicySet))
    assert (logs[0].roundId, logs[0].rule, logs[0].normBoundSq) == (1, int(Rule.MEDIAN), BOUND)


def test_openRound_keepsFedAvgWithoutBound(dep, admin, chain):
    dep.round_manager.openRound(chain.pending_timestamp + 100, 3, sender=admin)
    info = dep.round_manager.getRound(1)
    assert (info.rule, info.normBoundSq) == (int(Rule.FEDAVG), 0)


def test_openRoundWithPolicy_revertsWhen_boundOutOfCircuitRange(dep, admin, chain):
    with ape.reverts(dep.round_manager.RoundManagerInvalidPolicy, normBoundSq=2**28):
        dep.round_manager.openRoundWithPolicy(chain.pending_timestamp + 100, 3, 0, 2**28, sender=admin)


def test_openRoundWithPolicy_revertsWhen_notAdmin(dep, hospitals, chain):
    with ape.reverts(dep.round_manager.RoundManagerNotAdmin):
        dep.round_manager.openRoundWithPolicy(chain.pending_timestamp + 100, 3, 0, BOUND, sender=hospitals[0])


def test_openRoundWithPolicy_revertsWhen_medianUnavailable(circuit, defence, admin, aggregator, hospitals, chain):
    dep = _deploy(admin, aggregator, hospitals, G, with_median=False)
    with ape.reverts(dep.round_manager.RoundManagerInvalidPolicy, rule=int(Rule.MEDIAN)):
        dep.round_manager.openRoundWithPolicy(chain.pending_timestamp + 100, 3, int(Rule.MEDIAN), 0, sender=admin)


# --- bounded submissions ----------------------------------------------------------------------


def test_submitBoundedUpdate_acceptsHonestUpdate(dep, admin, hospitals, chain, norm_proof):
    rid = _open(dep, admin, chain)
    tx = _submit_bounded(dep, rid, hospitals[0], HONEST[0], norm_proof(HONEST[0]))
    assert dep.round_manager.getRound(rid).submissionCount == 1
    assert dep.round_manager.getSubmission(rid, 0).commitment == poseidon_commitment(HONEST[0])
    assert tx.gas_used > 0


def test_submitBoundedUpdate_revertsWhen_normExceedsBound(dep, admin, hospitals, chain, norm_proof):
    rid = _open(dep, admin, chain)
    with ape.reverts(dep.round_manager.RoundManagerNormBoundExceeded, roundId=rid, normBoundSq=BOUND):
        _submit_bounded(dep, rid, hospitals[0], BOOSTED, norm_proof(BOOSTED))
    assert dep.round_manager.getRound(rid).submissionCount == 0
    # the hospital is not locked out: an update within the bound still goes in
    _submit_bounded(dep, rid, hospitals[0], HONEST[0], norm_proof(HONEST[0]))


def test_submitUpdate_revertsWhen_roundHasBound(dep, admin, hospitals, chain):
    rid = _open(dep, admin, chain)
    c = poseidon_commitment(HONEST[0])
    with ape.reverts(dep.round_manager.RoundManagerNormProofRequired, roundId=rid):
        dep.round_manager.submitUpdate(rid, c, "cid", 100, sender=hospitals[0])


def test_submitBoundedUpdate_revertsWhen_roundHasNoBound(dep, admin, hospitals, chain, norm_proof):
    rid = _open(dep, admin, chain, bound=0)
    with ape.reverts(dep.round_manager.RoundManagerNoNormBound, roundId=rid):
        _submit_bounded(dep, rid, hospitals[0], HONEST[0], norm_proof(HONEST[0]))


def test_submitBoundedUpdate_revertsWhen_proofForAnotherCommitment(dep, admin, hospitals, chain, norm_proof):
    rid = _open(dep, admin, chain)
    other = poseidon_commitment(HONEST[1])
    with ape.reverts(dep.round_manager.RoundManagerNormProofMismatch, roundId=rid, index=0, expected=other):
        _submit_bounded(dep, rid, hospitals[0], HONEST[0], norm_proof(HONEST[0]), commitment=other)


def test_submitBoundedUpdate_revertsWhen_proofForAnotherBound(dep, admin, hospitals, chain, norm_proof):
    looser = bound_sq_quantized(2.0, Q)
    rid = _open(dep, admin, chain, bound=BOUND)
    with ape.reverts(dep.round_manager.RoundManagerNormProofMismatch, index=4, expected=BOUND, actual=looser):
        _submit_bounded(dep, rid, hospitals[0], HONEST[0], norm_proof(HONEST[0], looser))


def test_submitBoundedUpdate_revertsWhen_proofAgainstAnotherModel(
    circuit, defence, admin, aggregator, hospitals, chain, norm_proof
):
    """A proof relative to G is useless in a round that starts from another model (another round)."""
    other_model = tuple(v + 1 for v in G)
    dep = _deploy(admin, aggregator, hospitals, other_model)
    rid = _open(dep, admin, chain)
    with ape.reverts(dep.round_manager.RoundManagerNormProofMismatch, index=5, expected=model_commitment(other_model)):
        _submit_bounded(dep, rid, hospitals[0], HONEST[0], norm_proof(HONEST[0]))


def test_submitBoundedUpdate_revertsWhen_proofTampered(dep, admin, hospitals, chain, norm_proof):
    rid = _open(dep, admin, chain)
    p = norm_proof(HONEST[0])
    forged = CircuitProof(p.proof[:100] + bytes([p.proof[100] ^ 1]) + p.proof[101:], p.instances, 0.0)
    with ape.reverts(dep.round_manager.RoundManagerNormProofRejected, roundId=rid):
        _submit_bounded(dep, rid, hospitals[0], HONEST[0], forged)


def test_submitBoundedUpdate_revertsWhen_flagForged(dep, admin, hospitals, chain, norm_proof):
    """Claiming "within bound" on a violating update's proof breaks the proof."""
    rid = _open(dep, admin, chain)
    p = norm_proof(BOOSTED)
    instances = list(p.instances)
    instances[3] = 2**Q
    forged = CircuitProof(p.proof, tuple(instances), 0.0)
    with ape.reverts(dep.round_manager.RoundManagerNormProofRejected, roundId=rid):
        _submit_bounded(dep, rid, hospitals[0], BOOSTED, forged)


def test_submitBoundedUpdate_revertsWhen_wrongInstanceCount(dep, admin, hospitals, chain, norm_proof):
    rid = _open(dep, admin, chain)
    p = norm_proof(HONEST[0])
    short = CircuitProof(p.proof, p.instances[:-1], 0.0)
    with ape.reverts(dep.round_manager.RoundManagerWrongInstanceCount, expected=5 + D, actual=4 + D):
        _submit_bounded(dep, rid, hospitals[0], HONEST[0], short)


def test_submitBoundedUpdate_revertsWhen_notMember(dep, admin, outsider, chain, norm_proof):
    rid = _open(dep, admin, chain)
    with ape.reverts(dep.round_manager.RoundManagerNotHospital):
        _submit_bounded(dep, rid, outsider, HONEST[0], norm_proof(HONEST[0]))


# --- the median rule ------------------------------------------------------------------------------


def _median_round(dep, admin, hospitals, chain, norm_proof, rule=Rule.MEDIAN, quorum=3):
    rid = _open(dep, admin, chain, rule=rule, quorum=quorum)
    for h, u in zip(hospitals[:3], HONEST[:3], strict=True):
        _submit_bounded(dep, rid, h, u, norm_proof(u))
    chain.mine(timestamp=chain.pending_timestamp + 3601)
    return rid


def test_finalizeRound_acceptsMedianProof(dep, admin, aggregator, hospitals, chain, norm_proof, median_proof):
    rid = _median_round(dep, admin, hospitals, chain, norm_proof)
    p = median_proof
    dep.round_manager.finalizeRound(rid, p.proof, list(p.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)
    info = dep.round_manager.getRound(rid)
    assert info.phase == Phase.FINALIZED
    slots = fill_slots([HONEST[0], HONEST[1], HONEST[2], None, None], G)
    assert info.newModelCommitment == model_commitment(median_quantized(slots))


def test_finalizeRound_revertsWhen_fedAvgProofInMedianRound(
    dep, admin, aggregator, hospitals, chain, norm_proof, prove
):
    rid = _median_round(dep, admin, hospitals, chain, norm_proof)
    p = prove(HONEST[:3], [100, 100, 100])
    with ape.reverts(dep.round_manager.RoundManagerWrongInstanceCount, expected=S + 1 + 2 * D):
        dep.round_manager.finalizeRound(rid, p.proof, list(p.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)


def test_finalizeRound_revertsWhen_medianProofInFedAvgRound(
    dep, admin, aggregator, hospitals, chain, norm_proof, median_proof
):
    rid = _median_round(dep, admin, hospitals, chain, norm_proof, rule=Rule.FEDAVG)
    p = median_proof
    with ape.reverts(dep.round_manager.RoundManagerWrongInstanceCount, expected=2 * S + 1 + D):
        dep.round_manager.finalizeRound(rid, p.proof, list(p.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)


def test_finalizeRound_revertsWhen_medianValueChanged(
    dep, admin, aggregator, hospitals, chain, norm_proof, median_proof
):
    """A wrong-rule aggregate dressed in the median layout (here: one value moved) fails the verifier."""
    rid = _median_round(dep, admin, hospitals, chain, norm_proof)
    instances = list(median_proof.instances)
    instances[S + 1] = (instances[S + 1] + 1) % (2**254)
    with ape.reverts(dep.round_manager.RoundManagerProofRejected, roundId=rid):
        dep.round_manager.finalizeRound(rid, median_proof.proof, instances, NEW_CID, PROOF_CID, 0, sender=aggregator)


def test_finalizeRound_revertsWhen_medianSlotNotCommitted(
    dep, admin, aggregator, hospitals, chain, norm_proof, median_proof
):
    """Excluding a submitted slot requires its instance to carry hash(g), not the update."""
    rid = _median_round(dep, admin, hospitals, chain, norm_proof, quorum=2)
    p = median_proof
    with ape.reverts(dep.round_manager.RoundManagerInstanceMismatch, index=2, expected=p.instances[S]):
        dep.round_manager.finalizeRound(rid, p.proof, list(p.instances), NEW_CID, PROOF_CID, 0b100, sender=aggregator)


def test_finalizeRound_revertsWhen_medianFromAnotherModel(
    circuit, defence, admin, aggregator, hospitals, chain, norm_proof, median_proof
):
    other_model = tuple(v + 1 for v in G)
    dep = _deploy(admin, aggregator, hospitals, other_model)
    rid = _open(dep, admin, chain, rule=Rule.MEDIAN, bound=0)
    for h, u in zip(hospitals[:3], HONEST[:3], strict=True):
        dep.round_manager.submitUpdate(rid, poseidon_commitment(u), "cid", 100, sender=h)
    chain.mine(timestamp=chain.pending_timestamp + 3601)
    p = median_proof
    with ape.reverts(
        dep.round_manager.RoundManagerPreviousModelMismatch, roundId=rid, expected=model_commitment(other_model)
    ):
        dep.round_manager.finalizeRound(rid, p.proof, list(p.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)


def test_median_resists_a_boosted_update_that_fedavg_follows():
    """Why the rule exists: one wild slot moves FedAvg arbitrarily far, the median not at all beyond honest."""
    slots = [*HONEST[:4], tuple(v * 50 for v in BOOSTED)]
    med = median_quantized(slots)
    lo = [min(u[j] for u in HONEST[:4]) for j in range(D)]
    hi = [max(u[j] for u in HONEST[:4]) for j in range(D)]
    assert all(a <= m <= b for a, m, b in zip(lo, med, hi, strict=True))
