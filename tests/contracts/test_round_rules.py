"""RoundManager rules that keep one party from blocking, skewing or stalling the consortium.

Weights that sum to exactly 2^13 with no included update zeroed, a cap on declared sample counts, "every
member submitted" counted at round opening, bounded deadlines and CID lengths, and the roll-back of a
round whose model file a quorum of hospitals cannot fetch. Real proofs where a round finalizes.
"""

from __future__ import annotations

import ape
import pytest

from tests.conftest import GENESIS_CID, SPEC, make_updates
from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.core.aggregation import normalized_weights
from zkfl_dapp.core.commitments import poseidon_commitment

NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
PROOF_CID = "bafkreiabcproofcidforthetestsonlyaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
ONE = 2**SPEC.scale_bits
MAX_SAMPLES = 1_000_000
MAX_DURATION = 30 * 24 * 3600


@pytest.fixture(scope="module")
def updates():
    return make_updates(seed=11, count=5)


def open_round(dep, admin, chain, *, quorum=3, duration=3600):
    dep.round_manager.openRound(chain.pending_timestamp + duration, quorum, sender=admin)
    return int(dep.round_manager.currentRoundId())


def submit(dep, round_id, hospital, update, count):
    c = poseidon_commitment(update)
    return dep.round_manager.submitUpdate(round_id, c, f"cid-{c}"[:60], count, sender=hospital)


# --- weights -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "counts", [[50, 60, 70, 80, 90], [1, 1, 1, 1, 1], [MAX_SAMPLES, 1, 1, 1, 1], [7, 1000, 3, 999_999, 12]]
)
def test_expectedWeights_sumToExactlyOneUnit_andMatchTheCore(deployment, admin, hospitals, chain, updates, counts):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    for h, u, n in zip(hospitals[:5], updates, counts, strict=True):
        submit(deployment, 1, h, u, n)
    for mask in (0, 0b00010, 0b10101):
        weights = list(rm.expectedWeights(1, mask))
        assert sum(weights) == ONE
        assert all(w >= 1 for i, w in enumerate(weights) if not (mask >> i) & 1)
        assert all(w == 0 for i, w in enumerate(weights) if (mask >> i) & 1)
        masked = [0 if (mask >> i) & 1 else n for i, n in enumerate(counts)]
        assert weights == list(normalized_weights(masked, SPEC.scale_bits))


def test_submitUpdate_revertsWhen_sampleCountAboveTheCap(deployment, admin, hospitals, chain, updates):
    open_round(deployment, admin, chain)
    with ape.reverts(
        deployment.round_manager.RoundManagerInvalidSampleCount, sampleCount=10**9, maximum=MAX_SAMPLES
    ):
        submit(deployment, 1, hospitals[0], updates[0], 10**9)


def test_aHugeDeclaredCount_neitherZeroesTheOthersNorBlocksFinalization(
    deployment, admin, aggregator, hospitals, chain, updates, prove
):
    rm = deployment.round_manager
    counts = [MAX_SAMPLES, 90, 91, 92, 93]
    open_round(deployment, admin, chain)
    for h, u, n in zip(hospitals[:5], updates, counts, strict=True):
        submit(deployment, 1, h, u, n)
    weights = list(rm.expectedWeights(1, 0))
    assert min(weights) >= 1 and sum(weights) == ONE
    proof = prove(updates, counts)
    tx = rm.finalizeRound(1, proof.proof, list(proof.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)
    (event,) = tx.events.filter(rm.RoundFinalized)
    assert event.includedCount == 5  # counted as the enclave counts: submitted and not excluded


# --- membership, deadlines, CIDs ---------------------------------------------------------------


def test_finalizeRound_revertsBeforeTheDeadline_whenAMemberIsRemovedMidRound(
    deployment, admin, aggregator, hospitals, chain, updates, prove
):
    """Four of the five members at opening submitted; removing the fifth must not close the round early."""
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    assert rm.getRound(1).members == 5
    for h, u in zip(hospitals[:4], updates[:4], strict=True):
        submit(deployment, 1, h, u, 50)
    deployment.registry.removeMember(hospitals[4], sender=admin)
    proof = prove(updates[:4], [50] * 4)
    with ape.reverts(rm.RoundManagerDeadlineNotReached):
        rm.finalizeRound(1, proof.proof, list(proof.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)
    chain.pending_timestamp = rm.getRound(1).deadline + 1
    rm.finalizeRound(1, proof.proof, list(proof.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)
    assert rm.getRound(1).phase == Phase.FINALIZED


def test_openRound_revertsWhen_deadlineBeyondTheMaximumDuration(deployment, admin, chain):
    rm = deployment.round_manager
    with ape.reverts(rm.RoundManagerInvalidRoundParameters):
        rm.openRound(chain.pending_timestamp + MAX_DURATION + 60, 3, sender=admin)
    rm.openRound(chain.pending_timestamp + MAX_DURATION - 60, 3, sender=admin)  # within the cap


def test_cidsLongerThanTheCap_revertEverywhere(deployment, admin, aggregator, hospitals, chain, updates, prove):
    rm = deployment.round_manager
    long_cid = "b" + "a" * 128
    open_round(deployment, admin, chain)
    with ape.reverts(rm.RoundManagerCidTooLong, length=129, maximum=128):
        rm.submitUpdate(1, poseidon_commitment(updates[0]), long_cid, 50, sender=hospitals[0])
    for h, u in zip(hospitals[:5], updates, strict=True):
        submit(deployment, 1, h, u, 50)
    proof = prove(updates, [50] * 5)
    with ape.reverts(rm.RoundManagerCidTooLong, length=129, maximum=128):
        rm.finalizeRound(1, proof.proof, list(proof.instances), long_cid, PROOF_CID, 0, sender=aggregator)
    with ape.reverts(rm.RoundManagerCidTooLong, length=129, maximum=128):
        rm.finalizeRound(1, proof.proof, list(proof.instances), NEW_CID, long_cid, 0, sender=aggregator)


# --- an unavailable model file -------------------------------------------------------------------


@pytest.fixture
def finalized(deployment, admin, aggregator, hospitals, chain, updates, prove):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    for h, u in zip(hospitals[:5], updates, strict=True):
        submit(deployment, 1, h, u, 50)
    proof = prove(updates, [50] * 5)
    rm.finalizeRound(1, proof.proof, list(proof.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)
    return rm


def test_aQuorumOfReports_rollsTheRoundBack_andTheConsortiumGoesOn(finalized, deployment, admin, hospitals, chain):
    rm = finalized
    assert rm.currentModel()[1] == NEW_CID
    for i, h in enumerate(hospitals[:2]):
        tx = rm.reportModelUnavailable(1, sender=h)
        (event,) = tx.events.filter(rm.ModelUnavailableReported)
        assert event.roundId == 1 and event.hospital == h.address and event.reports == i + 1
        assert rm.getRound(1).phase == Phase.FINALIZED  # below the round's quorum (3): nothing changes
    tx = rm.reportModelUnavailable(1, sender=hospitals[2])
    (event,) = tx.events.filter(rm.RoundRolledBack)
    assert event.roundId == 1 and event.restoredModelCommitment == 123 and event.restoredModelCid == GENESIS_CID
    info = rm.getRound(1)
    assert info.phase == Phase.ROLLED_BACK and info.unavailableReports == 3
    assert rm.currentModel() == (123, GENESIS_CID)
    round_id = open_round(deployment, admin, chain)  # the next round starts from the restored model
    assert rm.getRound(round_id).prevModelCid == GENESIS_CID


def test_reportModelUnavailable_revertsWhen_notAHospital(finalized, outsider, auditor, aggregator):
    for caller in (outsider, auditor, aggregator):
        with ape.reverts(finalized.RoundManagerNotHospital, caller=caller.address):
            finalized.reportModelUnavailable(1, sender=caller)


def test_reportModelUnavailable_revertsWhen_reportedTwice(finalized, hospitals):
    finalized.reportModelUnavailable(1, sender=hospitals[0])
    with ape.reverts(finalized.RoundManagerAlreadyReported, roundId=1, hospital=hospitals[0].address):
        finalized.reportModelUnavailable(1, sender=hospitals[0])


def test_reportModelUnavailable_revertsWhen_notTheLatestRound(finalized, deployment, admin, hospitals, chain):
    open_round(deployment, admin, chain)
    with ape.reverts(finalized.RoundManagerNotLatestRound, roundId=1, latest=2):
        finalized.reportModelUnavailable(1, sender=hospitals[0])
    with ape.reverts(finalized.RoundManagerWrongPhase, roundId=2, expected=Phase.FINALIZED, actual=Phase.OPEN):
        finalized.reportModelUnavailable(2, sender=hospitals[0])


def test_aRolledBackRound_isClosedForAuditsAndReports(finalized, hospitals, auditor, admin):
    for h in hospitals[:3]:
        finalized.reportModelUnavailable(1, sender=h)
    finalized.recordAudit(1, False, "bafkreiauditreport", sender=auditor)
    finalized.publishRoundReport(1, "bafkreiroundreport", sender=admin)
    with ape.reverts(finalized.RoundManagerWrongPhase):
        finalized.reportModelUnavailable(1, sender=hospitals[3])
