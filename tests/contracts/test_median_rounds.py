"""Defences of RoundManager's median rule: real median proofs over the hospitals' commitments, bound on-chain to
the slots and the previous model (tests/contracts/test_defence.py covers norm-bounded rounds).

Each attack below is a proof that is valid for *something*, submitted where it does not belong; each test
fails if the check that stops it is removed from RoundManager.
"""

from __future__ import annotations

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak
from web3.exceptions import ContractCustomError

from tests.conftest import CIRCUIT_CID, GENESIS_CID, SCALE_BITS, open_round, padded_update, points
from zkfl_dapp.chain.deployment import deploy_contracts
from zkfl_dapp.chain.enums import Role, Rule
from zkfl_dapp.chain.norm_claims import NO_CLAIM
from zkfl_dapp.chain.views import point_hash

NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"


# --- the median rule ------------------------------------------------------------------------------

needs_median = pytest.mark.skipif(
    not hasattr(ape.project, "KzgMedianVerifier"),
    reason="the median verifier (KzgMedianVerifier) is not installed: run `make circuits`",
)


@needs_median
def test_finalizeRound_revertsWhen_roundIsMedian(admin, aggregator, chain, scheme, genesis, commit_of):
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
    _, deadline, _ = open_round(dep, admin, chain, rule=int(Rule.MEDIAN))
    assert rm.getRound(1).rule == Rule.MEDIAN
    chain.pending_timestamp = deadline + 1
    with ape.reverts(rm.RoundManagerWrongRule, roundId=1, rule=Rule.MEDIAN):
        rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)


# --- median rounds with real median proofs ----------------------------------------------------------

MEDIAN_MEMBERS = 3  # hospitals 0..2 submit; slots 3 and 4 stay empty (they carry the previous aggregate)


@pytest.fixture(scope="module")
def median_prover(suite, tmp_path_factory):
    """``median_prover(rows)``: a real median proof of raw rows ``[x_0..x_4, m]``, cached per input."""
    from zkfl_dapp.circuits.kzg_median import prove_inputs as prove_median_inputs

    cache: dict[tuple, object] = {}

    def _prove(rows):
        key = tuple(tuple(r) for r in rows)
        if key not in cache:
            cache[key] = prove_median_inputs(suite.median, rows, tmp_path_factory.mktemp("median"))
        return cache[key]

    return _prove


def _median_round(admin, aggregator, auditor, hospitals, chain, scheme, genesis, commit_of):
    """A deployment with the median verifier, a median round where hospitals 0..2 submitted, past its deadline."""
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
    for i, h in enumerate(hospitals[:MEDIAN_MEMBERS]):
        dep.registry.admitMember(h, int(Role.HOSPITAL), f"hospital-{i}", sender=admin)
    _, deadline, _ = open_round(dep, admin, chain, rule=int(Rule.MEDIAN))
    updates = [padded_update(100 + i, genesis) for i in range(MEDIAN_MEMBERS)]
    for h, u in zip(hospitals, updates, strict=False):
        dep.round_manager.submitUpdate(1, points(commit_of(u)), f"cid-{h.address[-4:]}", 10, NO_CLAIM, sender=h)
    chain.pending_timestamp = deadline + 1
    return dep, updates


def _slots(updates, genesis, included=(0, 1, 2)):
    one = 1 << SCALE_BITS
    return [[one * v for v in updates[i]] if i in included else list(genesis) for i in range(5)]


def _median_rows(updates, genesis, included=(0, 1, 2)):
    from zkfl_dapp.core.median import median_quantized

    slots = _slots(updates, genesis, included)
    return [*slots, list(median_quantized(slots))]


@needs_median
def test_finalizeMedianRound_storesTheProvenMedian(
    admin, aggregator, auditor, hospitals, chain, scheme, genesis, commit_of, median_prover
):
    dep, updates = _median_round(admin, aggregator, auditor, hospitals, chain, scheme, genesis, commit_of)
    rows = _median_rows(updates, genesis)
    proof = median_prover(rows)
    assert proof.instances == (0,)
    tx = dep.round_manager.finalizeMedianRound(
        1, proof.proof, list(proof.instances), NEW_CID, NEW_CID, 0, sender=aggregator
    )
    info = dep.round_manager.getRound(1)
    assert bytes(info.newModelHash) == point_hash(commit_of(rows[5]).as_uint256())  # C(median), from the proof
    assert bytes(info.proofHash) == keccak(proof.proof)
    print(f"finalizeMedianRound gas: {tx.gas_used:,}")


@needs_median
def test_finalizeMedianRound_revertsWhen_slotIsNotTheCommittedUpdate(
    admin, aggregator, auditor, hospitals, chain, scheme, genesis, commit_of, median_prover
):
    dep, updates = _median_round(admin, aggregator, auditor, hospitals, chain, scheme, genesis, commit_of)
    forged = [updates[1], *updates[1:]]  # slot 0 carries hospital 1's update, not hospital 0's committed one
    proof = median_prover(_median_rows(forged, genesis))
    expected = point_hash(commit_of([(1 << SCALE_BITS) * v for v in updates[0]]).as_uint256())
    with ape.reverts(dep.round_manager.RoundManagerProofPointMismatch, roundId=1, point=0, expected=expected):
        dep.round_manager.finalizeMedianRound(
            1, proof.proof, list(proof.instances), NEW_CID, NEW_CID, 0, sender=aggregator
        )


@needs_median
def test_finalizeMedianRound_revertsWhen_excludedSlotIsNotThePreviousModel(
    admin, aggregator, auditor, hospitals, chain, scheme, genesis, commit_of, median_prover
):
    dep, updates = _median_round(admin, aggregator, auditor, hospitals, chain, scheme, genesis, commit_of)
    proof = median_prover(_median_rows(updates, genesis))  # slot 2 still carries its update
    prev = bytes(dep.round_manager.getRound(1).prevModelHash)
    with ape.reverts(dep.round_manager.RoundManagerProofPointMismatch, roundId=1, point=2, expected=prev):
        dep.round_manager.finalizeMedianRound(
            1, proof.proof, list(proof.instances), NEW_CID, NEW_CID, 1 << 2, sender=aggregator
        )


@needs_median
def test_finalizeMedianRound_revertsWhen_claimedMedianIsWrong(
    admin, aggregator, auditor, hospitals, chain, scheme, genesis, commit_of, median_prover
):
    """A wrong claimed median still proves, with a non-zero certificate: the contract requires z = 0."""
    dep, updates = _median_round(admin, aggregator, auditor, hospitals, chain, scheme, genesis, commit_of)
    rows = _median_rows(updates, genesis)
    rows[5] = [rows[5][0] + (1 << 20), *rows[5][1:]]
    proof = median_prover(rows)
    assert proof.instances != (0,)
    rm = dep.round_manager
    data = rm.finalizeMedianRound.encode_input(1, proof.proof, list(proof.instances), NEW_CID, NEW_CID, 0)
    # ape cannot decode this revert (eth_abi InvalidPointer), so the revert data is compared byte for byte
    expected = keccak(text="RoundManagerInstanceMismatch(uint256,uint256,uint256,uint256)")[:4] + encode(
        ["uint256"] * 4, [1, 0, 0, proof.instances[0]]
    )
    with pytest.raises(ContractCustomError) as raised:
        chain.provider.web3.eth.call({"to": rm.address, "from": aggregator.address, "data": data})
    assert bytes.fromhex(raised.value.data.removeprefix("0x")) == expected
    assert rm.getRound(1).phase == 1  # still open


@needs_median
def test_finalizeMedianRound_revertsWhen_proofTamperedOrInstancesWrong(
    admin, aggregator, auditor, hospitals, chain, scheme, genesis, commit_of, median_prover
):
    dep, updates = _median_round(admin, aggregator, auditor, hospitals, chain, scheme, genesis, commit_of)
    proof = median_prover(_median_rows(updates, genesis))
    rm = dep.round_manager
    tampered = bytearray(proof.proof)
    tampered[len(tampered) // 2] ^= 1  # past the committed points: the verifier rejects it
    with ape.reverts(rm.RoundManagerProofRejected, roundId=1):
        rm.finalizeMedianRound(1, bytes(tampered), list(proof.instances), NEW_CID, NEW_CID, 0, sender=aggregator)
    with ape.reverts(rm.RoundManagerWrongInstanceCount, expected=1, actual=2):
        rm.finalizeMedianRound(1, proof.proof, [0, 0], NEW_CID, NEW_CID, 0, sender=aggregator)
    with ape.reverts(rm.RoundManagerNotAggregator):
        rm.finalizeMedianRound(1, proof.proof, list(proof.instances), NEW_CID, NEW_CID, 0, sender=admin)
