"""Homomorphic KZG commitments (zkfl_dapp.circuits.kzg) and the commit-and-prove norm circuit
(zkfl_dapp.circuits.kzg_chunk_norm, a one-chunk d = 31 model), against real ezkl artifacts (built once per cache)."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)

from __future__ import annotations

import json
import random
import shutil

import pytest

from tests.kzg_fixtures import (  # noqa: F401
    ADDRESS,
    SPEC,
    WEIGHTS,
    basis,
    kzg_norm,
    prev_aggregate,
    sample_update,
    updates,
    zero,
)
from zkfl_dapp.circuits import kzg_chunk_norm as kc
from zkfl_dapp.circuits import kzg_distance as kd
from zkfl_dapp.circuits.kzg import BASE_FIELD_MODULUS, G1Point, KzgBasis, KzgError, combine, commit, hiding_pad
from zkfl_dapp.circuits.proving import verify_offchain
from zkfl_dapp.core.fixedpoint import FIELD_MODULUS
from zkfl_dapp.exceptions import CircuitError, ZkflError

G = G1Point(1, 2)  # the BN254 generator


# --- G1Point ---------------------------------------------------------------------------------------
def test_g1Point_roundTripsThrough64Bytes():
    raw = G.to_bytes()
    assert len(raw) == 64 and raw == (1).to_bytes(32, "big") + (2).to_bytes(32, "big")
    assert G1Point.from_bytes(raw) == G


@pytest.mark.parametrize(
    ("x", "y", "reason"),
    [
        (1, 3, "not on BN254"),
        (0, 0, "infinity"),
        (1 + BASE_FIELD_MODULUS, 2, "not below"),
        (1, 2 + BASE_FIELD_MODULUS, "not below"),
        (1, 2 - BASE_FIELD_MODULUS, "not below"),
    ],
)
def test_g1Point_rejects(x, y, reason):
    with pytest.raises(KzgError, match=reason):
        G1Point(x, y)


def test_g1Point_rejectsOversizeBytesAndWrongLength():
    with pytest.raises(KzgError, match="not below"):
        G1Point.from_bytes((1 + BASE_FIELD_MODULUS).to_bytes(32, "big") + (2).to_bytes(32, "big"))
    with pytest.raises(KzgError, match="64 bytes"):
        G1Point.from_bytes(G.to_bytes()[:63])
    assert issubclass(KzgError, ZkflError)


# --- basis and commit ------------------------------------------------------------------------------
def test_basis_pinsTheCircuitsRowLayout(kzg_norm, basis):
    assert basis.logrows == kzg_norm.logrows == 10
    assert basis.unusable_rows == 6  # 5 blinding factors + 1, read from ezkl (the probe)
    assert basis.usable_rows == 2**10 - 6
    assert basis.digest() == KzgBasis.load(kzg_norm.srs, kzg_norm.vk, kzg_norm.settings).digest()


def test_basis_rejectsAnSrsOfAnotherSize(kzg_norm, tmp_path):
    srs = tmp_path / "k11.srs"
    data = bytearray(kzg_norm.srs.read_bytes())
    data[:4] = (11).to_bytes(4, "little")
    srs.write_bytes(bytes(data))
    with pytest.raises(KzgError, match="k=11"):
        KzgBasis.load(srs, kzg_norm.vk, kzg_norm.settings)


def test_commit_spansCeilLenOverNPoints(basis, zero):
    n = basis.usable_rows
    values = [random.Random(1).randint(-1000, 1000) for _ in range(2 * n + 3)]
    points = commit(values, basis)
    assert len(points) == 3
    chunks = [values[:n], values[n : 2 * n], values[2 * n :]]
    assert points == [commit(chunk, basis)[0] for chunk in chunks]
    assert len(commit(values[: 2 * n], basis)) == 2  # an exact multiple: ezkl's extra trailing K is dropped
    with pytest.raises(KzgError, match="empty"):
        commit([], basis)


def test_zeroCommitment_isTheCommitmentOfZeros(basis, zero):
    assert commit([0] * 40, basis) == [zero]


# --- homomorphism ----------------------------------------------------------------------------------
def test_combine_ofFiveUpdates_equalsCommitmentOfWeightedSum(basis, zero, updates, prev_aggregate):
    assert sum(WEIGHTS) == 2**13
    commitments = [commit(u, basis)[0] for u in updates]
    assert combine(commitments, list(WEIGHTS), zero) == commit(prev_aggregate, basis)[0]
    # not vacuous: a different weight vector gives another point
    other = [WEIGHTS[1], WEIGHTS[0], *WEIGHTS[2:]]
    assert combine(commitments, other, zero) != commit(prev_aggregate, basis)[0]


def test_combine_withOneWeight_scalesTheCommittedVector(basis, zero):
    u = sample_update(7)
    assert combine([commit(u, basis)[0]], [2**13], zero) == commit([2**13 * v for v in u], basis)[0]


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([1, -1], "weight 1"),
        ([1, True], "weight 1"),
        ([1, FIELD_MODULUS], "weight 1"),
        ([0, 0], "sum to zero"),
        ([1], "2 commitments"),
    ],
)
def test_combine_rejects(weights, match, zero):
    with pytest.raises(KzgError, match=match):
        combine([G, G], weights, zero)


# --- hiding ----------------------------------------------------------------------------------------
def test_zeroPadding_leavesTheCommitmentUnchanged(basis):
    u = sample_update(3)
    assert commit(list(u) + [0] * 5, basis) == commit(u, basis)


def test_hidingPads_makeCommitmentsOfTheSameUpdateDiffer(basis):
    model = sample_update(3)[: SPEC.chunk]
    a = hiding_pad(model, SPEC.pad_rows, random.Random(1), entry_bits=kd.PAD_ENTRY_BITS)
    b = hiding_pad(model, SPEC.pad_rows, random.Random(2), entry_bits=kd.PAD_ENTRY_BITS)
    assert a[: SPEC.chunk] == b[: SPEC.chunk] == model
    assert all(0 <= v < 2**kd.PAD_ENTRY_BITS for v in a[SPEC.chunk :])
    assert commit(a, basis) != commit(b, basis)


def test_hidingPad_refusesLessThan128Bits():
    with pytest.raises(KzgError, match="at least 128"):
        hiding_pad([1, 2], 5, random.Random(1), entry_bits=22)  # 110 bits
    assert len(hiding_pad([1, 2], 6, random.Random(1), entry_bits=22)) == 8  # 132 bits


def test_padRows_stayInRangeAfterScalingAndAggregation():
    worst = 2**kd.PAD_ENTRY_BITS - 1
    assert 2**13 * worst < kc.INPUT_RANGE  # the hospital's x = 2^13 u
    assert sum(WEIGHTS) * worst < kc.INPUT_RANGE  # the aggregate's spare rows


# --- the norm circuit ------------------------------------------------------------------------------
def _near(prev, seed, step):
    """A fresh padded update whose model rows lie close to prev / 2**13."""
    rng = random.Random(seed)
    model = [round(s / 2**13) + rng.randint(-step, step) for s in prev[: SPEC.chunk]]
    return hiding_pad(model, SPEC.pad_rows, rng, entry_bits=kd.PAD_ENTRY_BITS)


def test_normProof_firstPointsAreTheCommitmentsOfItsInputs(kzg_norm, basis, zero, prev_aggregate, tmp_path):
    u = _near(prev_aggregate, 1, 50)
    bound = kc.chunk_sum_of_squares(SPEC, u, prev_aggregate)
    proof = kc.prove_chunk(kzg_norm, 0, 1, bound, u, prev_aggregate, ADDRESS, tmp_path)
    x_commitment, s_commitment, p_commitment = proof.commitments
    assert x_commitment == commit([2**13 * v for v in u], basis)[0] == combine([commit(u, basis)[0]], [2**13], zero)
    assert s_commitment == commit(prev_aggregate, basis)[0]
    assert p_commitment == commit([bound, 0, 1, *kc.address_limbs(ADDRESS)], basis)[0]
    assert proof.instances == kc.expected_chunk_instances(SPEC, bound, 0, 1, ADDRESS)


@pytest.mark.parametrize("offset", [0, -1])
def test_normFlag_isExactlyRescaledDistanceAtMostBound(kzg_norm, prev_aggregate, tmp_path, offset):
    u = _near(prev_aggregate, 2, 50)
    bound = kc.chunk_sum_of_squares(SPEC, u, prev_aggregate) + offset
    rows = [kd.scaled_update(SPEC, u), list(prev_aggregate), [bound, 0, 1, *kd.address_limbs(ADDRESS)]]
    proof = kc.prove_inputs(kzg_norm, rows, tmp_path)  # prove_chunk refuses a chunk over its budget
    assert proof.flag is (offset == 0)
    assert proof.instances[0] == (2**26 if offset == 0 else 0)  # a violation proves flag 0: require the flag
    assert verify_offchain(kzg_norm, proof.path)


def test_normProof_ignoresPadRows(kzg_norm, prev_aggregate, tmp_path):
    """Other hiding pads: other commitments, the same distance and the same instances."""
    u = _near(prev_aggregate, 5, 50)
    v = hiding_pad(u[: SPEC.chunk], SPEC.pad_rows, random.Random(99), entry_bits=kd.PAD_ENTRY_BITS)
    assert u[SPEC.chunk :] != v[SPEC.chunk :]
    bound = kc.chunk_sum_of_squares(SPEC, u, prev_aggregate)
    assert kc.chunk_sum_of_squares(SPEC, v, prev_aggregate) == bound
    a = kc.prove_chunk(kzg_norm, 0, 1, bound, u, prev_aggregate, ADDRESS, tmp_path / "a")
    b = kc.prove_chunk(kzg_norm, 0, 1, bound, v, prev_aggregate, ADDRESS, tmp_path / "b")
    assert a.instances == b.instances == kc.expected_chunk_instances(SPEC, bound, 0, 1, ADDRESS)
    assert a.commitments[0] != b.commitments[0] and a.commitments[1] == b.commitments[1]


def _tampered(proof, tmp_path, *, first_point=None, instance=None):
    raw = json.loads(proof.path.read_text())
    data = bytearray(proof.proof)
    if first_point is not None:
        data[:64] = first_point.to_bytes()
    if instance is not None:
        index, value = instance
        raw["instances"][0][index] = (value % FIELD_MODULUS).to_bytes(32, "little").hex()
    raw["proof"], raw["hex_proof"] = list(data), "0x" + data.hex()
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(raw))
    return path


def test_normProof_failsWhenTampered(kzg_norm, basis, prev_aggregate, updates, tmp_path):
    u = _near(prev_aggregate, 3, 50)
    bound = kc.chunk_sum_of_squares(SPEC, u, prev_aggregate)
    proof = kc.prove_chunk(kzg_norm, 0, 1, bound, u, prev_aggregate, ADDRESS, tmp_path / "p")
    assert verify_offchain(kzg_norm, proof.path)
    other = commit([2**13 * v for v in updates[0]], basis)[0]
    assert not verify_offchain(kzg_norm, _tampered(proof, tmp_path, first_point=other))
    assert not verify_offchain(kzg_norm, _tampered(proof, tmp_path, instance=(1, bound + 1)))  # bound
    limbs = kc.address_limbs(ADDRESS)
    assert not verify_offchain(kzg_norm, _tampered(proof, tmp_path, instance=(4, limbs[0] ^ 1)))  # address
    assert not verify_offchain(kzg_norm, _tampered(proof, tmp_path, instance=(8, limbs[4] ^ 1)))


def test_proveKzgNorm_refusesOutOfRangeValues(kzg_norm, prev_aggregate, tmp_path):
    u = list(_near(prev_aggregate, 4, 50))
    u[0] = 2**23  # 2^13 * u = 2^36
    with pytest.raises(CircuitError, match="outside the circuit's range"):
        kc.prove_chunk(kzg_norm, 0, 1, 100, u, prev_aggregate, ADDRESS, tmp_path)


def _sqrt_minus_one() -> int:
    r = FIELD_MODULUS
    g = next(g for g in range(2, 100) if pow(g, (r - 1) // 2, r) == r - 1)  # a non-residue
    i = pow(g, (r - 1) // 4, r)
    assert i * i % r == r - 1
    return i


def _wraparound_witness(prev):
    """x = S + (1, sqrt(-1), 0, ...): diff . diff = 1 + (-1) = 0 in the field, for a huge diff."""
    x = list(prev)
    x[0] += 1
    x[1] = (x[1] + _sqrt_minus_one()) % FIELD_MODULUS
    assert sum((a - s) ** 2 for a, s in zip(x[: SPEC.chunk], prev, strict=False)) % FIELD_MODULUS == 0
    return [x, list(prev), [1, 0, 1, *kc.address_limbs(ADDRESS)]]  # budget 1: the tightest there is


def test_sqrtMinusOneWrapAround_isRefusedByTheInputRangeChecks(kzg_norm, prev_aggregate, tmp_path):
    with pytest.raises(CircuitError, match="decomposition|synthesis|witness"):
        kc.prove_inputs(kzg_norm, _wraparound_witness(prev_aggregate), tmp_path)


def test_sqrtMinusOneWrapAround_provesFlagOneWithoutRangeChecks(prev_aggregate, tmp_path, monkeypatch):
    """The witness above is a real attack: the same circuit with I/O range checks off proves flag 1."""
    unchecked = kd.run_args

    def run_args(spec, logrows):
        args = unchecked(spec, logrows)
        args.ignore_range_check_inputs_outputs = True
        return args

    monkeypatch.setattr(kd, "run_args", run_args)
    art = kc.ensure_kzg_chunk_norm_artifacts(SPEC, tmp_path / "unchecked")
    proof = kc.prove_inputs(art, _wraparound_witness(prev_aggregate), tmp_path / "w")
    assert proof.instances[:2] == (2**26, 1) and verify_offchain(art, proof.path)
    shutil.rmtree(tmp_path / "unchecked")


def test_addressLimbs_are32BitLittleEndian():
    limbs = kc.address_limbs(ADDRESS)
    assert sum(limb << (32 * i) for i, limb in enumerate(limbs)) == int(ADDRESS, 16)
    assert all(limb < 2**32 < kc.INPUT_RANGE for limb in limbs)
    with pytest.raises(CircuitError):
        kc.address_limbs(2**160)


def test_spec_refusesAnotherScale():
    with pytest.raises(CircuitError, match="scale_bits"):
        kc.KzgChunkNormSpec(scale_bits=12)
