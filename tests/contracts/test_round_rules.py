"""RoundManager's round rules: sample-count weights (exactly 2^13 in all, the same integers as
core.aggregation.normalized_weights), the sample-count cap, membership changes mid-round, the deadline and
CID caps, and rolling back a round whose model file a quorum of hospitals cannot fetch."""

from __future__ import annotations

import random

import ape
import pytest
from py_ecc.optimized_bn128 import G1, multiply, normalize

from tests.conftest import GENESIS_CID, SCALE_BITS, open_round, padded_update, points
from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.norm_claims import NO_CLAIM
from zkfl_dapp.chain.views import as_commitment, model_record, point_hash, read_round
from zkfl_dapp.core.aggregation import aggregate, normalized_weights
from zkfl_dapp.core.formats import MAX_SAMPLE_COUNT

ONE = 2**SCALE_BITS
MAX_DURATION = 30 * 24 * 3600
NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
SECOND_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


def _counts_cases() -> list[list[int]]:
    rng = random.Random(7)
    cases = [
        [1, 1, 1, 1, 1],
        [MAX_SAMPLE_COUNT, 1, 1, 1, 1],
        [1, MAX_SAMPLE_COUNT, MAX_SAMPLE_COUNT, MAX_SAMPLE_COUNT, MAX_SAMPLE_COUNT],
        [MAX_SAMPLE_COUNT] * 5,
        [3, 7],
        [MAX_SAMPLE_COUNT],
        [999_999, 2, 77_777],
    ]
    for _ in range(12):
        k = rng.randint(1, 5)
        top = rng.choice([10, 1000, MAX_SAMPLE_COUNT])
        cases.append([rng.randint(1, top) for _ in range(k)])
    return cases


def _generator_multiple(k: int) -> list[list[int]]:
    """The one-point commitment of k * G: a valid curve point, distinct per k (the weights need no real
    commitments)."""
    x, y = normalize(multiply(G1, k))
    return [[int(x), int(y)]]


def submit(dep, round_id, hospital, update, count, commit_of, cid="bafkreiupdatecid"):
    return dep.round_manager.submitUpdate(round_id, points(commit_of(update)), cid, count, NO_CLAIM, sender=hospital)


def test_expectedWeights_sumToExactlyOneUnit_andMatchTheCore_forManyCountVectors(deployment, admin, hospitals, chain):
    rm = deployment.round_manager
    rng = random.Random(11)
    point = 1000
    for case, counts in enumerate(_counts_cases()):
        round_id, deadline, _ = open_round(deployment, admin, chain, quorum=1)
        for h, n in zip(hospitals, counts, strict=False):
            point += 1
            rm.submitUpdate(round_id, _generator_multiple(point), "cid", n, NO_CLAIM, sender=h)
        masks = {0, (1 << len(counts)) - 1, *(rng.randrange(1 << len(counts)) for _ in range(3))}
        for mask in sorted(masks):
            got = [int(w) for w in rm.expectedWeights(round_id, mask)]
            included = [0 if mask >> i & 1 else n for i, n in enumerate(counts)]
            assert len(got) == 5 and got[len(counts) :] == [0] * (5 - len(counts)), (case, mask)  # empty slots
            assert all(got[i] == 0 for i in range(len(counts)) if mask >> i & 1), (case, mask)  # excluded slots
            if any(included):
                assert sum(got) == ONE, (counts, mask, got)
                assert got[: len(counts)] == list(normalized_weights(included, SCALE_BITS)), (counts, mask)
                assert all(got[i] >= 1 for i, n in enumerate(included) if n), (counts, mask)
            else:
                assert got == [0] * 5
        chain.pending_timestamp = deadline + rm.FINALIZE_WINDOW() + 1  # the quorum (1) was met
        rm.abortRound(round_id, sender=admin)


@pytest.mark.parametrize("count", [MAX_SAMPLE_COUNT + 1, 10**9, 2**64 - 1])
def test_submitUpdate_revertsWhen_sampleCountAboveTheCap(deployment, admin, hospitals, chain, count):
    open_round(deployment, admin, chain)
    with ape.reverts(
        deployment.round_manager.RoundManagerInvalidSampleCount, sampleCount=count, maximum=MAX_SAMPLE_COUNT
    ):
        deployment.round_manager.submitUpdate(1, _generator_multiple(5), "cid", count, NO_CLAIM, sender=hospitals[0])


def test_submitUpdate_revertsWhen_sampleCountAboveTheMembersAgreedCap(deployment, admin, hospitals, chain):
    from zkfl_dapp.chain.enums import Role

    registry, rm = deployment.registry, deployment.round_manager
    registry.removeMember(hospitals[0], sender=admin)
    tx = registry.admitHospital(hospitals[0], "capped", 120, sender=admin)
    (event,) = tx.events.filter(registry.SampleCapSet)
    assert event.account == hospitals[0].address and event.maxSamples == 120
    assert registry.sampleCapOf(hospitals[0]) == 120 and registry.roleOf(hospitals[0]) == int(Role.HOSPITAL)
    open_round(deployment, admin, chain)
    with ape.reverts(
        rm.RoundManagerSampleCountAboveMemberCap, roundId=1, hospital=hospitals[0].address, sampleCount=121, cap=120
    ):
        rm.submitUpdate(1, _generator_multiple(5), "cid", 121, NO_CLAIM, sender=hospitals[0])
    rm.submitUpdate(1, _generator_multiple(5), "cid", 120, NO_CLAIM, sender=hospitals[0])  # exactly the cap is fine
    rm.submitUpdate(
        1, _generator_multiple(6), "cid", 10**6, NO_CLAIM, sender=hospitals[1]
    )  # no cap agreed: the global maximum


def test_aHugeDeclaredCount_buysAtMostAThirdOfTheModel(deployment, admin, aggregator, hospitals, chain, commit_of):
    """Issue 18's sample-count inflation: 10^6 samples against four hospitals of 91 weighed 8185/8192; the
    share cap leaves it ceil(8192/3) = 2731, and the chain's weights are the Python mirror's."""
    rm = deployment.round_manager
    counts = [91, 91, 91, 91, 10**6]
    open_round(deployment, admin, chain)
    for i, (h, n) in enumerate(zip(hospitals[:5], counts, strict=True)):
        rm.submitUpdate(1, _generator_multiple(300 + i), "cid", n, NO_CLAIM, sender=h)
    assert rm.MAX_SHARE_DENOMINATOR() == 3
    assert [int(w) for w in rm.expectedWeights(1, 0)] == [1366, 1365, 1365, 1365, 2731]
    assert [int(w) for w in rm.expectedWeights(1, 0b00011)] == [0, 0, 2731, 2730, 2731]  # m = 3: capped, refilled
    assert [int(w) for w in rm.expectedWeights(1, 0b00111)] == [0, 0, 0, ONE // 2, ONE // 2]  # m = 2: 1/2 each


def test_aHugeDeclaredCount_neitherZeroesTheOthersNorBlocksFinalization(
    deployment, admin, aggregator, hospitals, chain, commit_of
):
    rm = deployment.round_manager
    counts = [MAX_SAMPLE_COUNT, 1, 2, 3, 4]
    updates = [padded_update(seed) for seed in range(20, 25)]
    open_round(deployment, admin, chain)
    for h, u, n in zip(hospitals[:5], updates, counts, strict=True):
        submit(deployment, 1, h, u, n, commit_of)
    weights = [int(w) for w in rm.expectedWeights(1, 0)]
    assert min(weights) >= 1 and sum(weights) == ONE and weights == list(normalized_weights(counts, SCALE_BITS))
    tx = rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    (event,) = tx.events.filter(rm.RoundFinalized)
    assert event.includedCount == 5 and event.totalSamples == sum(counts)
    assert as_commitment(event.newModelCommitment) == (commit_of(aggregate(updates, weights)).as_uint256(),)


# --- membership, deadlines, CIDs ---------------------------------------------------------------


def test_finalizeRound_revertsBeforeTheDeadline_whenAMemberIsRemovedMidRound(
    deployment, admin, aggregator, hospitals, chain, commit_of
):
    """Four of the five members at opening submitted; removing the fifth must not close the round early."""
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    assert rm.getRound(1).members == 5
    for h, seed in zip(hospitals[:4], range(30, 34), strict=True):
        submit(deployment, 1, h, padded_update(seed), 50, commit_of)
    deployment.registry.removeMember(hospitals[4], sender=admin)
    assert deployment.registry.hospitalCount() == 4
    with ape.reverts(rm.RoundManagerDeadlineNotReached, roundId=1):
        rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    chain.pending_timestamp = rm.getRound(1).deadline + 1
    rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    assert rm.getRound(1).phase == Phase.FINALIZED


def test_openRound_countsAtMostSlotsMembers(deployment, admin, hospitals, chain):
    from zkfl_dapp.chain.enums import Role

    deployment.registry.admitMember(hospitals[5], int(Role.HOSPITAL), "sixth", sender=admin)
    open_round(deployment, admin, chain)
    assert deployment.round_manager.getRound(1).members == 5  # six members, five slots


def test_openRound_revertsWhen_deadlineBeyondTheMaximumDuration(deployment, admin, chain):
    rm = deployment.round_manager
    assert rm.MAX_ROUND_DURATION() == MAX_DURATION
    with ape.reverts(rm.RoundManagerInvalidRoundParameters):
        rm.openRoundWithPolicy(chain.pending_timestamp + MAX_DURATION + 60, 3, 0, 0, sender=admin)
    rm.openRoundWithPolicy(chain.pending_timestamp + MAX_DURATION - 60, 3, 0, 0, sender=admin)  # within the cap


def test_cidsLongerThanTheCap_revertEverywhere(deployment, admin, aggregator, auditor, hospitals, chain, commit_of):
    rm = deployment.round_manager
    at_cap, long_cid = "b" * 128, "b" + "a" * 128
    updates = [padded_update(seed) for seed in range(40, 45)]
    open_round(deployment, admin, chain)
    with ape.reverts(rm.RoundManagerCidTooLong, length=129, maximum=128):
        submit(deployment, 1, hospitals[0], updates[0], 50, commit_of, cid=long_cid)
    for h, u in zip(hospitals[:5], updates, strict=True):
        submit(deployment, 1, h, u, 50, commit_of, cid=at_cap)  # exactly the cap is fine
    with ape.reverts(rm.RoundManagerCidTooLong, length=129, maximum=128):
        rm.finalizeRound(1, long_cid, 0, sender=aggregator)
    rm.finalizeRound(1, at_cap, 0, sender=aggregator)
    with ape.reverts(rm.RoundManagerCidTooLong, length=129, maximum=128):
        rm.recordAudit(1, True, long_cid, sender=auditor)
    with ape.reverts(rm.RoundManagerCidTooLong, length=129, maximum=128):
        rm.publishRoundReport(1, long_cid, sender=admin)


# --- an unavailable model file -------------------------------------------------------------------


@pytest.fixture
def two_rounds(deployment, admin, aggregator, hospitals, chain, commit_of):
    """Rounds 1 and 2 finalized (FedAvg, real commitments): round 2 built on round 1's model."""
    rm = deployment.round_manager
    for round_id, cid, seeds in ((1, NEW_CID, range(50, 55)), (2, SECOND_CID, range(60, 65))):
        open_round(deployment, admin, chain)
        for h, seed in zip(hospitals[:5], seeds, strict=True):
            submit(deployment, round_id, h, padded_update(seed), 50, commit_of)
        rm.finalizeRound(round_id, cid, 0, sender=aggregator)
    assert rm.getRound(2).prevModelRound == 1
    return rm


def test_aQuorumOfReports_rollsTheRoundBack_andTheConsortiumGoesOn(two_rounds, deployment, admin, hospitals, chain):
    rm = two_rounds
    first_hash = bytes(rm.modelOf(1))
    second_hash = bytes(rm.modelOf(2))
    assert tuple(rm.currentModel()) == (second_hash, 2)
    for i, h in enumerate(hospitals[:2]):
        tx = rm.reportModelUnavailable(2, sender=h)
        (event,) = tx.events.filter(rm.ModelUnavailableReported)
        assert event.roundId == 2 and event.hospital == h.address and event.reports == i + 1
        assert rm.getRound(2).phase == Phase.FINALIZED  # below the round's quorum (3): nothing changes
    tx = rm.reportModelUnavailable(2, sender=hospitals[2])
    (event,) = tx.events.filter(rm.RoundRolledBack)
    assert event.roundId == 2 and bytes(event.restoredModelHash) == first_hash and event.restoredModelRound == 1
    info = rm.getRound(2)
    assert info.phase == Phase.ROLLED_BACK and info.unavailableReports == 3
    assert tuple(rm.currentModel()) == (first_hash, 1)  # the previous model's hash and round
    assert bytes(rm.modelOf(2)) == second_hash  # the rolled-back round keeps its record
    round_id, _, open_tx = open_round(deployment, admin, chain)  # the next round starts from the restored model
    (opened,) = open_tx.events.filter(rm.RoundOpened)
    assert bytes(opened.prevModelHash) == first_hash and opened.prevModelRound == 1
    assert rm.getRound(round_id).prevModelRound == 1 and bytes(rm.getRound(round_id).prevModelHash) == first_hash
    restored = model_record(rm, 1)[0]
    assert len(restored) == 1 and read_round(rm, round_id).prev_model_commitment == restored
    assert read_round(rm, round_id).prev_model_cid == NEW_CID


def test_aRollbackOfTheFirstRound_restoresTheGenesisModel(
    deployment, admin, aggregator, hospitals, chain, commit_of, genesis
):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    for h, seed in zip(hospitals[:5], range(70, 75), strict=True):
        submit(deployment, 1, h, padded_update(seed), 50, commit_of)
    rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    for h in hospitals[:3]:
        rm.reportModelUnavailable(1, sender=h)
    assert tuple(rm.currentModel()) == (point_hash(commit_of(genesis).as_uint256()), 0)
    round_id, _, _ = open_round(deployment, admin, chain)
    assert read_round(rm, round_id).prev_model_cid == GENESIS_CID


def test_reportModelUnavailable_revertsWhen_notAHospital(two_rounds, outsider, auditor, aggregator):
    for caller in (outsider, auditor, aggregator):
        with ape.reverts(two_rounds.RoundManagerNotHospital, caller=caller.address):
            two_rounds.reportModelUnavailable(2, sender=caller)


def test_reportModelUnavailable_revertsWhen_reportedTwice(two_rounds, hospitals):
    two_rounds.reportModelUnavailable(2, sender=hospitals[0])
    with ape.reverts(two_rounds.RoundManagerAlreadyReported, roundId=2, hospital=hospitals[0].address):
        two_rounds.reportModelUnavailable(2, sender=hospitals[0])
    assert two_rounds.getRound(2).unavailableReports == 1


def test_reportModelUnavailable_revertsWhen_aLaterRoundFinalized(two_rounds, hospitals):
    with ape.reverts(two_rounds.RoundManagerModelNotCurrent, roundId=1, currentModelRound=2):
        two_rounds.reportModelUnavailable(1, sender=hospitals[0])


def test_reportModelUnavailable_revertsWhen_theRoundMadeNoModel(two_rounds, deployment, admin, hospitals, chain):
    open_round(deployment, admin, chain)
    with ape.reverts(two_rounds.RoundManagerWrongPhase, roundId=3, expected=Phase.FINALIZED, actual=Phase.OPEN):
        two_rounds.reportModelUnavailable(3, sender=hospitals[0])


def test_reportModelUnavailable_revertsWhen_theReporterWasAdmittedAfterTheRoundOpened(
    two_rounds, deployment, admin, hospitals
):
    from zkfl_dapp.chain.enums import Role

    tx = deployment.registry.admitMember(hospitals[5], int(Role.HOSPITAL), "late", sender=admin)
    opened, _, _ = two_rounds.roundOpening(2)
    with ape.reverts(
        two_rounds.RoundManagerReporterNotEntitled,
        roundId=2,
        hospital=hospitals[5].address,
        memberSince=tx.block_number,
        openedBlock=opened,
    ):
        two_rounds.reportModelUnavailable(2, sender=hospitals[5])


def test_reportModelUnavailable_aMinorityCannotRollBack_evenAtALowQuorum(
    deployment, admin, aggregator, hospitals, chain, commit_of
):
    """Issue 18's griefing: two hospitals that did not take part, at quorum 2, rolled a valid model back. The
    threshold is now a strict majority of the members at opening (3 of 5), whatever the quorum."""
    rm = deployment.round_manager
    open_round(deployment, admin, chain, quorum=2)
    for h, seed in zip(hospitals[:2], range(80, 82), strict=True):
        submit(deployment, 1, h, padded_update(seed), 50, commit_of)
    chain.pending_timestamp = rm.getRound(1).deadline + 1
    rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    assert rm.roundOpening(1)[2] == 3
    for h in hospitals[2:4]:  # non-contributors, a minority
        rm.reportModelUnavailable(1, sender=h)
    assert rm.getRound(1).phase == Phase.FINALIZED and rm.currentModel()[1] == 1
    tx = rm.reportModelUnavailable(1, sender=hospitals[4])  # the third: a majority of the five
    assert len(list(tx.events.filter(rm.RoundRolledBack))) == 1
    assert rm.getRound(1).phase == Phase.ROLLED_BACK


def test_aMissingModelCannotBecomePermanent_reportsGoOnWhileTheNextRoundIsOpen_andEndIt(
    two_rounds, deployment, admin, aggregator, hospitals, chain, commit_of
):
    """Issue 18: the aggregator names a missing file for round 2 and the admin opens round 3 at once. Round 2
    is still the current model, so it can be reported; the rollback aborts round 3 (trained on it) in the same
    call, and round 4 trains from round 1's model."""
    rm = two_rounds
    round_id, deadline, _ = open_round(deployment, admin, chain, quorum=1)
    assert round_id == 3
    submit(deployment, 3, hospitals[0], padded_update(90), 50, commit_of)
    rm.reportModelUnavailable(2, sender=hospitals[0])
    rm.reportModelUnavailable(2, sender=hospitals[1])
    tx = rm.reportModelUnavailable(2, sender=hospitals[2])
    (aborted,) = tx.events.filter(rm.RoundAborted)
    assert aborted.roundId == 3 and aborted.submissionCount == 1 and aborted.by == hospitals[2].address
    assert rm.getRound(2).phase == Phase.ROLLED_BACK and rm.currentModel()[1] == 1
    assert rm.getRound(3).phase == Phase.ABORTED
    chain.pending_timestamp = deadline + 1
    with ape.reverts(rm.RoundManagerWrongPhase, roundId=3, expected=Phase.OPEN, actual=Phase.ABORTED):
        rm.finalizeRound(3, NEW_CID, 0, sender=aggregator)
    round_id, _, _ = open_round(deployment, admin, chain)
    assert rm.getRound(round_id).prevModelRound == 1


def test_reportModelUnavailable_afterAnAbortedLaterRound_stillRollsBack(
    two_rounds, deployment, admin, hospitals, chain
):
    rm = two_rounds
    _, deadline, _ = open_round(deployment, admin, chain)
    chain.pending_timestamp = deadline + 1
    rm.abortRound(3, sender=admin)  # missed its quorum
    for h in hospitals[:3]:
        rm.reportModelUnavailable(2, sender=h)
    assert rm.getRound(2).phase == Phase.ROLLED_BACK and rm.currentModel()[1] == 1


def test_aRolledBackRound_isClosedForAuditsAndReports(two_rounds, hospitals, auditor, admin):
    for h in hospitals[:3]:
        two_rounds.reportModelUnavailable(2, sender=h)
    two_rounds.recordAudit(2, False, "bafkreiauditreport", sender=auditor)
    two_rounds.publishRoundReport(2, "bafkreiroundreport", sender=admin)
    with ape.reverts(two_rounds.RoundManagerWrongPhase):
        two_rounds.reportModelUnavailable(2, sender=hospitals[3])
