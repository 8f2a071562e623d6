"""RoundManager: the round state machine and the binding of proofs to on-chain commitments.

Proofs are real ezkl proofs checked by the generated verifier contract; they are cached per input
(see ``prove`` in conftest) and reused across fresh deployments.
"""

from __future__ import annotations

import ape
import pytest
from eth_utils import keccak

from tests.conftest import CIRCUIT_CID, GENESIS_CID, SPEC, make_updates
from zkfl_dapp.core.aggregation import fedavg_quantized, normalized_weights
from zkfl_dapp.chain.enums import Phase, Role
from zkfl_dapp.core.fixedpoint import FIELD_MODULUS, from_field
from zkfl_dapp.core.formats import MAX_SAMPLE_COUNT
from zkfl_dapp.core.formats import MAX_SAMPLE_COUNT
from zkfl_dapp.core.commitments import model_commitment, poseidon_commitment

COUNTS = [50, 60, 70, 80, 90]
NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
PROOF_CID = "bafkreiabcproofcidforthetestsonlyaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
WEIGHTS_AT = SPEC.slots + 1 + SPEC.model_size  # index of the first public weight


@pytest.fixture(scope="module")
def updates():
    return make_updates(seed=1, count=5)


def open_round(dep, admin, chain, *, quorum=3, duration=3600):
    deadline = chain.pending_timestamp + duration
    tx = dep.round_manager.openRound(deadline, quorum, sender=admin)
    return dep.round_manager.currentRoundId(), deadline, tx


def submit_all(dep, round_id, hospitals, updates, counts):
    for h, u, n in zip(hospitals, updates, counts, strict=False):
        dep.round_manager.submitUpdate(round_id, poseidon_commitment(u), f"cid-{poseidon_commitment(u)}", n, sender=h)


# --- opening rounds ----------------------------------------------------------------------------


def test_openRound_recordsPreviousModelAndEmits(deployment, admin, chain):
    rm = deployment.round_manager
    round_id, deadline, tx = open_round(deployment, admin, chain)
    assert round_id == 1
    info = rm.getRound(1)
    assert info.phase == Phase.OPEN and info.deadline == deadline and info.quorum == 3
    assert info.prevModelCommitment == 123 and info.prevModelCid == GENESIS_CID
    (event,) = tx.events.filter(rm.RoundOpened)
    assert event.roundId == 1 and event.prevModelCommitment == 123 and event.quorum == 3


def test_openRound_revertsWhen_notAdmin(deployment, outsider, chain):
    with ape.reverts(deployment.round_manager.RoundManagerNotAdmin, caller=outsider.address):
        deployment.round_manager.openRound(chain.pending_timestamp + 100, 3, sender=outsider)


def test_openRound_revertsWhen_anotherRoundOpen(deployment, admin, chain):
    open_round(deployment, admin, chain)
    with ape.reverts(deployment.round_manager.RoundManagerRoundStillOpen, roundId=1):
        open_round(deployment, admin, chain)


@pytest.mark.parametrize("quorum", [0, 6])
def test_openRound_revertsWhen_quorumOutOfRange(deployment, admin, chain, quorum):
    with ape.reverts(deployment.round_manager.RoundManagerInvalidRoundParameters):
        deployment.round_manager.openRound(chain.pending_timestamp + 100, quorum, sender=admin)


def test_openRound_revertsWhen_deadlineInPast(deployment, admin, chain):
    with ape.reverts(deployment.round_manager.RoundManagerInvalidRoundParameters):
        deployment.round_manager.openRound(chain.pending_timestamp - 1, 3, sender=admin)


# --- submissions -------------------------------------------------------------------------------


def test_submitUpdate_recordsSlotAndEmits(deployment, admin, hospitals, chain, updates):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    c = poseidon_commitment(updates[0])
    tx = rm.submitUpdate(1, c, "bafy-update", 50, sender=hospitals[0])
    sub = rm.getSubmission(1, 0)
    assert (sub.hospital, sub.commitment, sub.sampleCount, sub.cid) == (hospitals[0].address, c, 50, "bafy-update")
    assert rm.getRound(1).submissionCount == 1
    (event,) = tx.events.filter(rm.UpdateSubmitted)
    assert event.roundId == 1 and event.hospital == hospitals[0].address and event.slot == 0
    assert event.commitment == c and event.cid == "bafy-update" and event.sampleCount == 50


def test_submitUpdate_revertsWhen_notMember(deployment, admin, outsider, auditor, chain):
    open_round(deployment, admin, chain)
    for caller in (outsider, auditor):
        with ape.reverts(deployment.round_manager.RoundManagerNotHospital, caller=caller.address):
            deployment.round_manager.submitUpdate(1, 7, "cid", 10, sender=caller)


def test_submitUpdate_revertsWhen_removedMember(deployment, admin, hospitals, chain):
    open_round(deployment, admin, chain)
    deployment.registry.removeMember(hospitals[0], sender=admin)
    with ape.reverts(deployment.round_manager.RoundManagerNotHospital, caller=hospitals[0].address):
        deployment.round_manager.submitUpdate(1, 7, "cid", 10, sender=hospitals[0])


def test_submitUpdate_revertsWhen_duplicate(deployment, admin, hospitals, chain):
    open_round(deployment, admin, chain)
    deployment.round_manager.submitUpdate(1, 7, "cid", 10, sender=hospitals[0])
    with ape.reverts(deployment.round_manager.RoundManagerAlreadySubmitted, roundId=1, hospital=hospitals[0].address):
        deployment.round_manager.submitUpdate(1, 8, "cid", 10, sender=hospitals[0])


def test_submitUpdate_revertsWhen_late(deployment, admin, hospitals, chain):
    _, deadline, _ = open_round(deployment, admin, chain, duration=100)
    chain.pending_timestamp = deadline + 1
    with ape.reverts(deployment.round_manager.RoundManagerDeadlinePassed, roundId=1, deadline=deadline):
        deployment.round_manager.submitUpdate(1, 7, "cid", 10, sender=hospitals[0])


def test_submitUpdate_revertsWhen_roundNotOpen(deployment, hospitals):
    with ape.reverts(
        deployment.round_manager.RoundManagerWrongPhase, roundId=1, expected=Phase.OPEN, actual=Phase.NONE
    ):
        deployment.round_manager.submitUpdate(1, 7, "cid", 10, sender=hospitals[0])


def test_submitUpdate_revertsWhen_roundFull(deployment, admin, hospitals, chain):
    deployment.registry.admitMember(hospitals[5], int(Role.HOSPITAL), "sixth", sender=admin)
    open_round(deployment, admin, chain)
    for i in range(5):
        deployment.round_manager.submitUpdate(1, 100 + i, "cid", 10, sender=hospitals[i])
    with ape.reverts(deployment.round_manager.RoundManagerRoundFull, roundId=1, slots=5):
        deployment.round_manager.submitUpdate(1, 200, "cid", 10, sender=hospitals[5])


def test_submitUpdate_revertsWhen_commitmentInvalid(deployment, admin, hospitals, chain, empty_slot_commitment):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    rm.submitUpdate(1, 42, "cid", 10, sender=hospitals[0])
    for bad in (0, FIELD_MODULUS, empty_slot_commitment, 42):  # zero, not a field element, empty slot, reused
        with ape.reverts(rm.RoundManagerInvalidCommitment, commitment=bad):
            rm.submitUpdate(1, bad, "cid", 10, sender=hospitals[1])


@pytest.mark.parametrize("count", [0, 1_000_000_001])
def test_submitUpdate_revertsWhen_sampleCountInvalid(deployment, admin, hospitals, chain, count):
    open_round(deployment, admin, chain)
    with ape.reverts(deployment.round_manager.RoundManagerInvalidSampleCount, sampleCount=count):
        deployment.round_manager.submitUpdate(1, 7, "cid", count, sender=hospitals[0])


def test_submitUpdate_revertsWhen_cidEmpty(deployment, admin, hospitals, chain):
    open_round(deployment, admin, chain)
    with ape.reverts(deployment.round_manager.RoundManagerEmptyCid):
        deployment.round_manager.submitUpdate(1, 7, "", 10, sender=hospitals[0])


# --- finalization ------------------------------------------------------------------------------


def test_finalizeRound_acceptsProofBoundToCommitments(deployment, admin, aggregator, hospitals, chain, updates, prove):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals, updates, COUNTS)
    proof = prove(updates, COUNTS)
    assert list(rm.expectedWeights(1, 0)) == list(normalized_weights(COUNTS, SPEC.scale_bits))

    tx = rm.finalizeRound(1, proof.proof, list(proof.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)

    expected_model = fedavg_quantized(updates, normalized_weights(COUNTS, SPEC.scale_bits), SPEC.scale_bits)
    assert tuple(from_field(v) for v in proof.model_values(SPEC)) == expected_model
    info = rm.getRound(1)
    assert info.phase == Phase.FINALIZED
    assert info.newModelCommitment == model_commitment(expected_model)
    assert info.newModelCid == NEW_CID and info.proofHash == keccak(proof.proof) and info.proofCid == PROOF_CID
    assert rm.currentModel() == (model_commitment(expected_model), NEW_CID)
    (event,) = tx.events.filter(rm.RoundFinalized)
    assert event.roundId == 1 and event.newModelCommitment == model_commitment(expected_model)
    assert event.includedCount == 5 and event.totalSamples == sum(COUNTS)
    assert event.proofCid == PROOF_CID and event.proofHash == keccak(proof.proof)
    assert tx.gas_used < 1_500_000


def test_finalizeRound_revertsWhen_notAggregator(deployment, admin, hospitals, chain, updates, prove):
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals, updates, COUNTS)
    proof = prove(updates, COUNTS)
    for caller in (admin, hospitals[0]):
        with ape.reverts(deployment.round_manager.RoundManagerNotAggregator, caller=caller.address):
            deployment.round_manager.finalizeRound(1, proof.proof, list(proof.instances), NEW_CID, PROOF_CID, 0, sender=caller)


def test_finalizeRound_revertsWhen_twice(deployment, admin, aggregator, hospitals, chain, updates, prove):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals, updates, COUNTS)
    proof = prove(updates, COUNTS)
    rm.finalizeRound(1, proof.proof, list(proof.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)
    with ape.reverts(rm.RoundManagerWrongPhase, roundId=1, expected=Phase.OPEN, actual=Phase.FINALIZED):
        rm.finalizeRound(1, proof.proof, list(proof.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)


def _attempt(dep, aggregator, proof_bytes, instances, mask=0):
    return dep.round_manager.finalizeRound(1, proof_bytes, list(instances), NEW_CID, PROOF_CID, mask, sender=aggregator)


@pytest.fixture
def full_round(deployment, admin, hospitals, chain, updates, prove):
    """Round 1 with all five hospitals submitted and a valid proof for it (not yet finalized)."""
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals, updates, COUNTS)
    return deployment, prove(updates, COUNTS)


def test_finalizeRound_revertsWhen_updateOmitted(full_round, aggregator):
    dep, proof = full_round
    inst = list(proof.instances)
    del inst[4]  # drop one update's hash
    with ape.reverts(dep.round_manager.RoundManagerWrongInstanceCount, expected=SPEC.num_instances):
        _attempt(dep, aggregator, proof.proof, inst)


def test_finalizeRound_revertsWhen_updateReplaced(full_round, aggregator, updates):
    dep, proof = full_round
    inst = list(proof.instances)
    inst[2] = poseidon_commitment(make_updates(seed=99, count=1)[0])
    with ape.reverts(dep.round_manager.RoundManagerInstanceMismatch, roundId=1, index=2, actual=inst[2]):
        _attempt(dep, aggregator, proof.proof, inst)


def test_finalizeRound_revertsWhen_updatesReordered(full_round, aggregator):
    dep, proof = full_round
    inst = list(proof.instances)
    inst[0], inst[1] = inst[1], inst[0]
    with ape.reverts(dep.round_manager.RoundManagerInstanceMismatch, roundId=1, index=0, expected=inst[1]):
        _attempt(dep, aggregator, proof.proof, inst)


def test_finalizeRound_revertsWhen_weightChanged(full_round, aggregator):
    dep, proof = full_round
    inst = list(proof.instances)
    inst[WEIGHTS_AT + 3] += 1
    with ape.reverts(dep.round_manager.RoundManagerInstanceMismatch, roundId=1, index=WEIGHTS_AT + 3):
        _attempt(dep, aggregator, proof.proof, inst)


def test_finalizeRound_revertsWhen_modelValueChanged(full_round, aggregator):
    dep, proof = full_round
    inst = list(proof.instances)
    inst[SPEC.slots + 1] = (inst[SPEC.slots + 1] + 1) % FIELD_MODULUS  # claim a different global model
    with ape.reverts(dep.round_manager.RoundManagerProofRejected, roundId=1):
        _attempt(dep, aggregator, proof.proof, inst)


def test_finalizeRound_revertsWhen_proofTampered(full_round, aggregator):
    dep, proof = full_round
    tampered = bytearray(proof.proof)
    tampered[len(tampered) // 2] ^= 0x01
    with ape.reverts(dep.round_manager.RoundManagerProofRejected, roundId=1):
        _attempt(dep, aggregator, bytes(tampered), proof.instances)
    with ape.reverts(dep.round_manager.RoundManagerProofRejected, roundId=1):
        _attempt(dep, aggregator, proof.proof[:-32], proof.instances)
    assert dep.round_manager.getRound(1).phase == Phase.OPEN  # nothing lost: the round can still finalize
    _attempt(dep, aggregator, proof.proof, proof.instances)


def test_finalizeRound_revertsWhen_proofReplayedFromEarlierRound(
    deployment, admin, aggregator, hospitals, chain, updates, prove
):
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    submit_all(deployment, 1, hospitals, updates, COUNTS)
    old = prove(updates, COUNTS)
    rm.finalizeRound(1, old.proof, list(old.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)

    open_round(deployment, admin, chain)
    fresh = make_updates(seed=2, count=5)
    submit_all(deployment, 2, hospitals, fresh, COUNTS)
    with ape.reverts(rm.RoundManagerInstanceMismatch, roundId=2, index=0, actual=old.instances[0]):
        rm.finalizeRound(2, old.proof, list(old.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)


def test_finalizeRound_revertsWhen_membersMissingBeforeDeadline(deployment, admin, aggregator, hospitals, chain, updates, prove):
    open_round(deployment, admin, chain, quorum=3)
    submit_all(deployment, 1, hospitals[:3], updates[:3], COUNTS[:3])
    proof = prove(updates[:3], COUNTS[:3])
    with ape.reverts(deployment.round_manager.RoundManagerDeadlineNotReached, roundId=1):
        _attempt(deployment, aggregator, proof.proof, proof.instances)


def test_finalizeRound_quorumOnlyRoundAfterDeadline(deployment, admin, aggregator, hospitals, chain, updates, prove,
                                                    empty_slot_commitment):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=3)
    submit_all(deployment, 1, hospitals[:3], updates[:3], COUNTS[:3])
    proof = prove(updates[:3], COUNTS[:3])
    assert proof.instances[3] == proof.instances[4] == empty_slot_commitment  # absent slots: zero update
    chain.pending_timestamp = deadline + 1
    tx = _attempt(deployment, aggregator, proof.proof, proof.instances)
    (event,) = tx.events.filter(rm.RoundFinalized)
    assert event.includedCount == 3 and event.totalSamples == sum(COUNTS[:3])
    expected = fedavg_quantized(
        [*updates[:3], (0,) * 31, (0,) * 31], normalized_weights([*COUNTS[:3], 0, 0], SPEC.scale_bits), SPEC.scale_bits
    )
    assert rm.getRound(1).newModelCommitment == model_commitment(expected)


def test_finalizeRound_excludedUpdateCarriesZeroWeight(full_round, aggregator, hospitals, updates, prove):
    dep, _ = full_round
    rm = dep.round_manager
    counts = [COUNTS[0], COUNTS[1], 0, COUNTS[3], COUNTS[4]]
    proof = prove([updates[0], updates[1], None, updates[3], updates[4]], counts)
    # The aggregator must declare the slot it left out: without the mask, the chain derives weights over
    # all five submissions, and the proof's first weight already differs.
    with ape.reverts(rm.RoundManagerInstanceMismatch, roundId=1, index=WEIGHTS_AT):
        _attempt(dep, aggregator, proof.proof, proof.instances, mask=0)
    tx = _attempt(dep, aggregator, proof.proof, proof.instances, mask=0b00100)
    (excluded,) = tx.events.filter(rm.UpdateExcluded)
    assert excluded.roundId == 1 and excluded.hospital == hospitals[2].address and excluded.slot == 2
    (final,) = tx.events.filter(rm.RoundFinalized)
    assert final.includedCount == 4 and final.totalSamples == sum(counts)


def test_finalizeRound_revertsWhen_exclusionBreaksQuorum(deployment, admin, aggregator, hospitals, chain, updates):
    _, deadline, _ = open_round(deployment, admin, chain, quorum=3)
    submit_all(deployment, 1, hospitals[:3], updates[:3], COUNTS[:3])
    chain.pending_timestamp = deadline + 1
    with ape.reverts(deployment.round_manager.RoundManagerQuorumNotMet, roundId=1, included=2, quorum=3):
        _attempt(deployment, aggregator, b"", [0] * SPEC.num_instances, mask=0b001)


def test_finalizeRound_revertsWhen_exclusionNamesEmptySlot(full_round, aggregator):
    dep, proof = full_round
    with ape.reverts(dep.round_manager.RoundManagerInvalidExclusion, roundId=1, excludedMask=0b100000):
        _attempt(dep, aggregator, proof.proof, proof.instances, mask=0b100000)


# --- aborting ----------------------------------------------------------------------------------


def test_abortRound_revertsWhen_beforeDeadline(deployment, admin, chain):
    _, deadline, _ = open_round(deployment, admin, chain)
    with ape.reverts(deployment.round_manager.RoundManagerDeadlineNotReached, roundId=1, deadline=deadline):
        deployment.round_manager.abortRound(1, sender=admin)


def test_abortRound_anyoneWhenQuorumMissed(deployment, admin, hospitals, outsider, chain):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=3)
    rm.submitUpdate(1, 7, "cid", 10, sender=hospitals[0])
    chain.pending_timestamp = deadline + 1
    tx = rm.abortRound(1, sender=outsider)
    (event,) = tx.events.filter(rm.RoundAborted)
    assert event.roundId == 1 and event.submissionCount == 1 and event.by == outsider.address
    assert rm.getRound(1).phase == Phase.ABORTED
    assert rm.currentModel() == (123, GENESIS_CID)  # the previous model stays current
    with ape.reverts(rm.RoundManagerWrongPhase, roundId=1, expected=Phase.OPEN, actual=Phase.ABORTED):
        rm.submitUpdate(1, 8, "cid", 10, sender=hospitals[1])
    round_id, _, _ = open_round(deployment, admin, chain)  # and the consortium can go on
    assert round_id == 2 and rm.getRound(2).prevModelCommitment == 123


def test_abortRound_onlyAdminWhenQuorumMet(deployment, admin, hospitals, outsider, chain):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain, quorum=1)
    rm.submitUpdate(1, 7, "cid", 10, sender=hospitals[0])
    chain.pending_timestamp = deadline + 1
    with ape.reverts(rm.RoundManagerNotAdmin, caller=outsider.address):
        rm.abortRound(1, sender=outsider)
    rm.abortRound(1, sender=admin)
    assert rm.getRound(1).phase == Phase.ABORTED


def test_finalizeRound_revertsWhen_proofCidEmpty(full_round, aggregator):
    dep, proof = full_round
    with ape.reverts(dep.round_manager.RoundManagerEmptyCid):
        dep.round_manager.finalizeRound(1, proof.proof, list(proof.instances), NEW_CID, "", 0, sender=aggregator)


# --- publication and audit receipts ------------------------------------------------------------


def test_constructor_setsDeploymentParametersReadableThroughTheInterface(deployment, project, empty_slot_commitment):
    rm = project.IRoundManager.at(deployment.round_manager.address)  # every getter is declared by the interface
    assert rm.registry() == deployment.registry.address
    assert rm.fedAvgVerifier() == deployment.verifier.address
    assert rm.medianVerifier() == deployment.median_verifier.address
    assert rm.normVerifier() == deployment.norm_verifier.address
    assert (rm.slots(), rm.modelSize(), rm.scaleBits()) == (SPEC.slots, SPEC.model_size, SPEC.scale_bits)
    assert rm.emptySlotCommitment() == empty_slot_commitment
    assert (rm.FIELD_MODULUS(), rm.MAX_SAMPLE_COUNT(), rm.NORM_RANGE()) == (FIELD_MODULUS, MAX_SAMPLE_COUNT, 2**28)
    assert (rm.MAX_ROUND_DURATION(), rm.MAX_CID_LENGTH()) == (30 * 24 * 3600, 128)


def test_constructor_publishesCircuitManifest(deployment):
    rm = deployment.round_manager
    assert rm.circuitCid() == CIRCUIT_CID
    (event,) = rm.CircuitPublished.query("*", start_block=0).itertuples()
    assert event.event_arguments["circuitCid"] == CIRCUIT_CID


@pytest.fixture
def finalized_round(full_round, aggregator):
    dep, proof = full_round
    dep.round_manager.finalizeRound(1, proof.proof, list(proof.instances), NEW_CID, PROOF_CID, 0, sender=aggregator)
    return dep


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
