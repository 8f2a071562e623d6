"""The commit-and-prove median circuit (zkfl_dapp.circuits.kzg_median) at d = 31, against real ezkl
artifacts built over the norm circuit's SRS: its points are commitments in the norm circuit's basis."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)

from __future__ import annotations

import json
import random

import pytest

from tests.kzg_fixtures import ROOT, SPEC, basis, kzg_norm, prev_aggregate, updates  # noqa: F401
from zkfl_dapp.circuits import kzg_median as km
from zkfl_dapp.circuits.kzg import KzgBasis, combine, commit, zero_commitment
from zkfl_dapp.circuits.proving import verify_offchain
from zkfl_dapp.core.fixedpoint import FIELD_MODULUS
from zkfl_dapp.core.median import median_quantized
from zkfl_dapp.exceptions import CircuitError

MEDIAN_SPEC = km.default_median_spec(SPEC.chunk, SPEC.pad_rows)


@pytest.fixture(scope="session")
def kzg_median(kzg_norm):
    return km.ensure_kzg_median_artifacts(MEDIAN_SPEC, ROOT / "build" / "circuits", shared_srs=kzg_norm.srs)


@pytest.fixture(scope="session")
def median_slots(updates, prev_aggregate):
    """Three included updates (2^13 u), two slots holding S_prev: scale 2^26, d + P rows."""
    return [[2**13 * v for v in updates[i]] for i in range(3)] + [list(prev_aggregate)] * 2


@pytest.fixture(scope="session")
def median_proof(kzg_median, median_slots, tmp_path_factory):
    return km.prove_kzg_median(kzg_median, median_slots, tmp_path_factory.mktemp("kzgmedian"))


def test_medianBasis_equalsTheNormCircuits(kzg_median, basis):
    median_basis = kzg_median.basis()
    assert kzg_median.logrows == basis.logrows == 10
    assert median_basis.unusable_rows == basis.unusable_rows == 6
    assert median_basis.srs.read_bytes() == basis.srs.read_bytes()


def test_medianProof_verifiesAndCertifiesTheMedian(kzg_median, median_proof):
    print(f"\nmedian proof d=31: {len(median_proof.proof)} bytes, {median_proof.prove_seconds:.1f} s")
    assert median_proof.instances == (0,) and median_proof.accepted
    assert verify_offchain(kzg_median, median_proof.path)


def test_medianProof_pointsAreCommitmentsInTheNormBasis(median_proof, median_slots, basis, updates):
    expected = [*median_slots, list(median_quantized(median_slots))]
    assert median_proof.commitments == tuple(commit(v, basis)[0] for v in expected)
    # what the contract derives: combine([C(u_i)], [2^13], K) for an included slot
    k = zero_commitment(basis)
    assert median_proof.commitments[0] == combine([commit(updates[0], basis)[0]], [2**13], k)


def test_medianSemantics_matchMedianQuantized_withTiesAndNegatives(kzg_median, tmp_path):
    rng = random.Random(7)
    n = MEDIAN_SPEC.rows
    base = [rng.randint(-(2**34), 2**34) for _ in range(n)]
    slots = [base, list(base), [v + rng.randint(-5, 5) for v in base], [-(2**35) + 1] * n, [2**35 - 1] * n]
    proof = km.prove_kzg_median(kzg_median, slots, tmp_path)
    assert proof.accepted and verify_offchain(kzg_median, proof.path)
    assert proof.median_commitment == commit(list(median_quantized(slots)), kzg_median.basis())[0]


@pytest.mark.parametrize("offset", [1, -1, 2**20])
def test_wrongClaimedMedian_isNotAccepted(kzg_median, median_slots, tmp_path, offset):
    """Proving a wrong m either fails or yields z != 0 (which the contract rejects)."""
    m = list(median_quantized(median_slots))
    m[3] += offset
    try:
        proof = km.prove_inputs(kzg_median, [*median_slots, m], tmp_path)
    except CircuitError:
        return
    assert proof.instances[0] != 0 and not proof.accepted


def test_wrongClaimedMedian_anotherSlotsValue_isNotAccepted(kzg_median, median_slots, tmp_path):
    m = list(median_quantized(median_slots))
    column = sorted(s[5] for s in median_slots)
    m[5] = column[3] if column[3] != m[5] else column[4]
    proof = km.prove_inputs(kzg_median, [*median_slots, m], tmp_path)
    assert not proof.accepted


def test_zeroInstance_forAWrongMedian_failsVerification(kzg_median, median_slots, tmp_path):
    m = list(median_quantized(median_slots))
    m[0] += 1
    proof = km.prove_inputs(kzg_median, [*median_slots, m], tmp_path)
    raw = json.loads(proof.path.read_text())
    raw["instances"][0][0] = "00" * 32
    proof.path.write_text(json.dumps(raw))
    assert not verify_offchain(kzg_median, proof.path)


@pytest.mark.parametrize("index", [0, 4, 5])
def test_replacedPoint_failsVerification(kzg_median, median_proof, basis, tmp_path, index):
    raw = json.loads(median_proof.path.read_text())
    other = commit([1] * MEDIAN_SPEC.rows, basis)[0].to_bytes()
    proof = bytearray(median_proof.proof)
    proof[64 * index : 64 * (index + 1)] = other
    raw["proof"], raw["hex_proof"] = list(proof), "0x" + proof.hex()
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(raw))
    assert not verify_offchain(kzg_median, path)


def test_proveKzgMedian_rejectsBadSlots(kzg_median, median_slots, tmp_path):
    with pytest.raises(CircuitError, match="5 slots"):
        km.prove_kzg_median(kzg_median, median_slots[:4], tmp_path)
    with pytest.raises(CircuitError, match="model \\+ pad"):
        km.prove_kzg_median(kzg_median, [s[:-1] for s in median_slots], tmp_path)
    big = [list(s) for s in median_slots]
    big[2][0] = 2**36
    with pytest.raises(CircuitError, match="outside"):
        km.prove_kzg_median(kzg_median, big, tmp_path)
    spread = [list(s) for s in median_slots]
    spread[0][1], spread[1][1] = 2**35, -(2**35)
    with pytest.raises(CircuitError, match="spread"):
        km.prove_kzg_median(kzg_median, spread, tmp_path)


def test_spec_refusesOtherSlotCounts():
    with pytest.raises(CircuitError):
        km.KzgMedianCircuitSpec(slots=3)
    assert FIELD_MODULUS > 2**253 and isinstance(MEDIAN_SPEC, km.KzgMedianCircuitSpec)
    assert KzgBasis  # the basis type the artifacts expose
