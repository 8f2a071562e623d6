"""RoundManager: the round state machine, the checks on submitted KZG commitments, and FedAvg finalization,
where the contract derives the new model's commitment ``C(S) = K + sum_i w_i (C(u_i) - K)`` from the
hospitals' own commitments (real ezkl commitments of padded updates in the norm circuit's basis).
"""

from __future__ import annotations

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak
from web3.exceptions import ContractCustomError

from tests.conftest import CIRCUIT_CID, GENESIS_CID, MODEL_SIZE, SCALE_BITS, SLOTS, open_round, padded_update
from tests.conftest import points as onchain
from zkfl_dapp.chain.enums import ExclusionReason, Phase, Role, Rule
from zkfl_dapp.chain.norm_claims import NO_CLAIM
from zkfl_dapp.chain.views import as_commitment, commitment_hash, model_record, point_hash, read_round, read_submissions
from zkfl_dapp.circuits.kzg import BASE_FIELD_MODULUS, combine
from zkfl_dapp.core.aggregation import aggregate, normalized_weights
from zkfl_dapp.core.fixedpoint import FIELD_MODULUS
from zkfl_dapp.core.formats import MAX_SAMPLE_COUNT

COUNTS = (50, 60, 70, 80, 90)
NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
#: The budget for a FedAvg finalization at 5 slots: 149,836 gas measured at d = 31 with ``uint256[2][]``
#: commitments (issue 11; 148,844 when a commitment was one ``uint256[2]``).
FINALIZE_GAS_BUDGET = 150_000
UPDATES = tuple(padded_update(seed) for seed in range(1, 7))


@pytest.fixture(scope="module")
def points(commit_of):
    """C(u_i) of the six test updates, in the suite's basis."""
    return [commit_of(u) for u in UPDATES]


def submit(dep, round_id, hospital, point, count, cid=None):
    xy = onchain(point)
    return dep.round_manager.submitUpdate(
        round_id, xy, cid or f"cid-{xy[0][0] % 10**8}", count, NO_CLAIM, sender=hospital
    )


def submit_all(dep, round_id, hospitals, points, counts=COUNTS):
    for h, p, n in zip(hospitals, points, counts, strict=False):
        submit(dep, round_id, h, p, n)


def expected_point(points, weights, zero):
    """The Python twin of the contract's aggregation, over the slots that weigh something."""
    kept = [(p, w) for p, w in zip(points, weights, strict=False) if w]
    return combine([p for p, _ in kept], [w for _, w in kept], zero)


# --- opening rounds ----------------------------------------------------------------------------


def test_openRound_recordsPreviousModelAndEmits(deployment, admin, chain, commit_of, genesis):
    rm = deployment.round_manager
    round_id, deadline, tx = open_round(deployment, admin, chain)
    assert round_id == 1
    info = rm.getRound(1)
    genesis_hash = point_hash(commit_of(genesis).as_uint256())
    assert info.phase == Phase.OPEN and info.deadline == deadline and info.quorum == 3 and info.members == 5
    assert bytes(info.prevModelHash) == genesis_hash and info.prevModelRound == 0 and info.normBoundSq == 0
    (event,) = tx.events.filter(rm.RoundOpened)
    assert event.roundId == 1 and bytes(event.prevModelHash) == genesis_hash and event.quorum == 3
    (policy,) = tx.events.filter(rm.RoundPolicySet)
    assert policy.rule == Rule.FEDAVG and policy.normBoundSq == 0


def test_openRound_revertsWhen_notAdmin(deployment, outsider, chain):
    with ape.reverts(deployment.round_manager.RoundManagerNotAdmin, caller=outsider.address):
        deployment.round_manager.openRoundWithPolicy(chain.pending_timestamp + 100, 3, 0, 0, sender=outsider)


def test_openRound_revertsWhen_anotherRoundOpen(deployment, admin, chain):
    open_round(deployment, admin, chain)
    with ape.reverts(deployment.round_manager.RoundManagerRoundStillOpen, roundId=1):
        open_round(deployment, admin, chain)


@pytest.mark.parametrize("quorum", [0, SLOTS + 1])
def test_openRound_revertsWhen_quorumOutOfRange(deployment, admin, chain, quorum):
    with ape.reverts(deployment.round_manager.RoundManagerInvalidRoundParameters):
        deployment.round_manager.openRoundWithPolicy(chain.pending_timestamp + 100, quorum, 0, 0, sender=admin)


def test_openRound_revertsWhen_deadlineInPast(deployment, admin, chain):
    with ape.reverts(deployment.round_manager.RoundManagerInvalidRoundParameters):
        deployment.round_manager.openRoundWithPolicy(chain.pending_timestamp - 1, 3, 0, 0, sender=admin)


def test_openRoundWithPolicy_revertsWhen_medianWithoutVerifier(deployment, admin, chain):
    rm = deployment.round_manager
    assert rm.medianVerifier() == "0x" + "00" * 20
    with ape.reverts(rm.RoundManagerInvalidPolicy, rule=Rule.MEDIAN, normBoundSq=0):
        rm.openRoundWithPolicy(chain.pending_timestamp + 100, 3, int(Rule.MEDIAN), 0, sender=admin)


# --- submissions -------------------------------------------------------------------------------


def test_submitUpdate_recordsSlotAndEmits(deployment, admin, hospitals, chain, points):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    c = onchain(points[0])
    tx = rm.submitUpdate(1, c, "bafy-update", 50, NO_CLAIM, sender=hospitals[0])
    sub = rm.getSubmission(1, 0)
    assert (sub.hospital, [list(p) for p in sub.commitment], sub.sampleCount, sub.cid) == (
        hospitals[0].address,
        c,
        50,
        "bafy-update",
    )
    assert rm.getRound(1).submissionCount == 1
    (event,) = tx.events.filter(rm.UpdateSubmitted)
    assert event.roundId == 1 and event.hospital == hospitals[0].address and event.slot == 0
    assert [list(p) for p in event.commitment] == c and event.cid == "bafy-update" and event.sampleCount == 50
    (view,) = read_submissions(rm, 1)
    assert view.commitment == (points[0].as_uint256(),) and view.sample_count == 50
    print(f"\nsubmitUpdate: {tx.gas_used} gas")


def test_submitUpdate_revertsWhen_notMember(deployment, admin, outsider, auditor, chain, points):
    open_round(deployment, admin, chain)
    for caller in (outsider, auditor):
        with ape.reverts(deployment.round_manager.RoundManagerNotHospital, caller=caller.address):
            submit(deployment, 1, caller, points[0], 10)


def test_submitUpdate_revertsWhen_removedMember(deployment, admin, hospitals, chain, points):
    open_round(deployment, admin, chain)
    deployment.registry.removeMember(hospitals[0], sender=admin)
    with ape.reverts(deployment.round_manager.RoundManagerNotHospital, caller=hospitals[0].address):
        submit(deployment, 1, hospitals[0], points[0], 10)


def test_submitUpdate_revertsWhen_duplicate(deployment, admin, hospitals, chain, points):
    open_round(deployment, admin, chain)
    submit(deployment, 1, hospitals[0], points[0], 10)
    with ape.reverts(deployment.round_manager.RoundManagerAlreadySubmitted, roundId=1, hospital=hospitals[0].address):
        submit(deployment, 1, hospitals[0], points[1], 10)


def test_submitUpdate_revertsWhen_late(deployment, admin, hospitals, chain, points):
    _, deadline, _ = open_round(deployment, admin, chain, duration=100)
    chain.pending_timestamp = deadline + 1
    with ape.reverts(deployment.round_manager.RoundManagerDeadlinePassed, roundId=1, deadline=deadline):
        submit(deployment, 1, hospitals[0], points[0], 10)


def test_submitUpdate_revertsWhen_roundNotOpen(deployment, hospitals, points):
    with ape.reverts(
        deployment.round_manager.RoundManagerWrongPhase, roundId=1, expected=Phase.OPEN, actual=Phase.NONE
    ):
        submit(deployment, 1, hospitals[0], points[0], 10)


def test_submitUpdate_revertsWhen_roundFull(deployment, admin, hospitals, chain, points):
    deployment.registry.admitMember(hospitals[5], int(Role.HOSPITAL), "sixth", sender=admin)
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals[:5], points[:5])
    with ape.reverts(deployment.round_manager.RoundManagerRoundFull, roundId=1, slots=SLOTS):
        submit(deployment, 1, hospitals[5], points[5], 10)


@pytest.mark.parametrize("count", [0, MAX_SAMPLE_COUNT + 1, 10**9])
def test_submitUpdate_revertsWhen_sampleCountInvalid(deployment, admin, hospitals, chain, points, count):
    open_round(deployment, admin, chain)
    with ape.reverts(
        deployment.round_manager.RoundManagerInvalidSampleCount, sampleCount=count, maximum=MAX_SAMPLE_COUNT
    ):
        submit(deployment, 1, hospitals[0], points[0], count)


def test_submitUpdate_revertsWhen_cidEmpty(deployment, admin, hospitals, chain, points):
    open_round(deployment, admin, chain)
    with ape.reverts(deployment.round_manager.RoundManagerEmptyCid):
        deployment.round_manager.submitUpdate(1, onchain(points[0]), "", 10, NO_CLAIM, sender=hospitals[0])


# --- the commitment checks ---------------------------------------------------------------------

#: (1, 2) is the BN254 generator: a valid point, so each bad case below differs from an accepted one.
GENERATOR = (1, 2)
BAD_POINTS = {
    "not on the curve": (1, 3),
    "infinity (0, 0)": (0, 0),
    "x >= p (x - p is on the curve)": (1 + BASE_FIELD_MODULUS, 2),
    "y >= p (y - p is on the curve)": (1, 2 + BASE_FIELD_MODULUS),
    "x = 2^256 - 1": (2**256 - 1, 2),
}


def test_submitUpdate_acceptsAnyValidPointOtherThanK(deployment, admin, hospitals, chain):
    open_round(deployment, admin, chain)
    deployment.round_manager.submitUpdate(1, [list(GENERATOR)], "cid", 10, NO_CLAIM, sender=hospitals[0])


@pytest.mark.parametrize("name", list(BAD_POINTS))
def test_submitUpdate_revertsWhen_commitmentNotAValidPoint(deployment, admin, hospitals, chain, name):
    x, y = BAD_POINTS[name]
    open_round(deployment, admin, chain)
    with ape.reverts(deployment.round_manager.RoundManagerInvalidCommitment, x=x, y=y):
        deployment.round_manager.submitUpdate(1, [[x, y]], "cid", 10, NO_CLAIM, sender=hospitals[0])


def test_submitUpdate_revertsWhen_commitmentIsK(deployment, admin, hospitals, chain, suite):
    """K = C(0): the commitment of an all-zero update (which adds nothing and hides nothing)."""
    x, y = suite.zero.as_uint256()
    assert list(deployment.round_manager.zeroCommitment()) == [x, y]
    open_round(deployment, admin, chain)
    with ape.reverts(deployment.round_manager.RoundManagerInvalidCommitment, x=x, y=y):
        deployment.round_manager.submitUpdate(1, [[x, y]], "cid", 10, NO_CLAIM, sender=hospitals[0])


def test_submitUpdate_revertsWhen_commitmentReusedInTheSameRound(deployment, admin, hospitals, chain, points):
    open_round(deployment, admin, chain)
    submit(deployment, 1, hospitals[0], points[0], 10)
    x, y = points[0].as_uint256()
    with ape.reverts(deployment.round_manager.RoundManagerInvalidCommitment, x=x, y=y):
        submit(deployment, 1, hospitals[1], points[0], 10)  # another hospital replays it


def test_submitUpdate_revertsWhen_commitmentReusedInALaterRound(
    deployment, admin, aggregator, hospitals, chain, points
):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals[:5], points[:5])
    rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    open_round(deployment, admin, chain)
    x, y = points[0].as_uint256()
    for h in (hospitals[0], hospitals[1]):  # neither its author nor anyone else may submit it again
        with ape.reverts(rm.RoundManagerInvalidCommitment, x=x, y=y):
            submit(deployment, 2, h, points[0], 10)
    submit(deployment, 2, hospitals[0], points[5], 10)  # a fresh commitment is fine


@pytest.mark.parametrize("n", [0, 2, 3])
def test_submitUpdate_revertsWhen_commitmentHasAnotherNumberOfPoints(deployment, admin, hospitals, chain, points, n):
    """The one-point scheme takes exactly one point: none, or valid fresh points beyond the first, revert."""
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    with ape.reverts(rm.RoundManagerWrongChunkCount, expected=1, actual=n):
        rm.submitUpdate(1, onchain(*points[:n]), "cid", 10, NO_CLAIM, sender=hospitals[0])
    assert rm.getRound(1).submissionCount == 0
    submit(deployment, 1, hospitals[0], points[0], 10)  # the same first point alone is accepted


def test_submitUpdate_aRevertedSubmissionDoesNotBurnItsCommitment(deployment, admin, hospitals, chain, points):
    open_round(deployment, admin, chain)
    with ape.reverts(deployment.round_manager.RoundManagerEmptyCid):
        deployment.round_manager.submitUpdate(1, onchain(points[0]), "", 10, NO_CLAIM, sender=hospitals[0])
    submit(deployment, 1, hospitals[0], points[0], 10)


# --- FedAvg finalization -----------------------------------------------------------------------


def test_finalizeRound_storesTheCommitmentOfTheWeightedAggregate(
    deployment, admin, aggregator, hospitals, chain, points, suite, commit_of
):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals[:5], points[:5])
    weights = normalized_weights(COUNTS, SCALE_BITS)
    assert [int(w) for w in rm.expectedWeights(1, 0)] == list(weights) and sum(weights) == 2**SCALE_BITS

    tx = rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)  # every member submitted: no need to wait

    s = aggregate(UPDATES[:5], weights)
    assert len(s) == MODEL_SIZE + suite.pad_rows
    expected = commit_of(s)  # the commitment of the real aggregate of the padded updates
    assert combine(points[:5], list(weights), suite.zero) == expected
    (event,) = tx.events.filter(rm.RoundFinalized)
    assert as_commitment(event.newModelCommitment) == (expected.as_uint256(),) and event.newModelCid == NEW_CID
    assert event.includedCount == 5 and event.totalSamples == sum(COUNTS)
    assert event.proofHash == b"\x00" * 32 and event.proofCid == ""
    info = rm.getRound(1)
    assert info.phase == Phase.FINALIZED and info.finalizedBlock == tx.block_number
    assert bytes(info.newModelHash) == keccak(expected.to_bytes()) == point_hash(expected.as_uint256())
    assert bytes(info.newModelHash) == commitment_hash((expected.as_uint256(),))  # one point: the same hash
    assert bytes(rm.modelOf(1)) == bytes(info.newModelHash)
    assert tuple(rm.currentModel()) == (info.newModelHash, 1)
    assert model_record(rm, 1) == ((expected.as_uint256(),), NEW_CID)
    view = read_round(rm, 1)
    assert (view.new_model_commitment, view.new_model_cid) == ((expected.as_uint256(),), NEW_CID)
    print(f"\nfinalizeRound (FedAvg, {SLOTS} slots, d = {MODEL_SIZE}): {tx.gas_used} gas")
    assert tx.gas_used <= FINALIZE_GAS_BUDGET


def test_aggregateCommitment_viewMatchesFinalizationForEveryMask(deployment, admin, hospitals, chain, points, suite):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals[:5], points[:5])
    for mask in (0, 0b00001, 0b10100, 0b01111):
        counts = [0 if mask >> i & 1 else n for i, n in enumerate(COUNTS)]
        weights = normalized_weights(counts, SCALE_BITS)
        assert [int(w) for w in rm.expectedWeights(1, mask)] == list(weights)
        expected = (expected_point(points, weights, suite.zero).as_uint256(),)
        assert as_commitment(rm.aggregateCommitment(1, mask)) == expected


def test_finalizeRound_excludedUpdateCarriesZeroWeight(
    deployment, admin, aggregator, hospitals, chain, points, commit_of
):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals[:5], points[:5])
    mask = 0b00100
    counts = [0 if mask >> i & 1 else n for i, n in enumerate(COUNTS)]
    weights = normalized_weights(counts, SCALE_BITS)
    assert weights[2] == 0 and sum(weights) == 2**SCALE_BITS
    rm.declareExclusion(1, 2, ExclusionReason.INVALID_CONTENT, keccak(b"evidence"), NEW_CID, sender=aggregator)
    tx = rm.finalizeRound(1, NEW_CID, mask, sender=aggregator)
    (excluded,) = tx.events.filter(rm.UpdateExcluded)
    assert excluded.slot == 2 and excluded.hospital == hospitals[2].address
    (event,) = tx.events.filter(rm.RoundFinalized)
    assert as_commitment(event.newModelCommitment) == (commit_of(aggregate(UPDATES[:5], weights)).as_uint256(),)
    assert event.includedCount == 4 and event.totalSamples == sum(counts)


def test_finalizeRound_emptySlotsWeighNothing_afterTheDeadline(
    deployment, admin, aggregator, hospitals, chain, points, commit_of
):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=3)
    submit_all(deployment, 1, hospitals[:3], points[:3])
    weights = [int(w) for w in rm.expectedWeights(1, 0)]
    assert weights[3:] == [0, 0] and weights == list(normalized_weights([*COUNTS[:3], 0, 0], SCALE_BITS))
    chain.pending_timestamp = deadline + 1
    tx = rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    (event,) = tx.events.filter(rm.RoundFinalized)
    assert as_commitment(event.newModelCommitment) == (commit_of(aggregate(UPDATES[:3], weights[:3])).as_uint256(),)
    assert event.includedCount == 3


def test_finalizeRound_revertsWhen_quorumNotMet(deployment, admin, aggregator, hospitals, chain, points):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=3)
    submit_all(deployment, 1, hospitals[:2], points[:2])
    chain.pending_timestamp = deadline + 1
    with ape.reverts(rm.RoundManagerQuorumNotMet, roundId=1, included=2, quorum=3):
        rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)


def test_finalizeRound_revertsWhen_exclusionBreaksQuorum(deployment, admin, aggregator, hospitals, chain, points):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=3)
    submit_all(deployment, 1, hospitals[:3], points[:3])
    chain.pending_timestamp = deadline + 1
    with ape.reverts(rm.RoundManagerQuorumNotMet, roundId=1, included=2, quorum=3):
        rm.finalizeRound(1, NEW_CID, 0b010, sender=aggregator)
    with ape.reverts(rm.RoundManagerQuorumNotMet, roundId=1, included=0, quorum=3):
        rm.finalizeRound(1, NEW_CID, 0b111, sender=aggregator)


def test_finalizeRound_revertsWhen_exclusionNamesAnEmptySlot(deployment, admin, aggregator, hospitals, chain, points):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=3)
    submit_all(deployment, 1, hospitals[:4], points[:4])
    chain.pending_timestamp = deadline + 1
    for mask in (0b10000, 0b10001, 1 << 200):
        with ape.reverts(rm.RoundManagerInvalidExclusion, roundId=1, excludedMask=mask):
            rm.finalizeRound(1, NEW_CID, mask, sender=aggregator)
        with ape.reverts(rm.RoundManagerInvalidExclusion, roundId=1, excludedMask=mask):
            rm.expectedWeights(1, mask)


def test_finalizeRound_revertsBeforeTheDeadline_untilEveryMemberSubmitted(
    deployment, admin, aggregator, hospitals, chain, points
):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=3)
    submit_all(deployment, 1, hospitals[:4], points[:4])
    with ape.reverts(rm.RoundManagerDeadlineNotReached, roundId=1, deadline=deadline):
        rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    submit(deployment, 1, hospitals[4], points[4], 10)
    rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)


def test_finalizeRound_revertsWhen_notAggregator(deployment, admin, hospitals, chain, points):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals[:5], points[:5])
    for caller in (admin, hospitals[0]):
        with ape.reverts(rm.RoundManagerNotAggregator, caller=caller.address):
            rm.finalizeRound(1, NEW_CID, 0, sender=caller)


def test_finalizeRound_revertsWhen_twice(deployment, admin, aggregator, hospitals, chain, points):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals[:5], points[:5])
    rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    with ape.reverts(rm.RoundManagerWrongPhase, roundId=1, expected=Phase.OPEN, actual=Phase.FINALIZED):
        rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)


def test_finalizeMedianRound_revertsWhen_roundIsFedAvg(deployment, admin, aggregator, hospitals, chain, points):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals[:5], points[:5])
    with ape.reverts(rm.RoundManagerWrongRule, roundId=1, rule=Rule.FEDAVG):
        rm.finalizeMedianRound(1, b"\x00" * 64 * 6, [], NEW_CID, NEW_CID, 0, sender=aggregator)


@pytest.mark.parametrize("cid", ["", "b" * 129])
def test_finalizeRound_revertsWhen_modelCidEmptyOrTooLong(deployment, admin, aggregator, hospitals, chain, points, cid):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals[:5], points[:5])
    error = rm.RoundManagerEmptyCid if not cid else rm.RoundManagerCidTooLong
    with ape.reverts(error):
        rm.finalizeRound(1, cid, 0, sender=aggregator)


# --- aborting ----------------------------------------------------------------------------------


def test_abortRound_revertsWhen_beforeDeadline(deployment, admin, chain):
    _, deadline, _ = open_round(deployment, admin, chain)
    with ape.reverts(deployment.round_manager.RoundManagerDeadlineNotReached, roundId=1, deadline=deadline):
        deployment.round_manager.abortRound(1, sender=admin)


def test_abortRound_anyoneWhenQuorumMissed(deployment, admin, hospitals, outsider, chain, points):
    rm = deployment.round_manager
    genesis_model = tuple(rm.currentModel())
    _, deadline, _ = open_round(deployment, admin, chain, quorum=3)
    submit(deployment, 1, hospitals[0], points[0], 10)
    chain.pending_timestamp = deadline + 1
    tx = rm.abortRound(1, sender=outsider)
    (event,) = tx.events.filter(rm.RoundAborted)
    assert event.roundId == 1 and event.submissionCount == 1 and event.by == outsider.address
    assert rm.getRound(1).phase == Phase.ABORTED
    assert tuple(rm.currentModel()) == genesis_model and genesis_model[1] == 0  # the previous model stays current
    with ape.reverts(rm.RoundManagerWrongPhase, roundId=1, expected=Phase.OPEN, actual=Phase.ABORTED):
        submit(deployment, 1, hospitals[1], points[1], 10)
    round_id, _, _ = open_round(deployment, admin, chain)  # and the consortium can go on
    assert round_id == 2 and rm.getRound(2).prevModelHash == genesis_model[0] and rm.getRound(2).prevModelRound == 0


def test_abortRound_revertsWhen_quorumMetAndTheAggregatorsDeadlineNotPassed_evenForTheAdmin(
    deployment, admin, hospitals, outsider, chain, points
):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=1)
    submit(deployment, 1, hospitals[0], points[0], 10)
    last_call = deadline + rm.FINALIZE_WINDOW()
    assert rm.finalizeDeadline(1) == last_call
    for caller in (outsider, admin, hospitals[0]):
        chain.pending_timestamp = deadline + 1
        with ape.reverts(rm.RoundManagerFinalizeWindowOpen, roundId=1, finalizeDeadline=last_call):
            rm.abortRound(1, sender=caller)
    chain.pending_timestamp = last_call
    with ape.reverts(rm.RoundManagerFinalizeWindowOpen, roundId=1, finalizeDeadline=last_call, timestamp=last_call):
        rm.abortRound(1, sender=admin)
    assert rm.getRound(1).phase == Phase.OPEN


def test_abortRound_anyoneOnceTheAggregatorMissedItsDeadline(deployment, admin, hospitals, outsider, chain, points):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=1)
    submit(deployment, 1, hospitals[0], points[0], 10)
    chain.pending_timestamp = deadline + rm.FINALIZE_WINDOW() + 1
    tx = rm.abortRound(1, sender=outsider)
    (event,) = tx.events.filter(rm.RoundAborted)
    assert event.roundId == 1 and event.submissionCount == 1 and event.by == outsider.address
    assert rm.getRound(1).phase == Phase.ABORTED


def test_finalizeRound_revertsWhen_theAggregatorsDeadlinePassed(
    deployment, admin, aggregator, hospitals, chain, points
):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=1)
    submit(deployment, 1, hospitals[0], points[0], 10)
    last_call = deadline + rm.FINALIZE_WINDOW()
    chain.pending_timestamp = last_call + 1
    with ape.reverts(
        rm.RoundManagerFinalizeDeadlinePassed, roundId=1, finalizeDeadline=last_call, timestamp=last_call + 1
    ):
        rm.finalizeRound(1, "bafkreinewmodel", 0, sender=aggregator)


def test_finalizeRound_atTheAggregatorsDeadline_succeeds(deployment, admin, aggregator, hospitals, chain, points):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=1)
    submit(deployment, 1, hospitals[0], points[0], 10)
    chain.pending_timestamp = deadline + rm.FINALIZE_WINDOW()
    rm.finalizeRound(1, "bafkreinewmodel", 0, sender=aggregator)
    assert rm.getRound(1).phase == Phase.FINALIZED


def test_openRound_emitsRoundTermsSet(deployment, admin, chain, hospitals):
    rm = deployment.round_manager
    _, deadline, tx = open_round(deployment, admin, chain)
    (event,) = tx.events.filter(rm.RoundTermsSet)
    assert event.roundId == 1 and event.finalizeDeadline == deadline + rm.FINALIZE_WINDOW()
    assert event.hospitalsAtOpening == 5 and event.rollbackThreshold == 3  # a strict majority of five
    assert tuple(rm.roundOpening(1)) == (tx.block_number, 5, 3)


# --- deployment parameters, publication and audit receipts -------------------------------------


def test_constructor_setsDeploymentParametersReadableThroughTheInterface(
    deployment, project, suite, commit_of, genesis
):
    rm = project.IRoundManager.at(deployment.round_manager.address)  # every getter is declared by the interface
    assert rm.registry() == deployment.registry.address
    assert rm.medianVerifier() == "0x" + "00" * 20
    assert rm.normVerifier() == deployment.norm_verifier.address
    assert (rm.slots(), rm.modelSize(), rm.padRows(), rm.scaleBits()) == (SLOTS, MODEL_SIZE, 10, SCALE_BITS)
    assert rm.chunks() == 1
    assert tuple(rm.zeroCommitment()) == suite.zero.as_uint256()
    assert bytes(rm.kzgBasisDigest()).hex() == suite.basis.digest()
    assert as_commitment(rm.genesisModelCommitment()) == (commit_of(genesis).as_uint256(),)
    assert rm.genesisModelCid() == GENESIS_CID
    assert bytes(rm.modelOf(0)) == point_hash(commit_of(genesis).as_uint256())
    assert tuple(rm.currentModel()) == (rm.modelOf(0), 0)
    assert model_record(rm, 0) == ((commit_of(genesis).as_uint256(),), GENESIS_CID)
    assert (rm.FIELD_MODULUS(), rm.MAX_SAMPLE_COUNT(), rm.NORM_RANGE()) == (FIELD_MODULUS, MAX_SAMPLE_COUNT, 2**36)
    assert (rm.MAX_ROUND_DURATION(), rm.MAX_CID_LENGTH()) == (30 * 24 * 3600, 128)


@pytest.mark.parametrize("bad", [(1, 3), (0, 0)])
def test_constructor_revertsWhen_zeroOrGenesisCommitmentInvalid(project, admin, scheme, suite, bad):
    registry = project.ConsortiumRegistry.deploy(admin.address, sender=admin)
    k = list(suite.zero.as_uint256())
    good_scheme = list(scheme.as_tuple())
    assert good_scheme[5] == k  # (slots, d, pad rows, chunks, scale bits, K, basis digest, challenge window)
    bad_scheme = [*good_scheme[:5], list(bad), *good_scheme[6:]]
    for scheme_arg, genesis_arg in ((bad_scheme, [k]), (good_scheme, [list(bad)])):
        with ape.reverts():
            project.RoundManager.deploy(
                registry, registry, registry, scheme_arg, genesis_arg, GENESIS_CID, CIRCUIT_CID, sender=admin
            )


def _deploy_revert_data(project, admin, args) -> bytes:
    """The revert data of deploying RoundManager with constructor ``args`` (an eth_call of the creation code)."""
    types = [
        "address",
        "address",
        "address",
        "(uint256,uint256,uint256,uint256,uint256,uint256[2],bytes32,uint64)",
        "uint256[2][]",
        "string",
        "string",
    ]
    creation = bytes.fromhex(project.RoundManager.contract_type.deployment_bytecode.bytecode.removeprefix("0x"))
    data = "0x" + (creation + encode(types, args)).hex()
    with pytest.raises(ContractCustomError) as raised:
        ape.chain.provider.web3.eth.call({"from": admin.address, "data": data})
    return bytes.fromhex(raised.value.data.removeprefix("0x"))


def _wrong_chunk_count(expected: int, actual: int) -> bytes:
    return keccak(text="RoundManagerWrongChunkCount(uint256,uint256)")[:4] + encode(
        ["uint256", "uint256"], [expected, actual]
    )


@pytest.mark.parametrize("n", [0, 2])
def test_constructor_revertsWhen_genesisHasAnotherNumberOfPointsThanTheScheme(
    project, admin, scheme, genesis, commit_of, n
):
    registry = project.ConsortiumRegistry.deploy(admin.address, sender=admin)
    a = registry.address
    g = commit_of(genesis)
    scheme_arg = (*scheme.as_tuple()[:5], list(scheme.zero_commitment), *scheme.as_tuple()[6:])
    good = (a, a, a, scheme_arg, onchain(g), GENESIS_CID, CIRCUIT_CID)
    project.RoundManager.deploy(*good, sender=admin)  # the same arguments with one point deploy
    genesis_arg = onchain(*[g, commit_of(padded_update(1))][:n])
    data = _deploy_revert_data(project, admin, (a, a, a, scheme_arg, genesis_arg, GENESIS_CID, CIRCUIT_CID))
    assert data == _wrong_chunk_count(1, n)


def test_constructor_revertsWhen_schemeHasZeroChunks(project, admin, scheme, genesis, commit_of):
    registry = project.ConsortiumRegistry.deploy(admin.address, sender=admin)
    a = registry.address
    t = scheme.as_tuple()
    zero_chunks = (*t[:3], 0, t[4], list(t[5]), *t[6:])
    data = _deploy_revert_data(
        project, admin, (a, a, a, zero_chunks, onchain(commit_of(genesis)), GENESIS_CID, CIRCUIT_CID)
    )
    assert data == _wrong_chunk_count(0, 1)


def test_modelOf_revertsWhen_roundMadeNoModel(deployment, admin, chain):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    with ape.reverts(rm.RoundManagerWrongPhase, roundId=1, expected=Phase.FINALIZED, actual=Phase.OPEN):
        rm.modelOf(1)


def test_constructor_publishesCircuitManifest(deployment):
    rm = deployment.round_manager
    assert rm.circuitCid() == CIRCUIT_CID
    (event,) = rm.CircuitPublished.query("*", start_block=0).itertuples()
    assert event.event_arguments["circuitCid"] == CIRCUIT_CID


@pytest.fixture
def finalized_round(deployment, admin, aggregator, hospitals, chain, points):
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals[:5], points[:5])
    deployment.round_manager.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    return deployment


def test_recordAudit_emitsReceipt(finalized_round, auditor):
    rm = finalized_round.round_manager
    tx = rm.recordAudit(1, True, "bafy-report", sender=auditor)
    (event,) = tx.events.filter(rm.AuditRecorded)
    assert event.roundId == 1 and event.auditor == auditor.address and int(event.passed) == 1
    assert event.reportCid == "bafy-report"


def test_recordAudit_revertsWhen_notAuditor(finalized_round, admin, hospitals):
    for caller in (admin, hospitals[0]):
        with ape.reverts(finalized_round.round_manager.RoundManagerNotAuditor, caller=caller.address):
            finalized_round.round_manager.recordAudit(1, True, "bafy-report", sender=caller)


def test_recordAudit_revertsWhen_roundNotClosed(deployment, admin, auditor, chain):
    open_round(deployment, admin, chain)
    with ape.reverts(deployment.round_manager.RoundManagerRoundNotClosed, roundId=1, actual=Phase.OPEN):
        deployment.round_manager.recordAudit(1, False, "bafy-report", sender=auditor)


def test_recordAudit_revertsWhen_reportCidEmpty(finalized_round, auditor):
    with ape.reverts(finalized_round.round_manager.RoundManagerEmptyCid):
        finalized_round.round_manager.recordAudit(1, True, "", sender=auditor)


def test_publishRoundReport_adminOnlyAfterClose(finalized_round, admin, outsider):
    rm = finalized_round.round_manager
    tx = rm.publishRoundReport(1, "bafy-eval", sender=admin)
    (event,) = tx.events.filter(rm.RoundReportPublished)
    assert event.roundId == 1 and event.reportCid == "bafy-eval"
    with ape.reverts(rm.RoundManagerNotAdmin, caller=outsider.address):
        rm.publishRoundReport(1, "bafy-eval", sender=outsider)
    with ape.reverts(rm.RoundManagerRoundNotClosed, roundId=2, actual=Phase.NONE):
        rm.publishRoundReport(2, "bafy-eval", sender=admin)
