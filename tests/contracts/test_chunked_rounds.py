"""Chunked commitments on RoundManager (issues 11, 22, 23): a model committed in n chunks, one real chunk norm
proof per chunk within its budget, in the one ``submitUpdate`` path: verified in the submitting transaction
(ezkl's reusable verifier + the KzgChunkNormVerifier wrapper) or, with a challenge window, posted as hashes and
challengeable; the per-chunk FedAvg aggregate derived by the contract.

The chunk circuit here is the SMALL one (16 values per chunk: d = 31 in 2 chunks, proofs in about a second);
the contract does not depend on the chunk size, so this is the same code path as the 28 chunks of 4,096
values of the ~114k-parameter model (``make demo-large``). Each attack is a proof that is valid for
something, submitted where it does not belong; each test asserts the typed revert that stops it, so it
fails if that check is removed from RoundManager.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import ape
import pytest
from eth_utils import keccak

from tests.conftest import MODEL_SIZE, ROOT, SCALE_BITS, deploy, open_round
from zkfl_dapp.chain.deployment import CommitmentScheme
from zkfl_dapp.chain.norm_claims import NO_CLAIM, norm_claim
from zkfl_dapp.chain.views import as_commitment, commitment_hash
from zkfl_dapp.circuits import chunk_prover
from zkfl_dapp.circuits import kzg_chunk_norm as kc
from zkfl_dapp.circuits.kzg import G1Point, combine, commit_vectors, hiding_pad
from zkfl_dapp.circuits.suite import CircuitSuite, ensure_circuit_suite
from zkfl_dapp.circuits.verifier_codegen import install_verifier
from zkfl_dapp.core.aggregation import aggregate, normalized_weights
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.core.norms import chunk_distances
from zkfl_dapp.protocol.hospital import opens

CHUNK = 16
UPDATE_CID = "bafkreiupdatecid"
NEW_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
#: ||2^13 u - S||^2 / 2^26 over the whole model stays below this for the honest updates below
BOUND = 100_000


@pytest.fixture(scope="module")
def chunked() -> CircuitSuite:
    s = ensure_circuit_suite(5, MODEL_SIZE, SCALE_BITS, ROOT / "build" / "circuits", chunk=CHUNK)
    assert s.chunked and s.chunks == 2
    install_verifier(s.norm, ROOT / "contracts")
    # `make circuits` installs only the default consortium's verifiers before ape loads the project: make ape
    # see (and compile) this new generated source now
    ape.project.sources.refresh()
    ape.project.load_contracts()
    return s


@pytest.fixture(scope="module")
def genesis_flat(chunked) -> tuple[int, ...]:
    rng = random.Random(0)
    q0 = tuple(rng.randint(-(2**12), 2**12) for _ in range(MODEL_SIZE))
    return ModelFile.genesis("logreg", 30, SCALE_BITS, q0, chunked.pad_rows, chunk=CHUNK).values


def update_of(chunked: CircuitSuite, prev: Sequence[int], seed: int, step: int = 50) -> tuple[int, ...]:
    """A padded flat update near round(prev / 2^13), with a fresh hiding pad per chunk."""
    rng = random.Random(seed)
    layout = chunked.layout
    model = [round(s / 2**SCALE_BITS) + rng.randint(-step, step) for s in layout.model_values(prev)]
    pads = [hiding_pad((), layout.pad_rows, rng, entry_bits=kc.PAD_ENTRY_BITS) for _ in range(layout.chunks)]
    return layout.assemble(model, pads)


@pytest.fixture(scope="module")
def prover(chunked, tmp_path_factory):
    """``prover(update, prev, address, bound)``: the update's chunk proofs within budgets of ``bound`` (cached)."""
    cache: dict[tuple, list[kc.KzgChunkProof]] = {}

    def _prove(update: Sequence[int], prev: Sequence[int], address: str, bound: int = BOUND) -> list[kc.KzgChunkProof]:
        key = (tuple(update), tuple(prev), address.lower(), bound)
        if key not in cache:
            layout = chunked.layout
            sums = chunk_distances(update, prev, SCALE_BITS, layout)
            cache[key] = chunk_prover.prove_chunks(
                chunked.norm,
                layout.vectors(update),
                layout.vectors(prev),
                kc.chunk_budgets(sums, bound),
                address,
                tmp_path_factory.mktemp("chunks"),
                workers=1,
            )
        return cache[key]

    return _prove


WINDOW = 3 * 3600
BUNDLE_CID = "bafkreibundlecidbundlecidbundlecidbundlecidbundlecidbundle"
#: IRoundManager.ProofFault
UPDATE_POINT, AGGREGATE_POINT, REJECTED = 1, 2, 3


@pytest.fixture(params=[0, WINDOW], ids=["eager", "optimistic"])
def window(request) -> int:
    return int(request.param)


@pytest.fixture
def dep(chunked, genesis_flat, admin, aggregator, auditor, hospitals, window):
    scheme = CommitmentScheme(
        slots=5,
        model_size=MODEL_SIZE,
        pad_rows=chunked.pad_rows,
        chunks=chunked.chunks,
        scale_bits=SCALE_BITS,
        zero_commitment=chunked.zero.as_uint256(),
        basis_digest=chunked.basis.digest(),
        challenge_window=window,
    )
    genesis_points = commit_vectors(genesis_flat, chunked.layout, chunked.basis)
    d = deploy(admin, aggregator, auditor, hospitals[:5], scheme, genesis_points)
    assert d.norm_contract == "KzgChunkNormVerifier"
    return d


@pytest.fixture
def bounded(dep, admin, chain):
    open_round(dep, admin, chain, quorum=2, bound=BOUND)
    return dep


def commitment_of(chunked, flat) -> list[G1Point]:
    return list(commit_vectors(flat, chunked.layout, chunked.basis))


def as_points(points: Sequence[G1Point]) -> list[list[int]]:
    return [list(p.as_uint256()) for p in points]


def submit(rm, round_id, chunked, update, proofs, sender, *, count=40, commitment=None, window=0):
    """``submitUpdate`` of ``update`` with the norm claim of ``proofs`` (inline, or hashes with a window)."""
    c = as_points(commitment_of(chunked, update)) if commitment is None else commitment
    return rm.submitUpdate(round_id, c, UPDATE_CID, count, norm_claim(proofs, window, BUNDLE_CID), sender=sender)


def settle(rm, round_id, window, proofs, sender, *, chunk=0, slot=0):
    """Eager: nothing to do (``submit`` verified). Optimistic: challenge ``chunk`` of ``slot`` (the typed
    outcome is the test's), i.e. the one check the eager path ran at submission."""
    budgets = [p.budget for p in proofs]
    hashes = [keccak(p.proof) for p in proofs]
    return rm.challengeChunk(round_id, slot, chunk, budgets, hashes, proofs[chunk].proof, sender=sender)


def refused(rm, window, round_id, hospital, chunk, fault):
    """The revert of a bad proof at submission (eager); with a window the submission is accepted and the same
    fault is what a challenge records (``challenge_faults``)."""
    if window == 0:
        return ape.reverts(
            rm.RoundManagerChunkProofRejected, roundId=round_id, hospital=hospital.address, chunk=chunk, fault=fault
        )
    return _Accepted()


class _Accepted:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def expect_fault(rm, window, round_id, proofs, challenger, hospital, *, chunk, fault, slot=0):
    """With a window: a challenge of ``chunk`` records ``fault`` against ``hospital`` (ChunkProofFaulted)."""
    if window == 0:
        return
    tx = settle(rm, round_id, window, proofs, challenger, chunk=chunk, slot=slot)
    (event,) = tx.events.filter(rm.ChunkProofFaulted)
    assert event.hospital == hospital.address and event.chunk == chunk and event.fault == fault
    assert (int(rm.faultedSlots(round_id)) >> slot) & 1 == 1


def test_chunked_round_endToEnd(
    bounded, chunked, genesis_flat, prover, hospitals, aggregator, auditor, admin, chain, window
):
    """Two hospitals submit their chunk proofs' claims; finalization derives each chunk's C(S_c); the model file
    opens it; the next round's chunk proofs must start from the new model's chunk points."""
    rm = bounded.round_manager
    updates, commitments, gas = [], [], []
    for i, h in enumerate(hospitals[:2]):
        u = update_of(chunked, genesis_flat, seed=i)
        c = commitment_of(chunked, u)
        proofs = prover(u, genesis_flat, h.address)
        assert sum(p.budget for p in proofs) == BOUND and all(p.flag for p in proofs)
        tx = submit(rm, 1, chunked, u, proofs, h, count=40 + i, window=window)
        gas.append(tx.gas_used)
        claims = list(tx.events.filter(rm.NormClaimed))  # optimistic only: inline proofs are in the calldata
        assert [list(c.budgets) for c in claims] == ([[p.budget for p in proofs]] if window else [])
        updates.append(u)
        commitments.append(c)
    print(f"\nsubmitUpdate ({chunked.chunks} chunks of {CHUNK}, window {window}): {gas} gas")
    assert sum(chunk_distances(updates[0], genesis_flat, SCALE_BITS, chunked.layout)) <= BOUND
    if window:
        with ape.reverts(rm.RoundManagerChallengeFailed, roundId=1, slot=0, chunk=1):
            settle(rm, 1, window, prover(updates[0], genesis_flat, hospitals[0].address), auditor, chunk=1)
    chain.mine(timestamp=max(int(rm.getRound(1).deadline), int(rm.challengeEnd(1))) + 1)
    tx = rm.finalizeRound(1, NEW_CID, 0, sender=aggregator)
    weights = [int(w) for w in rm.expectedWeights(1, 0)][:2]
    assert weights == list(normalized_weights([40, 41], SCALE_BITS))
    expected = [combine([c[k] for c in commitments], weights, chunked.zero) for k in range(2)]
    finalized = as_commitment(tx.events[-1].newModelCommitment)
    assert finalized == tuple(p.as_uint256() for p in expected)
    assert bytes(rm.modelOf(1)) == commitment_hash(finalized)
    model = aggregate(updates, weights)
    assert opens(model, finalized, chunked.basis, chunked.layout)
    assert not opens(model, finalized[::-1], chunked.basis, chunked.layout)

    # round 2 starts from the new model: chunk proofs against the genesis chunks no longer match
    open_round(bounded, admin, chain, quorum=2, bound=BOUND)
    h = hospitals[0]
    u2 = update_of(chunked, genesis_flat, seed=9)
    stale = prover(u2, genesis_flat, h.address)
    with refused(rm, window, 2, h, 0, AGGREGATE_POINT):
        submit(rm, 2, chunked, u2, stale, h, window=window)
    expect_fault(rm, window, 2, stale, auditor, h, chunk=0, fault=AGGREGATE_POINT)
    u3 = update_of(chunked, model, seed=9)
    submit(rm, 2, chunked, u3, prover(u3, model, hospitals[1].address), hospitals[1], window=window)


def test_submitUpdate_proofsBoundToAnotherChunk_areRefused(
    bounded, chunked, genesis_flat, prover, hospitals, auditor, window
):
    """A valid proof of chunk 1 sent as chunk 0's (and the other way round): its first point is not chunk 0's."""
    rm = bounded.round_manager
    h = hospitals[0]
    u = update_of(chunked, genesis_flat, 1)
    proofs = prover(u, genesis_flat, h.address)
    swapped = [replace(proofs[1], instances=proofs[0].instances), replace(proofs[0], instances=proofs[1].instances)]
    with refused(rm, window, 1, h, 0, UPDATE_POINT):
        submit(rm, 1, chunked, u, swapped, h, window=window)
    expect_fault(rm, window, 1, swapped, auditor, h, chunk=0, fault=UPDATE_POINT)


def test_submitUpdate_proofWithAnotherChunkIndex_isRefused(
    bounded, chunked, genesis_flat, hospitals, auditor, tmp_path, window
):
    """The right points, budget and sender, but the circuit's chunk index says 1: the contract's instances say 0."""
    rm = bounded.round_manager
    h = hospitals[0]
    u = update_of(chunked, genesis_flat, 1)
    layout = chunked.layout
    x = [2**SCALE_BITS * v for v in layout.vectors(u)[0]]
    rows = [x, list(layout.vectors(genesis_flat)[0]), [BOUND // 2, 1, 2, *kc.address_limbs(h.address)]]
    wrong = kc.prove_inputs(chunked.norm, rows, tmp_path / "c1")
    sums = chunk_distances(u, genesis_flat, SCALE_BITS, layout)
    rows1 = [[2**SCALE_BITS * v for v in layout.vectors(u)[1]], list(layout.vectors(genesis_flat)[1]),
             [BOUND // 2, 1, 2, *kc.address_limbs(h.address)]]  # fmt: skip
    assert sums[0] <= BOUND // 2 and sums[1] <= BOUND // 2
    right1 = kc.prove_inputs(chunked.norm, rows1, tmp_path / "c1b")
    with refused(rm, window, 1, h, 0, REJECTED):
        submit(rm, 1, chunked, u, [wrong, right1], h, window=window)
    expect_fault(rm, window, 1, [wrong, right1], auditor, h, chunk=0, fault=REJECTED)


def test_submitUpdate_anotherHospitalsProofs_areRefused(
    bounded, chunked, genesis_flat, prover, hospitals, auditor, window
):
    rm = bounded.round_manager
    u = update_of(chunked, genesis_flat, 1)
    proofs = prover(u, genesis_flat, hospitals[0].address)  # limbs name hospitals[0]
    with refused(rm, window, 1, hospitals[1], 0, REJECTED):
        submit(rm, 1, chunked, u, proofs, hospitals[1], window=window)
    expect_fault(rm, window, 1, proofs, auditor, hospitals[1], chunk=0, fault=REJECTED)


def test_submitUpdate_budgetLowered_isRefused(bounded, chunked, genesis_flat, prover, hospitals, auditor, window):
    """A budget lowered by one: the proof was made for the other budget (an instance the contract builds)."""
    rm = bounded.round_manager
    h = hospitals[0]
    u = update_of(chunked, genesis_flat, 1)
    proofs = prover(u, genesis_flat, h.address)
    lowered = [replace(proofs[0], instances=(proofs[0].instances[0], proofs[0].budget - 1, *proofs[0].instances[2:])),
               proofs[1]]  # fmt: skip
    with refused(rm, window, 1, h, 0, REJECTED):
        submit(rm, 1, chunked, u, lowered, h, window=window)
    expect_fault(rm, window, 1, lowered, auditor, h, chunk=0, fault=REJECTED)


def test_submitUpdate_revertsWhen_budgetsExceedTheBound(
    dep, chunked, genesis_flat, prover, hospitals, admin, chain, window
):
    """Every chunk within its budget, the budgets' sum beyond the round's bound: the contract adds them up."""
    h = hospitals[0]
    u = update_of(chunked, genesis_flat, 1)
    proofs = prover(u, genesis_flat, h.address)  # budgets summing to BOUND
    open_round(dep, admin, chain, quorum=2, bound=BOUND - 1)
    rm = dep.round_manager
    with ape.reverts(rm.RoundManagerNormBoundExceeded, roundId=1, hospital=h.address, normBoundSq=BOUND - 1):
        submit(rm, 1, chunked, u, proofs, h, window=window)


def test_submitUpdate_revertsWhen_budgetOutOfRange(bounded, chunked, genesis_flat, prover, hospitals, window):
    rm = bounded.round_manager
    h = hospitals[0]
    u = update_of(chunked, genesis_flat, 1)
    proofs = prover(u, genesis_flat, h.address)
    negative = replace(
        proofs[0], instances=(proofs[0].instances[0], int(rm.FIELD_MODULUS()) - 1, *proofs[0].instances[2:])
    )
    with ape.reverts(rm.RoundManagerInvalidNormClaim, roundId=1):
        submit(rm, 1, chunked, u, [negative, proofs[1]], h, window=window)


def test_submitUpdate_revertsWhen_chunkListReordered(
    bounded, chunked, genesis_flat, prover, hospitals, auditor, window
):
    rm = bounded.round_manager
    h = hospitals[0]
    u = update_of(chunked, genesis_flat, 1)
    proofs = prover(u, genesis_flat, h.address)
    c = commitment_of(chunked, u)
    with refused(rm, window, 1, h, 0, UPDATE_POINT):
        submit(rm, 1, chunked, u, proofs, h, commitment=as_points(c[::-1]), window=window)
    expect_fault(rm, window, 1, proofs, auditor, h, chunk=0, fault=UPDATE_POINT)


def test_submitUpdate_revertsWhen_chunkCountWrong(bounded, chunked, genesis_flat, prover, hospitals, window):
    rm = bounded.round_manager
    h = hospitals[0]
    u = update_of(chunked, genesis_flat, 1)
    proofs = prover(u, genesis_flat, h.address)
    c = commitment_of(chunked, u)
    with ape.reverts(rm.RoundManagerWrongChunkCount, expected=2, actual=1):
        submit(rm, 1, chunked, u, proofs, h, commitment=as_points(c[:1]), window=window)
    with ape.reverts(rm.RoundManagerInvalidNormClaim, roundId=1):
        submit(rm, 1, chunked, u, proofs[:1], h, window=window)


def test_submitUpdate_revertsWhen_unboundedRoundGetsAClaim_or_nonMember(
    dep, chunked, genesis_flat, prover, hospitals, outsider, admin, chain, window
):
    rm = dep.round_manager
    u = update_of(chunked, genesis_flat, 1)
    proofs = prover(u, genesis_flat, hospitals[0].address)
    open_round(dep, admin, chain, quorum=2)
    with ape.reverts(rm.RoundManagerInvalidNormClaim, roundId=1):
        submit(rm, 1, chunked, u, proofs, hospitals[0], window=window)
    with ape.reverts(rm.RoundManagerNotHospital, caller=outsider.address):
        rm.submitUpdate(1, as_points(commitment_of(chunked, u)), UPDATE_CID, 40, NO_CLAIM, sender=outsider)
    rm.submitUpdate(1, as_points(commitment_of(chunked, u)), UPDATE_CID, 40, NO_CLAIM, sender=hospitals[0])
