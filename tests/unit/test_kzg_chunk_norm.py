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


@pytest.fixture(scope="module")
def proof(art, update, prev, tmp_path_factory) -> kc.KzgChunkProof:
    return kc.prove_chunk(art, 1, 2, update[1], prev[1], ADDRESS, tmp_path_factory.mktemp("chunk1"))


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


def test_chunkProof_verifies_andSumOfSquaresIsTheReference(art, proof, update, prev):
    assert art.logrows == 11
    expected = kc.chunk_sum_of_squares(SMALL, update[1], prev[1])
    manual = rescale(sum((2**13 * u - s) ** 2 for u, s in zip(update[1][:64], prev[1][:64], strict=True)), 26)
    assert 0 < expected == manual
    assert proof.instances == kc.expected_chunk_instances(expected, 1, 2, ADDRESS)
    assert (proof.index, proof.count, proof.sum_of_squares) == (1, 2, expected)
    assert verify_offchain(art, proof.path)


def test_padRows_doNotEnterTheSum(art, update, prev, tmp_path):
    """Only the 64 model rows are summed: changing a pad row of x changes the point, not ss_c."""
    changed = list(update[0])
    changed[-1] += 12345
    a = kc.prove_chunk(art, 0, 2, update[0], prev[0], ADDRESS, tmp_path / "a")
    b = kc.prove_chunk(art, 0, 2, changed, prev[0], ADDRESS, tmp_path / "b")
    assert a.sum_of_squares == b.sum_of_squares == kc.chunk_sum_of_squares(SMALL, update[0], prev[0])
    assert a.commitments[0] != b.commitments[0]


def test_indexCountAndAddress_areBound(art, proof, update, prev, tmp_path):
    other = kc.prove_chunk(art, 0, 3, update[1], prev[1], OTHER, tmp_path / "other")
    assert other.instances[0] == proof.instances[0]  # same data, same ss_c
    assert other.instances[1:3] == (0, 3) and other.limbs != proof.limbs
    assert other.commitments[:2] == proof.commitments[:2]
    # the same proof cannot be passed off under another index, count or hospital
    for forged in (
        kc.expected_chunk_instances(proof.sum_of_squares, 0, 2, ADDRESS),
        kc.expected_chunk_instances(proof.sum_of_squares, 1, 3, ADDRESS),
        kc.expected_chunk_instances(proof.sum_of_squares, 1, 2, OTHER),
    ):
        assert not _verify_with(art, proof, tmp_path, instances=forged)
    assert _verify_with(art, proof, tmp_path, instances=proof.instances)  # the helper itself accepts the truth


def test_replacedPoint_failsVerification(art, proof, basis, update, tmp_path):
    other = commit([2**13 * v for v in update[0]], basis)[0].to_bytes()
    for index in (0, 1):
        raw = proof.proof[: 64 * index] + other + proof.proof[64 * (index + 1) :]
        assert not _verify_with(art, proof, tmp_path, raw=raw)


def test_understatedSum_isNotAcceptedAsAnInstance(art, proof, tmp_path):
    for ss in (proof.sum_of_squares - 1, 0, proof.sum_of_squares // 2):
        assert not _verify_with(art, proof, tmp_path, instances=(ss, *proof.instances[1:]))


def test_understatedSum_cannotBeProven_fromATamperedWitness(art, update, prev, tmp_path):
    """A prover who edits the witness's output (ss_c - 1) gets no proof, or one that does not verify."""
    rows = [[2**13 * v for v in update[1]], list(prev[1]), [1, 2, *kc.address_limbs(ADDRESS)]]
    inp, wit, out = tmp_path / "input.json", tmp_path / "witness.json", tmp_path / "proof.json"
    inp.write_text(json.dumps({"input_data": [[felt_hex(v) for v in row] for row in rows]}))
    ezkl.gen_witness(str(inp), str(art.compiled), str(wit), vk_path=str(art.vk), srs_path=str(art.srs))
    witness = json.loads(wit.read_text())
    true_ss = kc.chunk_sum_of_squares(SMALL, update[1], prev[1])
    assert witness["outputs"][0][0] == felt_hex(true_ss)
    witness["outputs"][0][0] = felt_hex(true_ss - 1)
    wit.write_text(json.dumps(witness))
    try:
        ezkl.prove(str(wit), str(art.compiled), str(art.pk), str(out), str(art.srs))
    except BaseException as exc:  # ezkl refuses: a RuntimeError or a Rust panic
        if not (isinstance(exc, RuntimeError) or type(exc).__name__ == "PanicException"):
            raise
        return
    forged = kc.read_kzg_chunk_proof(out)
    assert forged.sum_of_squares == true_ss - 1
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
        kc.prove_chunk(art, 0, 2, [2**23, *update[0][1:]], prev[0], ADDRESS, tmp_path)
    far = [2**22] * SMALL.chunk + update[0][SMALL.chunk :]  # (2**35)**2 * 64 / 2**26 >= 2**36
    with pytest.raises(CircuitError, match="2\\^36"):
        kc.prove_chunk(art, 0, 2, far, [-(2**35) + 1] * SMALL.rows, ADDRESS, tmp_path)
    with pytest.raises(CircuitError, match="index"):
        kc.prove_chunk(art, 2, 2, update[0], prev[0], ADDRESS, tmp_path)
    with pytest.raises(CircuitError, match="takes"):
        kc.prove_chunk(art, 0, 2, update[0][:-1], prev[0], ADDRESS, tmp_path)


def test_proveChunks_poolOfTwo_inOrder_withProgress(art, update, prev, tmp_path):
    lines: list[str] = []
    proofs = chunk_prover.prove_chunks(art, update, prev, ADDRESS, tmp_path, workers=2, progress=lines.append)
    assert [p.index for p in proofs] == [0, 1] and all(p.count == 2 for p in proofs)
    assert [p.sum_of_squares for p in proofs] == [
        kc.chunk_sum_of_squares(SMALL, u, s) for u, s in zip(update, prev, strict=True)
    ]
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
