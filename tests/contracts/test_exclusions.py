"""RoundManager's exclusion rules (issue 18, docs/exclusions.md): an update is left out only after the
aggregator declared it with a reason and public evidence (or, for an unavailable ciphertext, after the hospital
had a window to post it on-chain); the excluded hospital can dispute an evidence-backed exclusion, and a majority
of the members at opening upholding it invalidates the round and names the aggregator.
"""

from __future__ import annotations

import hashlib

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak
from web3.exceptions import ContractCustomError

from tests.conftest import CIRCUIT_CID, GENESIS_CID, open_round, padded_update
from tests.conftest import points as onchain
from tests.contracts.test_median_rounds import MEDIAN_MEMBERS, _median_rows, needs_median
from zkfl_dapp.chain.deployment import deploy_contracts
from zkfl_dapp.chain.enums import ExclusionReason, Phase, Role, Rule
from zkfl_dapp.chain.norm_claims import NO_CLAIM

COUNTS = (50, 60, 70, 80, 90)
NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
EVIDENCE_CID = "bafkreievidenceevidenceevidenceevidenceevidenceevidencexyz"
EVIDENCE = keccak(b"evidence file")
NO_HASH = b"\x00" * 32
UPDATES = tuple(padded_update(seed) for seed in range(1, 6))
DAY, HOUR = 24 * 3600, 3600
UNDECRYPTABLE, INVALID, UNAVAILABLE = (
    ExclusionReason.UNDECRYPTABLE,
    ExclusionReason.INVALID_CONTENT,
    ExclusionReason.UNAVAILABLE,
)


@pytest.fixture(scope="module")
def points(commit_of):
    return [commit_of(u) for u in UPDATES]


@pytest.fixture
def closed(deployment, admin, hospitals, chain, points):
    """Round 1, five submissions (every member: submissions are closed); returns the round manager."""
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    for h, p, n in zip(hospitals[:5], points, COUNTS, strict=True):
        rm.submitUpdate(1, onchain(p), f"cid-{n}", n, NO_CLAIM, sender=h)
    return rm


def declare(rm, aggregator, slot, reason=INVALID, evidence=EVIDENCE, cid=EVIDENCE_CID):
    if reason == UNAVAILABLE and evidence == EVIDENCE:
        evidence, cid = NO_HASH, ""
    return rm.declareExclusion(1, slot, reason, evidence, cid, sender=aggregator)


def excluded_round(rm, aggregator, slot=2, reason=INVALID):
    declare(rm, aggregator, slot, reason)
    return rm.finalizeRound(1, NEW_CID, 1 << slot, sender=aggregator)


# --- declaring ----------------------------------------------------------------------------------


def test_declareExclusion_recordsReasonEvidenceAndAggregator_andEmits(closed, aggregator, hospitals, chain):
    tx = declare(closed, aggregator, 2)
    print(f"\ndeclareExclusion (evidence hash and CID): {tx.gas_used} gas")
    (event,) = tx.events.filter(closed.ExclusionDeclared)
    assert (event.roundId, event.hospital, event.slot, event.reason) == (1, hospitals[2].address, 2, INVALID)
    assert bytes(event.evidenceHash) == EVIDENCE and event.evidenceCid == EVIDENCE_CID
    e = closed.getExclusion(1, 2)
    assert e.reason == INVALID and bytes(e.evidenceHash) == EVIDENCE and e.aggregator == aggregator.address
    assert e.declaredAt == chain.blocks.head.timestamp and not (e.applied or e.disputed or e.upheld or e.reannounced)
    assert closed.getExclusion(1, 1).reason == ExclusionReason.NONE


def test_declareExclusion_revertsWhen_notAggregator(closed, hospitals):
    with ape.reverts(closed.RoundManagerNotAggregator, caller=hospitals[0].address):
        closed.declareExclusion(1, 2, INVALID, EVIDENCE, EVIDENCE_CID, sender=hospitals[0])


def test_declareExclusion_revertsWhen_submissionsStillOpen(deployment, admin, aggregator, hospitals, chain, points):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain)
    rm.submitUpdate(1, onchain(points[0]), "cid-0", 5, NO_CLAIM, sender=hospitals[0])
    with ape.reverts(rm.RoundManagerDeadlineNotReached, roundId=1, deadline=deadline):
        declare(rm, aggregator, 0)


def test_declareExclusion_revertsWhen_roundNotOpen(closed, aggregator):
    closed.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    with ape.reverts(closed.RoundManagerWrongPhase, roundId=1, expected=Phase.OPEN, actual=Phase.FINALIZED):
        declare(closed, aggregator, 2)


def test_declareExclusion_revertsWhen_slotHasNoSubmission(deployment, admin, aggregator, hospitals, chain, points):
    rm = deployment.round_manager
    _, deadline, _ = open_round(deployment, admin, chain)
    rm.submitUpdate(1, onchain(points[0]), "cid-0", 5, NO_CLAIM, sender=hospitals[0])
    chain.pending_timestamp = deadline + 1
    with ape.reverts(rm.RoundManagerNoSubmissionInSlot, roundId=1, slot=1):
        declare(rm, aggregator, 1)


@pytest.mark.parametrize(
    ("reason", "evidence", "cid"),
    [
        (ExclusionReason.NONE, EVIDENCE, EVIDENCE_CID),  # no reason
        (UNDECRYPTABLE, NO_HASH, EVIDENCE_CID),  # evidence-backed reason without evidence
        (INVALID, NO_HASH, ""),
        (UNAVAILABLE, EVIDENCE, ""),  # nothing can prove unavailability: no evidence taken
        (UNAVAILABLE, NO_HASH, EVIDENCE_CID),
    ],
)
def test_declareExclusion_revertsWhen_evidenceDoesNotFitTheReason(closed, aggregator, reason, evidence, cid):
    with ape.reverts(closed.RoundManagerInvalidExclusionEvidence, roundId=1, slot=2, reason=reason):
        closed.declareExclusion(1, 2, reason, evidence, cid, sender=aggregator)


def test_declareExclusion_revertsWhen_evidenceCidEmpty(closed, aggregator):
    with ape.reverts(closed.RoundManagerEmptyCid):
        closed.declareExclusion(1, 2, INVALID, EVIDENCE, "", sender=aggregator)


def test_declareExclusion_revertsWhen_alreadyDeclared(closed, aggregator):
    declare(closed, aggregator, 2, UNAVAILABLE)
    for reason in (INVALID, UNAVAILABLE):  # an unanswered Unavailable exclusion cannot be swapped for another
        with ape.reverts(closed.RoundManagerExclusionAlreadyDeclared, roundId=1, slot=2, reason=UNAVAILABLE):
            declare(closed, aggregator, 2, reason)


# --- finalizing with exclusions -----------------------------------------------------------------


def test_finalizeRound_revertsWhen_exclusionNotDeclared(closed, aggregator):
    declare(closed, aggregator, 1)
    with ape.reverts(closed.RoundManagerExclusionNotDeclared, roundId=1, slot=3):
        closed.finalizeRound(1, NEW_CID, 0b01010, sender=aggregator)


def test_finalizeRound_withoutExclusions_opensNoDisputeWindow(closed, aggregator):
    declare(closed, aggregator, 2)  # declared, then included after all: nothing applied
    closed.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    assert closed.disputeDeadline(1) == 0 and not closed.getExclusion(1, 2).applied


def test_finalizeRound_appliesDeclaredExclusions_andOpensTheDisputeWindow(closed, aggregator, hospitals, chain):
    declare(closed, aggregator, 0, UNDECRYPTABLE)
    declare(closed, aggregator, 2)
    tx = closed.finalizeRound(1, NEW_CID, 0b101, sender=aggregator)
    print(f"\nfinalizeRound with 2 declared exclusions: {tx.gas_used} gas")
    assert [(e.slot, e.hospital) for e in tx.events.filter(closed.UpdateExcluded)] == [
        (0, hospitals[0].address),
        (2, hospitals[2].address),
    ]
    assert closed.getExclusion(1, 0).applied and closed.getExclusion(1, 2).applied
    assert closed.disputeDeadline(1) == chain.blocks.head.timestamp + DAY == tx.timestamp + DAY
    assert closed.EXCLUSION_DISPUTE_WINDOW() == DAY and closed.REANNOUNCE_WINDOW() == HOUR


def test_finalizeRound_revertsWhen_unavailableExclusionsReannounceWindowOpen(closed, aggregator, chain):
    declared_at = declare(closed, aggregator, 2, UNAVAILABLE).timestamp
    with ape.reverts(closed.RoundManagerReannounceWindowOpen, roundId=1, slot=2, windowEnd=declared_at + HOUR):
        closed.finalizeRound(1, NEW_CID, 0b100, sender=aggregator)
    chain.pending_timestamp = declared_at + HOUR + 1
    closed.finalizeRound(1, NEW_CID, 0b100, sender=aggregator)
    assert closed.getExclusion(1, 2).applied


# --- re-announcing an unavailable ciphertext ----------------------------------------------------


def test_reannounceUpdate_postsTheEnvelope_andVoidsTheUnavailableExclusion(closed, aggregator, hospitals, chain):
    declared_at = declare(closed, aggregator, 2, UNAVAILABLE).timestamp
    envelope = b"ZKFLENC1" + bytes(range(200))
    tx = closed.reannounceUpdate(1, 2, envelope, sender=hospitals[2])
    (event,) = tx.events.filter(closed.UpdateReannounced)
    assert (event.roundId, event.hospital, event.slot) == (1, hospitals[2].address, 2)
    assert bytes(event.envelope) == envelope and bytes(event.envelopeHash) == hashlib.sha256(envelope).digest()
    assert closed.getExclusion(1, 2).reannounced
    chain.pending_timestamp = declared_at + HOUR + 1
    with ape.reverts(closed.RoundManagerUpdateReannounced, roundId=1, slot=2):
        closed.finalizeRound(1, NEW_CID, 0b100, sender=aggregator)
    with ape.reverts(closed.RoundManagerExclusionAlreadyDeclared, roundId=1, slot=2, reason=UNAVAILABLE):
        declare(closed, aggregator, 2, UNAVAILABLE)
    declare(closed, aggregator, 2, UNDECRYPTABLE)  # the posted bytes are public: evidence is now possible
    with ape.reverts(closed.RoundManagerExclusionAlreadyDeclared, roundId=1, slot=2, reason=UNDECRYPTABLE):
        declare(closed, aggregator, 2, INVALID)  # replaced once, then fixed like any other
    closed.finalizeRound(1, NEW_CID, 0b100, sender=aggregator)
    assert closed.getExclusion(1, 2).reason == UNDECRYPTABLE


def test_reannounceUpdate_revertsWhen_notTheSlotsHospital(closed, aggregator, hospitals):
    declare(closed, aggregator, 2, UNAVAILABLE)
    with ape.reverts(closed.RoundManagerNotSlotHospital, roundId=1, slot=2, caller=hospitals[1].address):
        closed.reannounceUpdate(1, 2, b"x", sender=hospitals[1])
    with ape.reverts(closed.RoundManagerNotSlotHospital, roundId=1, slot=7, caller=hospitals[1].address):
        closed.reannounceUpdate(1, 7, b"x", sender=hospitals[1])


def test_reannounceUpdate_revertsWhen_notDeclaredUnavailable_orAlreadyReannounced(closed, aggregator, hospitals):
    with ape.reverts(closed.RoundManagerNotDeclaredUnavailable, roundId=1, slot=2):
        closed.reannounceUpdate(1, 2, b"x", sender=hospitals[2])
    declare(closed, aggregator, 1)
    with ape.reverts(closed.RoundManagerNotDeclaredUnavailable, roundId=1, slot=1):
        closed.reannounceUpdate(1, 1, b"x", sender=hospitals[1])
    declare(closed, aggregator, 2, UNAVAILABLE)
    closed.reannounceUpdate(1, 2, b"x", sender=hospitals[2])
    with ape.reverts(closed.RoundManagerNotDeclaredUnavailable, roundId=1, slot=2):
        closed.reannounceUpdate(1, 2, b"x", sender=hospitals[2])


def test_reannounceUpdate_revertsWhen_windowClosed_orRoundFinalized(closed, aggregator, hospitals, chain):
    declared_at = declare(closed, aggregator, 2, UNAVAILABLE).timestamp
    chain.pending_timestamp = declared_at + HOUR + 1
    with ape.reverts(closed.RoundManagerWindowClosed, roundId=1, slot=2, windowEnd=declared_at + HOUR):
        closed.reannounceUpdate(1, 2, b"x", sender=hospitals[2])
    closed.finalizeRound(1, NEW_CID, 0b100, sender=aggregator)
    with ape.reverts(closed.RoundManagerWrongPhase, roundId=1, expected=Phase.OPEN, actual=Phase.FINALIZED):
        closed.reannounceUpdate(1, 2, b"x", sender=hospitals[2])


# --- disputes ---------------------------------------------------------------------------------------


def test_disputeExclusion_upheldByAMajority_invalidatesTheRound_andNamesTheAggregator(closed, aggregator, hospitals):
    excluded_round(closed, aggregator, slot=2)
    deadline = closed.disputeDeadline(1)
    tx = closed.disputeExclusion(1, 2, sender=hospitals[2])
    (event,) = tx.events.filter(closed.ExclusionDisputed)
    assert (event.roundId, event.hospital, event.slot, event.disputeDeadline) == (1, hospitals[2].address, 2, deadline)
    tx = closed.supportDispute(1, 2, sender=hospitals[0])
    (support,) = tx.events.filter(closed.DisputeSupported)
    assert (support.roundId, support.slot, support.supporter, support.supporters) == (1, 2, hospitals[0].address, 2)
    assert not tx.events.filter(closed.ExclusionDisputeUpheld) and closed.getRound(1).phase == Phase.FINALIZED
    tx = closed.supportDispute(1, 2, sender=hospitals[4])  # 3 of the 5 members at opening: a majority
    (upheld,) = tx.events.filter(closed.ExclusionDisputeUpheld)
    assert (upheld.roundId, upheld.hospital, upheld.slot, upheld.aggregator) == (
        1,
        hospitals[2].address,
        2,
        aggregator.address,
    )
    e = closed.getExclusion(1, 2)
    assert e.disputed and e.upheld and e.supporters == 3
    assert closed.getRound(1).phase == Phase.INVALIDATED
    assert tuple(closed.currentModel())[1] == 0  # the previous (genesis) model is current again
    assert bytes(closed.modelOf(1)) == bytes(closed.getRound(1).newModelHash)  # still readable for the audit
    with ape.reverts(closed.RoundManagerDisputeUpheld, roundId=1, slot=2):
        closed.supportDispute(1, 2, sender=hospitals[1])


def test_disputeExclusion_aMinorityCannotUphold(closed, aggregator, hospitals, chain):
    excluded_round(closed, aggregator, slot=2)
    closed.disputeExclusion(1, 2, sender=hospitals[2])
    closed.supportDispute(1, 2, sender=hospitals[3])  # 2 of 5
    chain.pending_timestamp = closed.disputeDeadline(1) + 1
    with ape.reverts(closed.RoundManagerWindowClosed, roundId=1, slot=2, windowEnd=closed.disputeDeadline(1)):
        closed.supportDispute(1, 2, sender=hospitals[0])
    assert closed.getRound(1).phase == Phase.FINALIZED and not closed.getExclusion(1, 2).upheld


def test_disputeExclusion_revertsWhen_notTheSlotsHospital(closed, aggregator, hospitals):
    excluded_round(closed, aggregator, slot=2)
    with ape.reverts(closed.RoundManagerNotSlotHospital, roundId=1, slot=2, caller=hospitals[0].address):
        closed.disputeExclusion(1, 2, sender=hospitals[0])


def test_disputeExclusion_revertsWhen_roundNotFinalized(closed, aggregator, hospitals):
    declare(closed, aggregator, 2)
    with ape.reverts(closed.RoundManagerWrongPhase, roundId=1, expected=Phase.FINALIZED, actual=Phase.OPEN):
        closed.disputeExclusion(1, 2, sender=hospitals[2])


def test_disputeExclusion_revertsWhen_notApplied_orUnavailable(closed, aggregator, hospitals, chain):
    declare(closed, aggregator, 1)  # declared, then included
    declared_at = declare(closed, aggregator, 2, UNAVAILABLE).timestamp
    chain.pending_timestamp = declared_at + HOUR + 1
    closed.finalizeRound(1, NEW_CID, 0b100, sender=aggregator)
    with ape.reverts(closed.RoundManagerNotDisputable, roundId=1, slot=1, reason=INVALID, applied=False):
        closed.disputeExclusion(1, 1, sender=hospitals[1])
    with ape.reverts(closed.RoundManagerNotDisputable, roundId=1, slot=2, reason=UNAVAILABLE, applied=True):
        closed.disputeExclusion(1, 2, sender=hospitals[2])  # it had its re-announce window
    with ape.reverts(closed.RoundManagerNotDisputable, roundId=1, slot=0, reason=ExclusionReason.NONE, applied=False):
        closed.disputeExclusion(1, 0, sender=hospitals[0])


def test_disputeExclusion_revertsWhen_alreadyDisputed(closed, aggregator, hospitals):
    excluded_round(closed, aggregator, slot=2)
    closed.disputeExclusion(1, 2, sender=hospitals[2])
    with ape.reverts(closed.RoundManagerAlreadyDisputed, roundId=1, slot=2):
        closed.disputeExclusion(1, 2, sender=hospitals[2])


def test_disputeExclusion_revertsWhen_windowClosed(closed, aggregator, hospitals, chain):
    excluded_round(closed, aggregator, slot=2)
    deadline = closed.disputeDeadline(1)
    chain.pending_timestamp = deadline + 1
    with ape.reverts(closed.RoundManagerWindowClosed, roundId=1, slot=2, windowEnd=deadline):
        closed.disputeExclusion(1, 2, sender=hospitals[2])


def test_supportDispute_revertsWhen_notAMember_notDisputed_orSupportedTwice(closed, aggregator, hospitals, outsider):
    excluded_round(closed, aggregator, slot=2)
    with ape.reverts(closed.RoundManagerNotDisputed, roundId=1, slot=2):
        closed.supportDispute(1, 2, sender=hospitals[0])
    closed.disputeExclusion(1, 2, sender=hospitals[2])
    with ape.reverts(closed.RoundManagerNotHospital, caller=outsider.address):
        closed.supportDispute(1, 2, sender=outsider)
    with ape.reverts(closed.RoundManagerAlreadySupported, roundId=1, slot=2, hospital=hospitals[2].address):
        closed.supportDispute(1, 2, sender=hospitals[2])  # the dispute is the hospital's own support
    closed.supportDispute(1, 2, sender=hospitals[0])
    with ape.reverts(closed.RoundManagerAlreadySupported, roundId=1, slot=2, hospital=hospitals[0].address):
        closed.supportDispute(1, 2, sender=hospitals[0])


# --- the median rule: the same declarations ------------------------------------------------------------


@pytest.fixture(scope="module")
def prove_median(suite, tmp_path_factory):
    """A real median proof of raw rows ``[x_0..x_4, m]``."""
    from zkfl_dapp.circuits.kzg_median import prove_inputs

    return lambda rows: prove_inputs(suite.median, rows, tmp_path_factory.mktemp("median"))


@needs_median
def test_finalizeMedianRound_needsADeclarationForAnExcludedSlot(
    admin, aggregator, hospitals, chain, scheme, genesis, commit_of, prove_median
):
    dep = deploy_contracts(
        ape.project,
        admin,
        scheme=scheme,
        genesis_commitment=(commit_of(genesis).as_uint256(),),
        genesis_cid=GENESIS_CID,
        circuit_cid=CIRCUIT_CID,
        with_median=True,
    )
    dep.registry.admitMember(aggregator, int(Role.AGGREGATOR), "enclave", sender=admin)
    rm = dep.round_manager
    for i, h in enumerate(hospitals[:MEDIAN_MEMBERS]):
        dep.registry.admitMember(h, int(Role.HOSPITAL), f"hospital-{i}", sender=admin)
    open_round(dep, admin, chain, quorum=2, rule=int(Rule.MEDIAN))
    updates = [padded_update(100 + i, genesis) for i in range(MEDIAN_MEMBERS)]
    for h, u in zip(hospitals, updates, strict=False):
        rm.submitUpdate(1, onchain(commit_of(u)), f"cid-{h.address[-4:]}", 10, NO_CLAIM, sender=h)
    proof = prove_median(_median_rows(updates, genesis, included=(0, 1)))  # slot 2 left out
    args = (1, proof.proof, list(proof.instances), NEW_CID, NEW_CID, 1 << 2)
    # the revert comes after the median verifier's call, whose frame ape then fails to decode the error with: the
    # revert data is compared byte for byte instead (selector and arguments)
    calldata = rm.finalizeMedianRound.encode_input(*args)
    with pytest.raises(ContractCustomError) as reverted:
        ape.chain.provider.web3.eth.call({"to": rm.address, "from": aggregator.address, "data": calldata})
    expected = keccak(text="RoundManagerExclusionNotDeclared(uint256,uint256)")[:4] + encode(
        ["uint256", "uint256"], [1, 2]
    )
    assert reverted.value.data == "0x" + expected.hex()
    rm.declareExclusion(1, 2, INVALID, EVIDENCE, EVIDENCE_CID, sender=aggregator)
    tx = rm.finalizeMedianRound(*args, sender=aggregator)
    assert [e.slot for e in tx.events.filter(rm.UpdateExcluded)] == [2] and rm.getExclusion(1, 2).applied
    assert rm.disputeDeadline(1) == tx.timestamp + DAY
