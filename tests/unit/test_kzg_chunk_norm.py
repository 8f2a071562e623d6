"""Chunked commit-and-prove norm proofs (zkfl_dapp.circuits.kzg_chunk_norm) on a SMALL chunk circuit
(64 values per chunk, logrows 11): proofs verify with ``ss_c`` equal to the Python reference, the chunk
index, count and address are bound, replaced points and understated sums fail, and the points are
commitments in the chunk basis whose per-chunk combination is the aggregate's. The 4,096-value circuit
is only smoke-tested, when it is already built (zkfl_dapp/experiments/kzg_chunk_measure.py builds it)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import ezkl
import pytest

from zkfl_dapp.circuits import chunk_prover
from zkfl_dapp.circuits import chunks as model_chunks
from zkfl_dapp.circuits import kzg_chunk_norm as kc
from zkfl_dapp.circuits.kzg import combine, commit, zero_commitment
from zkfl_dapp.circuits.proving import verify_offchain
from zkfl_dapp.circuits.verifier_codegen import _generated_header
from zkfl_dapp.core.aggregation import rescale
from zkfl_dapp.core.fixedpoint import felt_hex
from zkfl_dapp.exceptions import CircuitError

ROOT = Path(__file__).resolve().parent.parent.parent
SMALL = kc.KzgChunkNormSpec(chunk=64, inner_cols=2)
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
WEIGHTS = (3000, 4000, 1192)
MODEL_SIZE = 100  # two chunks of 64, the second zero-filled from row 36


@pytest.fixture(scope="module")
def art() -> kc.KzgChunkNormArtifacts:
    return kc.ensure_kzg_chunk_norm_artifacts(SMALL, ROOT / "build" / "circuits")


@pytest.fixture(scope="module")
def basis(art):
    return art.basis()


@pytest.fixture(scope="module")
def hospitals() -> list[list[list[int]]]:
    """Three hospitals' padded chunks (model |u| < 2**13, real < 1)."""
    rng = random.Random(5)
    return [
        model_chunks.pad_chunks(
            model_chunks.split_chunks([rng.randint(-(2**13), 2**13) for _ in range(MODEL_SIZE)], 64), SMALL, rng
        )
        for _ in WEIGHTS
    ]


@pytest.fixture(scope="module")
def prev(hospitals) -> list[tuple[int, ...]]:
    return model_chunks.aggregate_chunks(hospitals, (*WEIGHTS[:2], 2**13 - 7000))


@pytest.fixture(scope="module")
def update(prev) -> list[list[int]]:
    rng = random.Random(9)
    model = [round(s / 2**13) + rng.randint(-300, 300) for chunk in prev for s in chunk[: SMALL.chunk]]
    chunks = model_chunks.split_chunks(model, SMALL.chunk)
    chunks[-1][MODEL_SIZE - SMALL.chunk :] = [0] * (2 * SMALL.chunk - MODEL_SIZE)
    return model_chunks.pad_chunks(chunks, SMALL, rng)


#: a budget over every chunk's squared distance below
BUDGET = 2**30


@pytest.fixture(scope="module")
def proof(art, update, prev, tmp_path_factory) -> kc.KzgChunkProof:
    return kc.prove_chunk(art, 1, 2, BUDGET, update[1], prev[1], ADDRESS, tmp_path_factory.mktemp("chunk1"))


def _verify_with(art, proof, tmp_path: Path, *, instances=None, raw: bytes | None = None) -> bool:
    """ezkl's verification of ``proof`` with its instances and/or proof bytes replaced."""
    data = json.loads(proof.path.read_text())
    if instances is not None:
        data["instances"] = [[felt_hex(v) for v in instances]]
    if raw is not None:
        data["proof"], data["hex_proof"] = list(raw), "0x" + raw.hex()
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(data))
    return verify_offchain(art, path)


def test_splitChunks_exactChunksLastZeroFilled():
    chunks = model_chunks.split_chunks(list(range(1, 11)), 4)
    assert chunks == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 0, 0]]
    assert model_chunks.chunk_count(108_801, 4096) == 27 and len(model_chunks.split_chunks([1] * 108_801, 4096)) == 27
    assert model_chunks.split_chunks([1] * 8, 4) == [[1] * 4, [1] * 4]


def test_chunkProof_verifies_andSumOfSquaresIsTheReference(art, proof, update, prev, tmp_path):
    assert art.logrows == 11
    expected = kc.chunk_sum_of_squares(SMALL, update[1], prev[1])
    manual = rescale(sum((2**13 * u - s) ** 2 for u, s in zip(update[1][:64], prev[1][:64], strict=True)), 26)
    assert 0 < expected == manual < BUDGET
    assert proof.instances == kc.expected_chunk_instances(SMALL, BUDGET, 1, 2, ADDRESS)
    assert (proof.flag, proof.budget, proof.index, proof.count) == (True, BUDGET, 1, 2)
    assert verify_offchain(art, proof.path)
    # the flag is exactly ss_c <= b_c: at b_c = ss_c it is set, at ss_c - 1 the (valid) proof says 0
    limbs = kc.address_limbs(ADDRESS)
    for budget, flag in ((expected, 2**26), (expected - 1, 0)):
        rows = [[2**13 * v for v in update[1]], list(prev[1]), [budget, 1, 2, *limbs]]
        p = kc.prove_inputs(art, rows, tmp_path / f"b{budget}")
        assert p.instances[:2] == (flag, budget) and verify_offchain(art, p.path)


def test_padRows_doNotEnterTheSum(art, update, prev, tmp_path):
    """Only the 64 model rows are summed: changing a pad row of x changes the point, not ss_c."""
    changed = list(update[0])
    changed[-1] += 12345
    assert kc.chunk_sum_of_squares(SMALL, changed, prev[0]) == kc.chunk_sum_of_squares(SMALL, update[0], prev[0])
    ss = kc.chunk_sum_of_squares(SMALL, update[0], prev[0])
    a = kc.prove_chunk(art, 0, 2, ss, update[0], prev[0], ADDRESS, tmp_path / "a")
    b = kc.prove_chunk(art, 0, 2, ss, changed, prev[0], ADDRESS, tmp_path / "b")
    assert a.instances == b.instances and a.flag  # the tightest budget holds for both
    assert a.commitments[0] != b.commitments[0]


def test_indexCountAndAddress_areBound(art, proof, update, prev, tmp_path):
    other = kc.prove_chunk(art, 0, 3, BUDGET, update[1], prev[1], OTHER, tmp_path / "other")
    assert other.instances[:2] == proof.instances[:2]  # same data and budget, same flag
    assert other.instances[2:4] == (0, 3) and other.limbs != proof.limbs
    assert other.commitments[:2] == proof.commitments[:2]
    # the same proof cannot be passed off under another index, count, budget or hospital
    for forged in (
        kc.expected_chunk_instances(SMALL, BUDGET, 0, 2, ADDRESS),
        kc.expected_chunk_instances(SMALL, BUDGET, 1, 3, ADDRESS),
        kc.expected_chunk_instances(SMALL, BUDGET - 1, 1, 2, ADDRESS),
        kc.expected_chunk_instances(SMALL, BUDGET, 1, 2, OTHER),
    ):
        assert not _verify_with(art, proof, tmp_path, instances=forged)
    assert _verify_with(art, proof, tmp_path, instances=proof.instances)  # the helper itself accepts the truth


def test_replacedPoint_failsVerification(art, proof, basis, update, tmp_path):
    other = commit([2**13 * v for v in update[0]], basis)[0].to_bytes()
    for index in (0, 1):
        raw = proof.proof[: 64 * index] + other + proof.proof[64 * (index + 1) :]
        assert not _verify_with(art, proof, tmp_path, raw=raw)


def test_anotherBudgetOrFlag_isNotAcceptedAsAnInstance(art, proof, tmp_path):
    for budget in (BUDGET - 1, 0, BUDGET // 2, BUDGET + 1):
        assert not _verify_with(art, proof, tmp_path, instances=(2**26, budget, *proof.instances[2:]))
    assert not _verify_with(art, proof, tmp_path, instances=(0, *proof.instances[1:]))


def test_aFlagForAChunkOverItsBudget_cannotBeProven_fromATamperedWitness(art, update, prev, tmp_path):
    """A prover over its budget who edits the witness's flag (0 -> 2^26) gets no proof, or one that does not
    verify."""
    true_ss = kc.chunk_sum_of_squares(SMALL, update[1], prev[1])
    rows = [[2**13 * v for v in update[1]], list(prev[1]), [true_ss - 1, 1, 2, *kc.address_limbs(ADDRESS)]]
    inp, wit, out = tmp_path / "input.json", tmp_path / "witness.json", tmp_path / "proof.json"
    inp.write_text(json.dumps({"input_data": [[felt_hex(v) for v in row] for row in rows]}))
    ezkl.gen_witness(str(inp), str(art.compiled), str(wit), vk_path=str(art.vk), srs_path=str(art.srs))
    witness = json.loads(wit.read_text())
    assert witness["outputs"][0][0] == felt_hex(0)
    witness["outputs"][0][0] = felt_hex(2**26)
    wit.write_text(json.dumps(witness))
    try:
        ezkl.prove(str(wit), str(art.compiled), str(art.pk), str(out), str(art.srs))
    except BaseException as exc:  # ezkl refuses: a RuntimeError or a Rust panic
        if not (isinstance(exc, RuntimeError) or type(exc).__name__ == "PanicException"):
            raise
        return
    forged = kc.read_kzg_chunk_proof(out)
    assert forged.flag
    assert not verify_offchain(art, out)


def test_proofPoints_areKzgCommitsInTheChunkBasis(proof, basis, update, prev):
    k = zero_commitment(basis)
    assert proof.commitments[0] == commit([2**13 * v for v in update[1]], basis)[0]
    assert proof.commitments[0] == combine([commit(update[1], basis)[0]], [2**13], k)  # what a contract derives
    assert proof.commitments[1] == model_chunks.commit_chunks(prev, basis)[1]


def test_combinePerChunk_equalsCommitOfThePerChunkAggregate(basis, hospitals, prev):
    weights = (*WEIGHTS[:2], 2**13 - 7000)
    per_hospital = [model_chunks.commit_chunks(h, basis) for h in hospitals]
    combined = model_chunks.combine_chunks(per_hospital, weights, zero_commitment(basis))
    assert combined == model_chunks.commit_chunks(prev, basis)
    assert combined[0] != combined[1]  # chunk order matters: each chunk has its own point


def test_chunkedNorm_differsFromOneRescale_byAtMostFloorHalfChunks():
    """sum_c rescale(T_c) - rescale(sum_c T_c) lies in [-floor(n/2), floor(n/2)], both ends reached."""
    half, unit = 2**25, 2**26
    for n in (1, 2, 3, 27):
        assert sum(rescale(half, 26) for _ in range(n)) - rescale(n * half, 26) == n // 2
        low = half - 1
        assert sum(rescale(low, 26) for _ in range(n)) - rescale(n * low, 26) == -(n // 2)
    rng = random.Random(3)
    for _ in range(2000):
        n = rng.randint(1, 30)
        parts = [rng.randrange(50 * unit) for _ in range(n)]
        assert abs(sum(rescale(t, 26) for t in parts) - rescale(sum(parts), 26)) <= n // 2


def test_proveChunk_refusesWhatNoProofCovers(art, update, prev, tmp_path):
    with pytest.raises(CircuitError, match="outside"):
        kc.prove_chunk(art, 0, 2, BUDGET, [2**23, *update[0][1:]], prev[0], ADDRESS, tmp_path)
    far = [2**22] * SMALL.chunk + update[0][SMALL.chunk :]  # (2**35)**2 * 64 / 2**26 >= 2**36
    with pytest.raises(CircuitError, match="2\\^36"):
        kc.prove_chunk(art, 0, 2, BUDGET, far, [-(2**35) + 1] * SMALL.rows, ADDRESS, tmp_path)
    with pytest.raises(CircuitError, match="index"):
        kc.prove_chunk(art, 2, 2, BUDGET, update[0], prev[0], ADDRESS, tmp_path)
    with pytest.raises(CircuitError, match="takes"):
        kc.prove_chunk(art, 0, 2, BUDGET, update[0][:-1], prev[0], ADDRESS, tmp_path)
    with pytest.raises(CircuitError, match="over its budget"):
        kc.prove_chunk(art, 0, 2, 0, update[0], prev[0], ADDRESS, tmp_path)
    with pytest.raises(CircuitError, match="the budget must be in"):
        kc.prove_chunk(art, 0, 2, kc.INPUT_RANGE, update[0], prev[0], ADDRESS, tmp_path)


def test_chunkBudgets_roundUpToAGridAndHandOutTheBound():
    assert kc.chunk_budgets([5], 1000) == (1000,)  # one chunk: the bound itself
    grain = 1600 >> kc.BUDGET_GRAIN_BITS  # 100
    assert kc.chunk_budgets([5, 250, 0], 1600) == (100, 300, 1200)
    exact = kc.chunk_budgets([790, 790], 1600)  # the grid would need 1,600: it fits exactly
    assert exact == (800, 800)
    assert kc.chunk_budgets([799, 799], 1600) == (800, 800) and grain == 100
    assert kc.chunk_budgets([801, 790], 1600) == (801, 799)  # the grid overshoots: exact sums, rest to the last
    with pytest.raises(CircuitError, match="add up to"):
        kc.chunk_budgets([900, 800], 1600)


def test_proveChunks_poolOfTwo_inOrder_withProgress(art, update, prev, tmp_path):
    lines: list[str] = []
    sums = [kc.chunk_sum_of_squares(SMALL, u, s) for u, s in zip(update, prev, strict=True)]
    budgets = kc.chunk_budgets(sums, sum(sums) * 2)
    proofs = chunk_prover.prove_chunks(art, update, prev, budgets, ADDRESS, tmp_path, workers=2, progress=lines.append)
    assert [p.index for p in proofs] == [0, 1] and all(p.count == 2 for p in proofs)
    assert [p.budget for p in proofs] == list(budgets) and all(p.flag for p in proofs)
    assert all(verify_offchain(art, p.path) for p in proofs)
    assert len(lines) == 2 and all(" of 2 " in line and "ETA" in line for line in lines)


def test_largeSpec_smoke_whenBuilt():
    """The measured 4,096-value circuit (27 chunks at d = 108,801), only if it is already in build/."""
    spec = kc.LARGE_CHUNK_SPEC
    manifest = ROOT / "build" / "circuits" / f"{spec.name}-{spec.digest()}-development" / "manifest.json"
    if not manifest.is_file():
        pytest.skip("the 4,096-value chunk circuit is not built (kzg_chunk_measure builds it)")
    art = kc.ensure_kzg_chunk_norm_artifacts(spec, ROOT / "build" / "circuits")
    assert art.logrows == 15 and art.verifier_sol.read_text().startswith(_generated_header(art))
    measured = ROOT / "build" / "kzg-chunk-measure" / spec.name / "chunk-000" / "proof.json"
    if measured.is_file():
        assert verify_offchain(art, measured)
        assert kc.read_kzg_chunk_proof(measured).index == 0
