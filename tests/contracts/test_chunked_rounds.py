"""Chunked commitments on RoundManager (issue 11): a model committed in n chunks, one real chunk norm proof
per chunk verified on-chain (ezkl's reusable verifier + the KzgChunkNormVerifier wrapper), the per-chunk
FedAvg aggregate derived by the contract.

The chunk circuit here is the SMALL one (16 values per chunk: d = 31 in 2 chunks, proofs in about a second);
the contract does not depend on the chunk size, so this is the same code path as the 28 chunks of 4,096
values of the ~114k-parameter model (``make demo-large``). Each attack is a proof that is valid for
something, submitted where it does not belong; each test asserts the typed revert that stops it, so it
fails if that check is removed from RoundManager.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import ape
import pytest

from tests.conftest import MODEL_SIZE, ROOT, SCALE_BITS, deploy, open_round
from zkfl_dapp.chain.deployment import CommitmentScheme
from zkfl_dapp.chain.views import as_commitment, commitment_hash, point_hash
from zkfl_dapp.circuits import kzg_chunk_norm as kc
from zkfl_dapp.circuits import chunk_prover
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
    """``prover(update, prev, address)``: the update's chunk proofs (cached)."""
    cache: dict[tuple, list[kc.KzgChunkProof]] = {}

    def _prove(update: Sequence[int], prev: Sequence[int], address: str) -> list[kc.KzgChunkProof]:
        key = (tuple(update), tuple(prev), address.lower())
        if key not in cache:
            layout = chunked.layout
            cache[key] = chunk_prover.prove_chunks(
                chunked.chunk_norm,
                layout.vectors(update),
                layout.vectors(prev),
                address,
                tmp_path_factory.mktemp("chunks"),
                workers=1,
            )
        return cache[key]

    return _prove


@pytest.fixture
def dep(chunked, genesis_flat, admin, aggregator, auditor, hospitals):
    scheme = CommitmentScheme(
        slots=5,
        model_size=MODEL_SIZE,
        pad_rows=chunked.pad_rows,
        chunks=chunked.chunks,
        scale_bits=SCALE_BITS,
        zero_commitment=chunked.zero.as_uint256(),
        basis_digest=chunked.basis.digest(),
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


def send_proof(rm, round_id: int, chunk: int, proof: kc.KzgChunkProof, sender, *, instances=None):
    return rm.submitChunkProof(
        round_id, chunk, proof.proof, list(proof.instances if instances is None else instances), sender=sender
    )


def test_chunked_round_endToEnd(bounded, chunked, genesis_flat, prover, hospitals, aggregator, admin, chain):
    """Two hospitals prove every chunk on-chain and submit; finalization derives each chunk's C(S_c); the
    model file opens it; the next round's chunk proofs must start from the new model's chunk points."""
    rm = bounded.round_manager
    updates, commitments = [], []
    for i, h in enumerate(hospitals[:2]):
        u = update_of(chunked, genesis_flat, seed=i)
        c = commitment_of(chunked, u)
        proofs = prover(u, genesis_flat, h.address)
        # out of order on purpose: each proof names its chunk
        for k in reversed(range(len(proofs))):
            tx = send_proof(rm, 1, k, proofs[k], h)
            assert tx.events[0].chunk == k and tx.events[0].sumOfSquares == proofs[k].sum_of_squares
        recorded, ss = rm.chunkProof(1, h.address, 1)
        assert bytes(recorded) == point_hash(proofs[1].commitments[0].as_uint256()) and ss == proofs[1].sum_of_squares
        rm.submitUpdate(1, as_points(c), UPDATE_CID, 40 + i, sender=h)
        updates.append(u)
        commitments.append(c)
    assert sum(chunk_distances(updates[0], genesis_flat, SCALE_BITS, chunked.layout)) <= BOUND
    chain.mine(timestamp=int(rm.getRound(1).deadline) + 1)
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

    # round 2 starts from the new model: a chunk proof against the genesis chunk no longer matches
    open_round(bounded, admin, chain, quorum=2, bound=BOUND)
    u2 = update_of(chunked, genesis_flat, seed=9)
    stale = prover(u2, genesis_flat, hospitals[0].address)
    with ape.reverts(rm.RoundManagerProofPointMismatch):
        send_proof(rm, 2, 0, stale[0], hospitals[0])
    fresh = prover(update_of(chunked, model, seed=9), model, hospitals[0].address)
    send_proof(rm, 2, 0, fresh[0], hospitals[0])


def test_submitChunkProof_revertsWhen_proofIsForAnotherChunk(bounded, chunked, genesis_flat, prover, hospitals):
    rm = bounded.round_manager
    h = hospitals[0]
    proofs = prover(update_of(chunked, genesis_flat, 1), genesis_flat, h.address)
    with ape.reverts(rm.RoundManagerNormProofMismatch, roundId=1, index=1, expected=0, actual=1):
        send_proof(rm, 1, 0, proofs[1], h)


def test_submitChunkProof_revertsWhen_proofIsAnotherHospitals(bounded, chunked, genesis_flat, prover, hospitals):
    rm = bounded.round_manager
    proofs = prover(update_of(chunked, genesis_flat, 1), genesis_flat, hospitals[0].address)
    with ape.reverts(rm.RoundManagerNormProofMismatch):
        send_proof(rm, 1, 0, proofs[0], hospitals[1])  # limbs name hospitals[0]


def test_submitChunkProof_revertsWhen_sumOfSquaresUnderstated(bounded, chunked, genesis_flat, prover, hospitals):
    """A proof's public ss_c lowered by one: the verifier rejects it (the instance is bound by the proof)."""
    rm = bounded.round_manager
    h = hospitals[0]
    proof = prover(update_of(chunked, genesis_flat, 1), genesis_flat, h.address)[0]
    assert proof.sum_of_squares > 0
    understated = [proof.sum_of_squares - 1, *proof.instances[1:]]
    with ape.reverts(rm.RoundManagerNormProofRejected, roundId=1, hospital=h.address):
        send_proof(rm, 1, 0, proof, h, instances=understated)


def test_submitChunkProof_revertsWhen_sumOfSquaresOutOfRange(bounded, chunked, genesis_flat, prover, hospitals):
    rm = bounded.round_manager
    h = hospitals[0]
    proof = prover(update_of(chunked, genesis_flat, 1), genesis_flat, h.address)[0]
    negative = [int(rm.FIELD_MODULUS()) - 1, *proof.instances[1:]]
    with ape.reverts(rm.RoundManagerChunkSumOutOfRange, roundId=1, chunk=0):
        send_proof(rm, 1, 0, proof, h, instances=negative)


def test_submitChunkProof_revertsWhen_chunkIndexOutOfRange_or_wrongInstanceCount(
    bounded, chunked, genesis_flat, prover, hospitals
):
    rm = bounded.round_manager
    h = hospitals[0]
    proof = prover(update_of(chunked, genesis_flat, 1), genesis_flat, h.address)[0]
    with ape.reverts(rm.RoundManagerChunkIndexOutOfRange, chunk=2, chunks=2):
        send_proof(rm, 1, 2, proof, h)
    with ape.reverts(rm.RoundManagerWrongInstanceCount, expected=8, actual=7):
        send_proof(rm, 1, 0, proof, h, instances=proof.instances[:-1])


def test_submitChunkProof_revertsWhen_notAgainstThePreviousModel(bounded, chunked, genesis_flat, prover, hospitals):
    """A proof whose S_c is not the previous model's chunk (here: chunk 1's value vector) is refused."""
    rm = bounded.round_manager
    h = hospitals[0]
    other_prev = update_of(chunked, genesis_flat, 5, step=0)  # any other aggregate
    other = tuple(2**SCALE_BITS * v for v in other_prev)
    proofs = prover(update_of(chunked, other, 1), other, h.address)
    with ape.reverts(rm.RoundManagerProofPointMismatch):
        send_proof(rm, 1, 0, proofs[0], h)


def test_submitUpdate_revertsWhen_aChunkProofIsMissing(bounded, chunked, genesis_flat, prover, hospitals):
    rm = bounded.round_manager
    h = hospitals[0]
    u = update_of(chunked, genesis_flat, 1)
    send_proof(rm, 1, 0, prover(u, genesis_flat, h.address)[0], h)
    with ape.reverts(rm.RoundManagerChunkProofMissing, roundId=1, hospital=h.address, chunk=1):
        rm.submitUpdate(1, as_points(commitment_of(chunked, u)), UPDATE_CID, 40, sender=h)


def test_submitUpdate_revertsWhen_chunkListReordered(bounded, chunked, genesis_flat, prover, hospitals):
    rm = bounded.round_manager
    h = hospitals[0]
    u = update_of(chunked, genesis_flat, 1)
    for k, proof in enumerate(prover(u, genesis_flat, h.address)):
        send_proof(rm, 1, k, proof, h)
    c = commitment_of(chunked, u)
    with ape.reverts(rm.RoundManagerProofPointMismatch):
        rm.submitUpdate(1, as_points(c[::-1]), UPDATE_CID, 40, sender=h)
    rm.submitUpdate(1, as_points(c), UPDATE_CID, 40, sender=h)  # the right order goes through


def test_submitUpdate_revertsWhen_chunkSumsExceedTheBound(dep, chunked, genesis_flat, prover, hospitals, admin, chain):
    """Every chunk alone within the bound, their sum beyond it: the contract adds them up."""
    h = hospitals[0]
    u = update_of(chunked, genesis_flat, 1)
    proofs = prover(u, genesis_flat, h.address)
    parts = [p.sum_of_squares for p in proofs]
    bound = max(parts)
    assert sum(parts) > bound
    open_round(dep, admin, chain, quorum=2, bound=bound)
    rm = dep.round_manager
    for k, proof in enumerate(proofs):
        send_proof(rm, 1, k, proof, h)
    with ape.reverts(rm.RoundManagerNormBoundExceeded, roundId=1, hospital=h.address, normBoundSq=bound):
        rm.submitUpdate(1, as_points(commitment_of(chunked, u)), UPDATE_CID, 40, sender=h)


def test_submitUpdate_revertsWhen_chunkCountWrong_or_pointRepeated(bounded, chunked, genesis_flat, hospitals):
    rm = bounded.round_manager
    h = hospitals[0]
    c = commitment_of(chunked, update_of(chunked, genesis_flat, 1))
    with ape.reverts(rm.RoundManagerWrongChunkCount, expected=2, actual=1):
        rm.submitUpdate(1, as_points(c[:1]), UPDATE_CID, 40, sender=h)
    with ape.reverts(rm.RoundManagerWrongScheme, chunks=2):
        rm.submitBoundedUpdate(1, as_points(c), UPDATE_CID, 40, b"", [], sender=h)


def test_chunkProof_replacedByReproving(bounded, chunked, genesis_flat, prover, hospitals):
    """A hospital that re-trains after a restart proves again: the latest record counts."""
    rm = bounded.round_manager
    h = hospitals[0]
    first, second = update_of(chunked, genesis_flat, 1), update_of(chunked, genesis_flat, 2)
    for k, proof in enumerate(prover(first, genesis_flat, h.address)):
        send_proof(rm, 1, k, proof, h)
    send_proof(rm, 1, 0, prover(second, genesis_flat, h.address)[0], h)
    with ape.reverts(rm.RoundManagerProofPointMismatch):  # chunk 0 now records the second update's
        rm.submitUpdate(1, as_points(commitment_of(chunked, first)), UPDATE_CID, 40, sender=h)
    send_proof(rm, 1, 1, prover(second, genesis_flat, h.address)[1], h)
    rm.submitUpdate(1, as_points(commitment_of(chunked, second)), UPDATE_CID, 40, sender=h)
    with ape.reverts(rm.RoundManagerAlreadySubmitted, roundId=1, hospital=h.address):
        send_proof(rm, 1, 0, prover(first, genesis_flat, h.address)[0], h)


def test_submitChunkProof_revertsWhen_unboundedRound_or_nonMember(
    dep, chunked, genesis_flat, prover, hospitals, outsider, admin, chain
):
    rm = dep.round_manager
    proof = prover(update_of(chunked, genesis_flat, 1), genesis_flat, hospitals[0].address)[0]
    open_round(dep, admin, chain, quorum=2)
    with ape.reverts(rm.RoundManagerNoNormBound, roundId=1):
        send_proof(rm, 1, 0, proof, hospitals[0])
    with ape.reverts(rm.RoundManagerNotHospital, caller=outsider.address):
        send_proof(rm, 1, 0, proof, outsider)
