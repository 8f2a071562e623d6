"""Bn254 library (contracts/libraries/Bn254.sol) through Bn254Harness: the on-chain affine combination equals
zkfl_dapp.circuits.kzg.combine on real ezkl commitments, its finalize gas, and every revert by name."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)

from __future__ import annotations

import ape
import pytest
from py_ecc.optimized_bn128 import G1, double, normalize

from tests.kzg_fixtures import (  # noqa: F401
    WEIGHTS,
    basis,
    kzg_norm,
    prev_aggregate,
    updates,
    zero,
)
from zkfl_dapp.circuits.kzg import BASE_FIELD_MODULUS, G1Point, KzgError, combine, commit

#: The finalize budget of the design (toolchain.md measured ~123k for 5 slots).
FINALIZE_GAS_BUDGET = 150_000


@pytest.fixture(scope="module")
def harness(admin):
    return ape.project.Bn254Harness.deploy(sender=admin)


@pytest.fixture(scope="module")
def slot_commitments(basis, updates):
    return [commit(u, basis)[0] for u in updates]


def _pt(point):
    return (point.x, point.y)


def test_combine_equalsPythonCombineOnRealCommitments(harness, slot_commitments, zero, basis, prev_aggregate):
    expected = combine(slot_commitments, list(WEIGHTS), zero)
    assert expected == commit(prev_aggregate, basis)[0]
    got = harness.combine([_pt(c) for c in slot_commitments], list(WEIGHTS), _pt(zero))
    assert (got.x, got.y) == _pt(expected)


@pytest.mark.parametrize("weights", [[1, 0, 0, 0, 0], [8192, 0, 0, 0, 0], [3, 5, 7, 11, 13], [2**200, 1, 0, 0, 5]])
def test_combine_matchesPythonForOtherWeights(harness, slot_commitments, zero, weights):
    expected = combine(slot_commitments, weights, zero)
    got = harness.combine([_pt(c) for c in slot_commitments], weights, _pt(zero))
    assert (got.x, got.y) == _pt(expected)


def test_finalize_combinesFiveStoredSlotsAndStoresTheAggregate(
    harness, slot_commitments, zero, admin, basis, prev_aggregate
):
    harness.setSlots([_pt(c) for c in slot_commitments], _pt(zero), sender=admin)
    tx = harness.finalize(list(WEIGHTS), sender=admin)
    expected = commit(prev_aggregate, basis)[0]
    assert tx.events == [harness.AggregateCommitted(expected.x, expected.y)]
    stored = harness.aggregate()
    assert (stored.x, stored.y) == _pt(expected)
    print(f"\nfinalize (5 slots, combine + store): {tx.gas_used} gas")
    assert tx.gas_used <= FINALIZE_GAS_BUDGET


@pytest.mark.parametrize(
    ("x", "y"),
    [(1, 3), (0, 0), (1 + BASE_FIELD_MODULUS, 2), (1, 2 + BASE_FIELD_MODULUS), (1, BASE_FIELD_MODULUS - 1)],
)
def test_validate_revertsWhen_invalidPoint(harness, x, y):
    with ape.reverts(harness.Bn254InvalidPoint, x=x, y=y):
        harness.validate((x, y))


def test_validate_acceptsTheGenerator(harness):
    harness.validate((1, 2))


def test_combine_revertsWhen_offCurveCommitment(harness, slot_commitments, zero):
    points = [_pt(c) for c in slot_commitments]
    points[3] = (points[3][0], (points[3][1] + 1) % BASE_FIELD_MODULUS)
    with ape.reverts(harness.Bn254InvalidPoint, x=points[3][0], y=points[3][1]):
        harness.combine(points, list(WEIGHTS), _pt(zero))


def test_combine_revertsWhen_zeroCommitmentIsInfinity(harness, slot_commitments):
    with ape.reverts(harness.Bn254InvalidPoint, x=0, y=0):
        harness.combine([_pt(c) for c in slot_commitments], list(WEIGHTS), (0, 0))


def test_combine_revertsWhen_lengthsDiffer(harness, slot_commitments, zero):
    with ape.reverts(harness.Bn254LengthMismatch, points=5, weights=4):
        harness.combine([_pt(c) for c in slot_commitments], list(WEIGHTS[:4]), _pt(zero))
    with ape.reverts(harness.Bn254LengthMismatch, points=0, weights=0):
        harness.combine([], [], _pt(zero))


def test_combine_revertsWhen_weightsSumToZero(harness, slot_commitments, zero):
    with ape.reverts(harness.Bn254ZeroWeightSum):
        harness.combine([_pt(c) for c in slot_commitments], [0] * 5, _pt(zero))


def test_combine_revertsWhen_resultIsInfinity(harness):
    """1*G + 1*G - (2 - 1)*(2G) = 0: no vector commits to infinity (kzg.combine raises too)."""
    x, y = normalize(double(G1))
    with ape.reverts(harness.Bn254InvalidPoint, x=0, y=0):
        harness.combine([(1, 2), (1, 2)], [1, 1], (int(x), int(y)))
    with pytest.raises(KzgError, match="infinity"):
        combine([G1Point(1, 2)] * 2, [1, 1], G1Point(int(x), int(y)))
