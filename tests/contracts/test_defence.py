"""Defences of RoundManager: norm-bounded rounds (every update carries a real commit-and-prove norm proof,
bound on-chain to its commitment, the round's previous model, its budget and its sender) and the median
rule (real median proofs over the same commitments, bound on-chain to the slots and the previous model).

This deployment verifies norm proofs at submission (no challenge window: ``submitUpdate`` runs the verifier);
tests/contracts/test_challenges.py covers the optimistic path. Each attack below is a proof that is valid for
*something*, submitted where it does not belong; each test fails if the check that stops it is removed from
RoundManager.
"""

from __future__ import annotations

from dataclasses import replace

import ape
import pytest
from eth_utils import keccak

from tests.conftest import MODEL_SIZE, SCALE_BITS, open_round, padded_update, points
from zkfl_dapp.chain.enums import Rule
from zkfl_dapp.chain.norm_claims import NO_CLAIM
from zkfl_dapp.chain.views import as_commitment, point_hash
from zkfl_dapp.circuits import kzg_chunk_norm as kc
from zkfl_dapp.circuits import kzg_distance as kd
from zkfl_dapp.circuits.artifacts import build_artifacts
from zkfl_dapp.circuits.kzg import combine, commit
from zkfl_dapp.circuits.suite import norm_spec_for
from zkfl_dapp.core.aggregation import aggregate
from zkfl_dapp.core.fixedpoint import FIELD_MODULUS
from zkfl_dapp.exceptions import CircuitError

#: The round's bound on ||2^13 u - S_prev||^2 / 2^26 (updates below stay within +-50 of the model: < 77,500).
BOUND = 100_000
NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
FLAG_OK = 2 ** (2 * SCALE_BITS)
SPEC = norm_spec_for(MODEL_SIZE)
#: IRoundManager.ProofFault
UPDATE_POINT, AGGREGATE_POINT, REJECTED = 1, 2, 3


def honest(seed: int, prev) -> tuple[int, ...]:
    u = padded_update(seed, prev, step=50)
    assert kc.chunk_sum_of_squares(SPEC, u, prev) <= BOUND
    return u


def violating(seed: int, prev) -> tuple[int, ...]:
    u = padded_update(seed, prev, step=400)
    assert kc.chunk_sum_of_squares(SPEC, u, prev) > BOUND
    return u


def submit_bounded(dep, round_id, hospital, point, proof, *, budget=None, proof_bytes=None, count=50, commitment=None):
    """``submitUpdate`` of ``point`` (or of the raw ``uint256[2][]`` ``commitment`` where given) with the norm
    claim of ``proof``: its budget (or ``budget``) and its bytes (or ``proof_bytes``)."""
    claim = (
        [proof.budget if budget is None else budget],
        [proof.proof if proof_bytes is None else proof_bytes],
        [],
        "",
    )
    return dep.round_manager.submitUpdate(
        round_id,
        points(point) if commitment is None else commitment,
        "bafkreiupdatecid",
        count,
        claim,
        sender=hospital,
    )


def rejected(rm, round_id, hospital, fault):
    return ape.reverts(
        rm.RoundManagerChunkProofRejected, roundId=round_id, hospital=hospital.address, chunk=0, fault=fault
    )


@pytest.fixture
def bounded(deployment, admin, chain):
    """Round 1 open with the norm bound (FedAvg rule)."""
    open_round(deployment, admin, chain, bound=BOUND)
    return deployment


# --- opening a bounded round ---------------------------------------------------------------------


def test_openRoundWithPolicy_recordsRuleAndBound(deployment, admin, chain):
    rm = deployment.round_manager
    _, _, tx = open_round(deployment, admin, chain, bound=BOUND)
    (event,) = tx.events.filter(rm.RoundPolicySet)
    assert event.roundId == 1 and event.rule == Rule.FEDAVG and event.normBoundSq == BOUND
    info = rm.getRound(1)
    assert info.rule == Rule.FEDAVG and info.normBoundSq == BOUND


@pytest.mark.parametrize("bound", [kc.INPUT_RANGE, kc.INPUT_RANGE + 1, 2**255])
def test_openRoundWithPolicy_revertsWhen_boundOutOfCircuitRange(deployment, admin, chain, bound):
    rm = deployment.round_manager
    assert rm.NORM_RANGE() == kc.INPUT_RANGE
    with ape.reverts(rm.RoundManagerInvalidPolicy, rule=Rule.FEDAVG, normBoundSq=bound):
        rm.openRoundWithPolicy(chain.pending_timestamp + 100, 3, int(Rule.FEDAVG), bound, sender=admin)
    rm.openRoundWithPolicy(chain.pending_timestamp + 100, 3, int(Rule.FEDAVG), kc.INPUT_RANGE - 1, sender=admin)


def test_openRoundWithPolicy_revertsWhen_notAdmin(deployment, hospitals, chain):
    with ape.reverts(deployment.round_manager.RoundManagerNotAdmin, caller=hospitals[0].address):
        deployment.round_manager.openRoundWithPolicy(chain.pending_timestamp + 100, 3, 0, BOUND, sender=hospitals[0])


# --- honest bounded submissions ------------------------------------------------------------------


def test_submitUpdate_bounded_acceptsHonestUpdates_andTheRoundFinalizes(
    bounded, aggregator, hospitals, genesis, commit_of, norm_proof, suite
):
    rm = bounded.round_manager
    assert rm.challengeWindow() == 0
    updates = [honest(seed, genesis) for seed in range(100, 105)]
    gas = []
    for h, u in zip(hospitals[:5], updates, strict=True):
        proof = norm_proof(u, genesis, BOUND, h.address)
        assert proof.instances == kc.expected_chunk_instances(suite.norm.spec, BOUND, 0, 1, h.address)
        tx = submit_bounded(bounded, 1, h, commit_of(u), proof)
        gas.append(tx.gas_used)
        (event,) = tx.events.filter(rm.UpdateSubmitted)
        assert event.hospital == h.address and as_commitment(event.commitment) == (commit_of(u).as_uint256(),)
        assert not list(tx.events.filter(rm.NormClaimed))  # verified here: the calldata holds the claim
    print(f"\nsubmitUpdate (d = {MODEL_SIZE}, one chunk, norm proof verified): {max(gas)} gas (max of {gas})")
    weights = [int(w) for w in rm.expectedWeights(1, 0)]
    tx = rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    (event,) = tx.events.filter(rm.RoundFinalized)
    assert as_commitment(event.newModelCommitment) == (commit_of(aggregate(updates, weights)).as_uint256(),)


def test_submitUpdate_bounded_proofsFirstPoint_isWhatTheContractDerives(
    genesis, hospitals, norm_proof, commit_of, suite
):
    u = honest(100, genesis)
    proof = norm_proof(u, genesis, BOUND, hospitals[0].address)
    assert proof.proof[:64] == combine([commit_of(u)], [2**SCALE_BITS], suite.zero).to_bytes()
    assert keccak(proof.proof[64:128]) == point_hash(commit_of(genesis).as_uint256())


# --- the claim's shape ---------------------------------------------------------------------------


def test_submitUpdate_revertsWhen_boundedRoundWithoutClaim(bounded, hospitals, genesis, commit_of):
    rm = bounded.round_manager
    with ape.reverts(rm.RoundManagerInvalidNormClaim, roundId=1):
        rm.submitUpdate(1, points(commit_of(honest(100, genesis))), "cid", 50, NO_CLAIM, sender=hospitals[0])


def test_submitUpdate_revertsWhen_claimInRoundWithoutBound(
    deployment, admin, hospitals, chain, genesis, commit_of, norm_proof
):
    open_round(deployment, admin, chain)
    u = honest(100, genesis)
    with ape.reverts(deployment.round_manager.RoundManagerInvalidNormClaim, roundId=1):
        submit_bounded(deployment, 1, hospitals[0], commit_of(u), norm_proof(u, genesis, BOUND, hospitals[0].address))


def test_submitUpdate_revertsWhen_optimisticClaimWithoutChallengeWindow(
    bounded, hospitals, genesis, commit_of, norm_proof
):
    """Without a challenge window every proof must be in the submission: hashes and a bundle CID are refused."""
    rm = bounded.round_manager
    h = hospitals[0]
    u = honest(100, genesis)
    proof = norm_proof(u, genesis, BOUND, h.address)
    for claim in ([[BOUND], [], [keccak(proof.proof)], "bafy-bundle"], [[BOUND], [proof.proof], [], "bafy-bundle"]):
        with ape.reverts(rm.RoundManagerInvalidNormClaim, roundId=1):
            rm.submitUpdate(1, points(commit_of(u)), "cid", 50, claim, sender=h)


@pytest.mark.parametrize("n", [0, 2])
def test_submitUpdate_revertsWhen_commitmentHasAnotherNumberOfPoints(
    bounded, hospitals, genesis, commit_of, norm_proof, n
):
    """The one-point scheme's bounded submission takes exactly one point, even with a valid proof of the first."""
    rm = bounded.round_manager
    h = hospitals[0]
    u = honest(100, genesis)
    proof = norm_proof(u, genesis, BOUND, h.address)
    commitment = points(*[commit_of(u), commit_of(honest(101, genesis))][:n])
    with ape.reverts(rm.RoundManagerWrongChunkCount, expected=1, actual=n):
        submit_bounded(bounded, 1, h, commit_of(u), proof, commitment=commitment)
    submit_bounded(bounded, 1, h, commit_of(u), proof)  # the first point alone, with the same proof, is accepted


# --- budgets --------------------------------------------------------------------------------------


def test_submitUpdate_revertsWhen_budgetsExceedTheBound(bounded, hospitals, genesis, commit_of, raw_norm_proof):
    rm = bounded.round_manager
    h = hospitals[0]
    u = honest(100, genesis)
    rows = [kd.scaled_update(SPEC, u), list(genesis), [BOUND + 1, 0, 1, *kd.address_limbs(h.address)]]
    proof = raw_norm_proof(rows)  # a valid proof within budget BOUND + 1
    with ape.reverts(rm.RoundManagerNormBoundExceeded, roundId=1, hospital=h.address, normBoundSq=BOUND):
        submit_bounded(bounded, 1, h, commit_of(u), proof)


def test_submitUpdate_revertsWhen_budgetOutOfCircuitRange(bounded, hospitals, genesis, commit_of, norm_proof):
    """A field-negative budget (r - k) would wrap the sum: each budget must be below NORM_RANGE."""
    rm = bounded.round_manager
    h = hospitals[0]
    u = honest(100, genesis)
    with ape.reverts(rm.RoundManagerInvalidNormClaim, roundId=1):
        submit_bounded(bounded, 1, h, commit_of(u), norm_proof(u, genesis, BOUND, h.address), budget=FIELD_MODULUS - 1)


def test_submitUpdate_acceptsABudgetBelowTheBound(deployment, admin, hospitals, chain, genesis, commit_of, norm_proof):
    """A proof within a tighter budget proves the looser bound too."""
    open_round(deployment, admin, chain, bound=2 * BOUND)
    u = honest(100, genesis)
    submit_bounded(deployment, 1, hospitals[0], commit_of(u), norm_proof(u, genesis, BOUND, hospitals[0].address))


def test_submitUpdate_revertsWhen_proofIsForAnotherBudget(bounded, hospitals, genesis, commit_of, norm_proof):
    """The budget is an instance the contract builds from the claim: a proof for budget BOUND / 2 does not verify
    as one for BOUND (and the other way round)."""
    rm = bounded.round_manager
    h = hospitals[0]
    u = honest(100, genesis)
    proof = norm_proof(u, genesis, BOUND, h.address)
    with rejected(rm, 1, h, REJECTED):
        submit_bounded(bounded, 1, h, commit_of(u), proof, budget=BOUND - 1)


# --- proofs that belong elsewhere ----------------------------------------------------------------


def test_submitUpdate_revertsWhen_proofIsForAnotherCommitment(bounded, hospitals, genesis, commit_of, norm_proof):
    rm = bounded.round_manager
    h = hospitals[0]
    proven, submitted = honest(100, genesis), honest(101, genesis)
    proof = norm_proof(proven, genesis, BOUND, h.address)
    with rejected(rm, 1, h, UPDATE_POINT):
        submit_bounded(bounded, 1, h, commit_of(submitted), proof)


def test_submitUpdate_revertsWhen_proofIsAgainstAnotherPreviousModel(
    bounded, aggregator, hospitals, genesis, commit_of, norm_proof, admin, chain
):
    """A proof against round 1's previous model (genesis) replayed in round 2, whose previous model is S1."""
    rm = bounded.round_manager
    updates = [honest(seed, genesis) for seed in range(100, 105)]
    for h, u in zip(hospitals[:5], updates, strict=True):
        submit_bounded(bounded, 1, h, commit_of(u), norm_proof(u, genesis, BOUND, h.address))
    weights = [int(w) for w in rm.expectedWeights(1, 0)]
    rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    s1 = aggregate(updates, weights)
    open_round(bounded, admin, chain, bound=BOUND)
    h = hospitals[0]
    stale_u = honest(110, genesis)
    stale = norm_proof(stale_u, genesis, BOUND, h.address)
    with rejected(rm, 2, h, AGGREGATE_POINT):
        submit_bounded(bounded, 2, h, commit_of(stale_u), stale)
    fresh_u = honest(111, s1)  # the same hospital, proving against the right model, is accepted
    submit_bounded(bounded, 2, h, commit_of(fresh_u), norm_proof(fresh_u, s1, BOUND, h.address))


def test_submitUpdate_revertsWhen_proofIsCopiedByAnotherHospital(bounded, hospitals, genesis, commit_of, norm_proof):
    """Hospital 1 copies hospital 0's commitment and proof (both public once in the mempool): the contract builds
    the address instances from the sender, so the proof does not verify; hospital 0 can still submit afterwards."""
    rm = bounded.round_manager
    victim, thief = hospitals[0], hospitals[1]
    u = honest(100, genesis)
    proof = norm_proof(u, genesis, BOUND, victim.address)
    with rejected(rm, 1, thief, REJECTED):
        submit_bounded(bounded, 1, thief, commit_of(u), proof)
    submit_bounded(bounded, 1, victim, commit_of(u), proof)
    assert rm.getSubmission(1, 0).hospital == victim.address


@pytest.mark.parametrize(("index", "count"), [(1, 2), (0, 2)])
def test_submitUpdate_revertsWhen_proofIsForAnotherChunk(
    bounded, hospitals, genesis, commit_of, raw_norm_proof, index, count
):
    """A valid proof of the same points, budget and sender, but for chunk ``index`` of ``count``: the contract's
    instances say chunk 0 of 1."""
    rm = bounded.round_manager
    h = hospitals[0]
    u = honest(100, genesis)
    rows = [kd.scaled_update(SPEC, u), list(genesis), [BOUND, index, count, *kd.address_limbs(h.address)]]
    proof = raw_norm_proof(rows)
    assert proof.instances[:4] == (FLAG_OK, BOUND, index, count)
    with rejected(rm, 1, h, REJECTED):
        submit_bounded(bounded, 1, h, commit_of(u), proof)


@pytest.mark.parametrize("offset", [64 * 3 + 5, 1000, -40])
def test_submitUpdate_revertsWhen_proofBytesTampered(bounded, hospitals, genesis, commit_of, norm_proof, offset):
    h = hospitals[0]
    u = honest(100, genesis)
    proof = norm_proof(u, genesis, BOUND, h.address)
    data = bytearray(proof.proof)
    data[offset] ^= 0x01
    with rejected(bounded.round_manager, 1, h, REJECTED):
        submit_bounded(bounded, 1, h, commit_of(u), proof, proof_bytes=bytes(data))


def test_submitUpdate_revertsWhen_proofShowsAViolation(bounded, hospitals, genesis, commit_of, raw_norm_proof):
    """A violating update has a *valid* proof, of flag 0: the contract requires the flag (its instance 0 is
    2^26, built here), so the proof does not verify."""
    h = hospitals[0]
    u = violating(120, genesis)
    rows = [kd.scaled_update(SPEC, u), list(genesis), [BOUND, 0, 1, *kd.address_limbs(h.address)]]
    proof = raw_norm_proof(rows)
    assert proof.instances[0] == 0
    with rejected(bounded.round_manager, 1, h, REJECTED):
        submit_bounded(bounded, 1, h, commit_of(u), proof)


def test_submitUpdate_revertsWhen_proofTooShortForItsPoints(bounded, hospitals, genesis, commit_of, norm_proof):
    h = hospitals[0]
    u = honest(100, genesis)
    proof = norm_proof(u, genesis, BOUND, h.address)
    with rejected(bounded.round_manager, 1, h, UPDATE_POINT):
        submit_bounded(bounded, 1, h, commit_of(u), proof, proof_bytes=b"")


def test_submitUpdate_revertsWhen_notMember(bounded, outsider, genesis, commit_of, norm_proof):
    u = honest(100, genesis)
    with ape.reverts(bounded.round_manager.RoundManagerNotHospital, caller=outsider.address):
        submit_bounded(bounded, 1, outsider, commit_of(u), norm_proof(u, genesis, BOUND, outsider.address))


# --- the sqrt(-1) wrap-around ---------------------------------------------------------------------


def _sqrt_minus_one() -> int:
    r = FIELD_MODULUS
    g = next(g for g in range(2, 100) if pow(g, (r - 1) // 2, r) == r - 1)  # a non-residue
    i = pow(g, (r - 1) // 4, r)
    assert i * i % r == r - 1
    return i


@pytest.fixture(scope="module")
def unchecked_norm(suite, tmp_path_factory):
    """The norm circuit with its input/output range checks switched off, in the consortium's SRS: the
    circuit an attacker would need for the wrap-around witness (its verifying key is not the deployed one)."""
    spec = replace(suite.norm.spec, min_logrows=suite.norm.logrows)
    checked = kd.run_args

    def run_args(s, logrows):
        args = checked(s, logrows)
        args.ignore_range_check_inputs_outputs = True
        return args

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(kd, "run_args", run_args)
        return build_artifacts(
            spec,
            tmp_path_factory.mktemp("unchecked"),
            export=lambda path: kc.export_kzg_chunk_norm_onnx(spec, path),
            settle=lambda art_dir: kd.settle(spec, art_dir),
            make=lambda art_dir, logrows, kind: kc.KzgPlainNormArtifacts(spec, art_dir, logrows, kind),
            revision=kc.KZG_CHUNK_NORM_REVISION,
            shared_srs=suite.norm.srs,
        )


def test_sqrtMinusOneWrapAround_neverYieldsAnAcceptedSubmission(
    deployment, admin, hospitals, chain, genesis, suite, unchecked_norm, tmp_path
):
    """x = S + (1, sqrt(-1), 0, ...) has diff . diff = 1 + (-1) = 0 in the field for a huge diff. The
    deployed circuit refuses to prove it (its range checks); a proof from the same circuit without range
    checks, bound to the right points, budget and sender, is rejected by the deployed verifier."""
    rm = deployment.round_manager
    h = hospitals[0]
    open_round(deployment, admin, chain, bound=1)  # the tightest bound there is
    x = [v % FIELD_MODULUS for v in genesis]
    x[0] = (x[0] + 1) % FIELD_MODULUS
    x[1] = (x[1] + _sqrt_minus_one()) % FIELD_MODULUS
    assert sum((a - s) ** 2 for a, s in zip(x[:MODEL_SIZE], genesis, strict=False)) % FIELD_MODULUS == 0
    rows = [x, list(genesis), [1, 0, 1, *kd.address_limbs(h.address)]]
    with pytest.raises(CircuitError, match="decomposition|synthesis|witness"):
        kc.prove_inputs(suite.norm, rows, tmp_path / "checked")

    attack = kc.prove_inputs(unchecked_norm, rows, tmp_path / "unchecked")
    assert attack.instances == (FLAG_OK, 1, 0, 1, *kd.address_limbs(h.address))  # "within budget 1"
    inv = pow(2**SCALE_BITS, -1, FIELD_MODULUS)
    u = [v * inv % FIELD_MODULUS for v in x]  # the update whose scaled commitment is C(x)
    (point,) = commit(u, suite.basis)
    assert attack.proof[:64] == combine([point], [2**SCALE_BITS], suite.zero).to_bytes()  # binds like a real one
    assert attack.proof[64:128] == commit(list(genesis), suite.basis)[0].to_bytes()
    with rejected(rm, 1, h, REJECTED):
        submit_bounded(deployment, 1, h, point, attack)
    assert rm.getRound(1).submissionCount == 0
