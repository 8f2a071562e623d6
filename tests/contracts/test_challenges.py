"""Optimistic norm verification (RoundManager with a challenge window): a submission posts its chunk proofs'
hashes and the proof bundle's CID, nothing is verified at submission, and any member can challenge one chunk
proof within the window: the contract runs the same check as an eager submission (points, instances it
builds, the real verifier) and excludes the submission if it fails; a good proof makes the challenge revert.
The round cannot be finalized before the window closes, nor with a faulted slot included.
Each test fails if the check it names is removed from RoundManager.
"""

from __future__ import annotations

from dataclasses import replace

import ape
import pytest
from eth_utils import keccak

from tests.conftest import deploy, open_round, padded_update, points
from zkfl_dapp.chain.enums import ExclusionReason
from zkfl_dapp.chain.norm_claims import norm_claim

BOUND = 100_000
WINDOW = 3 * 3600
BUNDLE_CID = "bafkreibundlecidbundlecidbundlecidbundlecidbundlecidbundle"
NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
#: IRoundManager.ProofFault
UPDATE_POINT, REJECTED = 1, 3


@pytest.fixture
def optimistic(suite, scheme, genesis, commit_of, admin, aggregator, hospitals, auditor, chain):
    """A d = 31 consortium with a 3-hour challenge window, round 1 open with the norm bound."""
    dep = deploy(
        admin, aggregator, auditor, hospitals[:5], replace(scheme, challenge_window=WINDOW), commit_of(genesis)
    )
    open_round(dep, admin, chain, bound=BOUND)
    return dep


def _tampered(proof):
    data = bytearray(proof.proof)
    data[1000] ^= 0x01
    return replace(proof, proof=bytes(data))


def submit(dep, hospital, u, proof, commit_of):
    claim = norm_claim([proof], WINDOW, BUNDLE_CID)
    return dep.round_manager.submitUpdate(1, points(commit_of(u)), f"cid-{hospital.address[-4:]}", 50, claim,
                                          sender=hospital)  # fmt: skip


@pytest.fixture
def submitted(optimistic, hospitals, genesis, commit_of, norm_proof):
    """Hospitals 0..3 submitted optimistically; hospital 1 posted the hash of a tampered proof. Returns
    ``(deployment, proofs as posted)``."""
    posted = []
    for i, h in enumerate(hospitals[:4]):
        u = padded_update(100 + i, genesis)
        proof = norm_proof(u, genesis, BOUND, h.address)
        proof = _tampered(proof) if i == 1 else proof
        submit(optimistic, h, u, proof, commit_of)
        posted.append(proof)
    return optimistic, posted


def challenge(rm, slot, proof, sender, **kw):
    return rm.challengeChunk(1, slot, 0, [proof.budget], [keccak(proof.proof)], proof.proof, sender=sender, **kw)


def test_submitUpdate_optimistic_postsHashesAndCid_andVerifiesNothing(
    optimistic, hospitals, genesis, commit_of, norm_proof, chain
):
    rm = optimistic.round_manager
    h = hospitals[0]
    u = padded_update(100, genesis)
    proof = _tampered(norm_proof(u, genesis, BOUND, h.address))  # not verified at submission: accepted
    tx = submit(optimistic, h, u, proof, commit_of)
    (event,) = tx.events.filter(rm.NormClaimed)
    assert event.proofCid == BUNDLE_CID and list(event.budgets) == [BOUND]
    assert [bytes(x) for x in event.proofHashes] == [keccak(proof.proof)]
    assert rm.challengeEnd(1) == chain.blocks.head.timestamp + WINDOW
    print(f"\nsubmitUpdate (d = 31, optimistic): {tx.gas_used} gas")


def test_submitUpdate_optimistic_revertsWhen_claimCarriesProofsOrNoCid(
    optimistic, hospitals, genesis, commit_of, norm_proof
):
    rm = optimistic.round_manager
    h = hospitals[0]
    u = padded_update(100, genesis)
    proof = norm_proof(u, genesis, BOUND, h.address)
    for claim in ([[BOUND], [proof.proof], [], ""], [[BOUND], [], [keccak(proof.proof)], ""]):
        with ape.reverts(rm.RoundManagerInvalidNormClaim, roundId=1):
            rm.submitUpdate(1, points(commit_of(u)), "cid", 50, claim, sender=h)


def test_challengeChunk_ofABadProof_excludesTheSubmission_andNamesTheHospital(
    submitted, hospitals, auditor, aggregator, chain
):
    dep, posted = submitted
    rm = dep.round_manager
    tx = challenge(rm, 1, posted[1], auditor)
    (event,) = tx.events.filter(rm.ChunkProofFaulted)
    assert event.hospital == hospitals[1].address and event.slot == 1 and event.chunk == 0
    assert event.fault == REJECTED and event.challenger == auditor.address
    assert rm.faultedSlots(1) == 0b10
    exclusion = rm.getExclusion(1, 1)
    assert exclusion.reason == ExclusionReason.INVALID_PROOF and exclusion.aggregator == auditor.address
    print(f"\nchallengeChunk (d = 31, a bad proof): {tx.gas_used} gas")
    with ape.reverts(rm.RoundManagerExclusionAlreadyDeclared, roundId=1, slot=1):
        challenge(rm, 1, posted[1], hospitals[0])
    chain.pending_timestamp = rm.challengeEnd(1) + 1
    with ape.reverts(rm.RoundManagerInvalidExclusion, roundId=1, excludedMask=0):
        rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)  # the faulted slot must be left out
    tx = rm.finalizeRound(1, NEW_CID, 0b10, sender=aggregator)
    (excluded,) = tx.events.filter(rm.UpdateExcluded)
    assert excluded.hospital == hospitals[1].address
    with ape.reverts(rm.RoundManagerNotDisputable, roundId=1, slot=1):
        rm.disputeExclusion(1, 1, sender=hospitals[1])  # the proof is on chain: nothing to dispute


def test_challengeChunk_ofAProofForAnotherCommitment_excludes(
    optimistic, hospitals, genesis, commit_of, norm_proof, aggregator
):
    """A hospital that posts the hash of a genuine proof of another update is caught by the point check."""
    rm = optimistic.round_manager
    h = hospitals[0]
    u, other = padded_update(100, genesis), padded_update(101, genesis)
    proof = norm_proof(other, genesis, BOUND, h.address)
    submit(optimistic, h, u, proof, commit_of)
    tx = challenge(rm, 0, proof, aggregator)
    (event,) = tx.events.filter(rm.ChunkProofFaulted)
    assert event.fault == UPDATE_POINT and rm.faultedSlots(1) == 1


def test_challengeChunk_ofAGoodProof_isRejected(submitted, hospitals, auditor):
    dep, posted = submitted
    rm = dep.round_manager
    with ape.reverts(rm.RoundManagerChallengeFailed, roundId=1, slot=0, chunk=0):
        challenge(rm, 0, posted[0], auditor)
    assert rm.faultedSlots(1) == 0 and rm.getExclusion(1, 0).reason == ExclusionReason.NONE


def test_challengeChunk_withTooLittleGas_doesNotExcludeAnHonestHospital(submitted, auditor):
    """A verifier call that runs out of gas is not a rejection: the challenge reverts (VerifierCalls)."""
    dep, posted = submitted
    rm = dep.round_manager
    with ape.reverts(rm.RoundManagerVerifierOutOfGas):
        challenge(rm, 0, posted[0], auditor, gas_limit=250_000)
    assert rm.faultedSlots(1) == 0


def test_challengeChunk_revertsWhen_dataIsNotWhatWasPosted(submitted, auditor):
    dep, posted = submitted
    rm = dep.round_manager
    good, bad = posted[0], posted[1]
    with ape.reverts(rm.RoundManagerClaimMismatch, roundId=1, slot=1, chunk=0):  # another slot's claim
        challenge(rm, 1, good, auditor)
    with ape.reverts(rm.RoundManagerClaimMismatch, roundId=1, slot=1, chunk=0):  # bytes other than the hash's
        rm.challengeChunk(1, 1, 0, [bad.budget], [keccak(bad.proof)], good.proof, sender=auditor)
    with ape.reverts(rm.RoundManagerClaimMismatch, roundId=1, slot=1, chunk=0):  # another budget
        rm.challengeChunk(1, 1, 0, [bad.budget - 1], [keccak(bad.proof)], bad.proof, sender=auditor)
    with ape.reverts(rm.RoundManagerClaimMismatch, roundId=1, slot=1, chunk=1):  # no such chunk
        rm.challengeChunk(1, 1, 1, [bad.budget], [keccak(bad.proof)], bad.proof, sender=auditor)
    with ape.reverts(rm.RoundManagerClaimMismatch, roundId=1, slot=4, chunk=0):  # no such slot
        challenge(rm, 4, bad, auditor)


def test_challengeChunk_revertsWhen_notAMember(submitted, outsider):
    dep, posted = submitted
    with ape.reverts(dep.round_manager.RoundManagerNotMember, caller=outsider.address):
        challenge(dep.round_manager, 1, posted[1], outsider)


def test_challengeChunk_revertsWhen_windowClosed(submitted, auditor, chain):
    dep, posted = submitted
    rm = dep.round_manager
    end = rm.challengeEnd(1)
    chain.pending_timestamp = end + 1
    with ape.reverts(rm.RoundManagerWindowClosed, roundId=1, slot=1, windowEnd=end):
        challenge(rm, 1, posted[1], auditor)


def test_finalizeRound_revertsWhile_theChallengeWindowIsOpen(submitted, aggregator, chain):
    dep, _ = submitted
    rm = dep.round_manager
    end = rm.challengeEnd(1)
    chain.pending_timestamp = int(rm.getRound(1).deadline) + 1  # submissions closed, window still open
    with ape.reverts(rm.RoundManagerChallengeWindowOpen, roundId=1, windowEnd=end):
        rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    chain.pending_timestamp = end + 1
    rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)  # nobody challenged: every slot included


@pytest.mark.parametrize("window", [1, 2 * 3600 - 1, 12 * 3600 + 1])
def test_constructor_revertsWhen_challengeWindowOutOfRange(
    scheme, genesis, commit_of, admin, aggregator, auditor, hospitals, window
):
    with pytest.raises(ape.exceptions.ContractLogicError):
        deploy(admin, aggregator, auditor, hospitals[:1], replace(scheme, challenge_window=window), commit_of(genesis))


# --- the members' side: off-chain checks of the proof bundles, and challenges (protocol.challenges) ----------


def test_checkClaims_findsTheFalseProofInABundle_andItsChallengeExcludes(
    optimistic, suite, hospitals, genesis, commit_of, norm_proof, aggregator, tmp_path
):
    """Two hospitals store their proof bundles and submit through HospitalClient's path; one bundle holds a
    tampered proof (its posted hash is of the tampered bytes). The off-chain check names exactly that proof, and
    its challenge excludes the submission; the honest one is left alone."""
    from zkfl_dapp.chain.norm_claims import proof_bundle
    from zkfl_dapp.protocol.challenges import challenge, check_claims
    from zkfl_dapp.storage.embedded import EmbeddedStore

    rm = optimistic.round_manager
    store = EmbeddedStore(tmp_path / "store")
    for i, h in enumerate(hospitals[:2]):
        u = padded_update(100 + i, genesis)
        proof = norm_proof(u, genesis, BOUND, h.address)
        proof = _tampered(proof) if i == 1 else proof
        cid = str(store.put(proof_bundle([proof])))
        claim = norm_claim([proof], WINDOW, cid)
        rm.submitUpdate(1, points(commit_of(u)), f"cid-{i}", 50, claim, sender=h)
    checks = check_claims(rm, 1, store, suite, tmp_path / "work")
    assert [(c.slot, c.chunks_checked, len(c.false)) for c in checks] == [(0, 1, 0), (1, 1, 1)]
    (false,) = checks[1].false
    assert false.hospital == hospitals[1].address and "ezkl rejects" in false.reason
    challenge(rm, aggregator, 1, false)
    assert rm.faultedSlots(1) == 0b10


def test_checkClaims_reportsAnUnavailableBundle(optimistic, suite, hospitals, genesis, commit_of, norm_proof, tmp_path):
    from zkfl_dapp.protocol.challenges import check_claims
    from zkfl_dapp.storage.embedded import EmbeddedStore

    rm = optimistic.round_manager
    h = hospitals[0]
    u = padded_update(100, genesis)
    submit(optimistic, h, u, norm_proof(u, genesis, BOUND, h.address), commit_of)  # BUNDLE_CID: never stored
    (check,) = check_claims(rm, 1, EmbeddedStore(tmp_path / "store"), suite, tmp_path / "work")
    assert check.unavailable and check.chunks_checked == 0


def test_hospitalAgent_challengesAFalseProof_afterTheDeadline_whenTheAggregatorDoesNot(
    optimistic, suite, hospitals, genesis, commit_of, norm_proof, chain, tmp_path
):
    """A hospital agent that did not submit checks the others' claims once the deadline has passed and
    challenges the false one itself: a false proof is excluded even when the aggregator lets it through."""
    from types import SimpleNamespace

    from zkfl_dapp.apps.journal import Journal
    from zkfl_dapp.apps.parties.hospital_agent import HospitalAgent
    from zkfl_dapp.chain.norm_claims import proof_bundle
    from zkfl_dapp.storage.embedded import EmbeddedStore

    rm = optimistic.round_manager
    store = EmbeddedStore(tmp_path / "store")
    for i, h in enumerate(hospitals[:2]):
        u = padded_update(100 + i, genesis)
        proof = norm_proof(u, genesis, BOUND, h.address)
        proof = _tampered(proof) if i == 1 else proof
        claim = norm_claim([proof], WINDOW, str(store.put(proof_bundle([proof]))))
        rm.submitUpdate(1, points(commit_of(u)), f"cid-{i}", 50, claim, sender=h)
    client = SimpleNamespace(account=hospitals[2], storage=store, circuits=suite, workdir=tmp_path, name="hospital-2")
    agent = HospitalAgent(client, optimistic, chain, Journal(tmp_path / "h2.jsonl"))  # type: ignore[arg-type]
    agent._check_claims(1)
    assert rm.faultedSlots(1) == 0  # before the deadline: the round is still open for submissions
    chain.pending_timestamp = int(rm.getRound(1).deadline) + 1
    chain.mine()
    agent._check_claims(1)
    assert rm.faultedSlots(1) == 0b10
    assert rm.getRound(1).phase is not None and agent._claims_checked == {1}
