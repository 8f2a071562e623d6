"""Tests of zkfl_dapp.core.aggregation: on-chain weights and the circuit's per-product-rounded weighted average."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest

from zkfl_dapp.core.aggregation import fedavg_quantized, normalized_weights
from zkfl_dapp.core.fixedpoint import MAX_QUANTIZED
from zkfl_dapp.exceptions import RoundError

SCALE = 13
ONE = 2**SCALE


def solidity_weights(counts: list[int], scale_bits: int) -> list[int]:
    """RoundManager._expectedWeights, transcribed: uint256 arithmetic, integer division truncates."""
    one = 1 << scale_bits
    included = [i for i, n in enumerate(counts) if n > 0]
    total = sum(counts)
    spare = one - len(included)
    w = [0] * len(counts)
    assigned = 0
    for i in included:
        w[i] = 1 + counts[i] * spare // total
        assigned += w[i]
    w[included[0]] += one - assigned
    return w


def share(counts: list[int], i: int, scale_bits: int) -> Fraction:
    """Slot i's exact share of 2^s."""
    return Fraction(counts[i] * 2**scale_bits, sum(counts))


def half_away(q: Fraction) -> int:
    """Round a rational to the nearest integer, halves away from zero."""
    magnitude = math.floor(abs(q) + Fraction(1, 2))
    return magnitude if q >= 0 else -magnitude


def reference_average(updates: list[list[int]], weights: list[int], scale_bits: int) -> list[int]:
    """The circuit's output, written from its definition: sum_i half_away(w_i * x_ij / 2^s)."""
    return [
        sum(half_away(Fraction(w * u[j], 2**scale_bits)) for u, w in zip(updates, weights, strict=True))
        for j in range(len(updates[0]))
    ]


# --- normalized_weights -------------------------------------------------------------------------


@pytest.mark.parametrize("counts", [[1, 1, 1, 1, 1], [1, 2, 3, 4, 5], [569, 0, 3, 0, 1], [10**6, 90, 91, 92, 93]])
def test_normalized_weights_match_the_solidity_formula(counts: list[int]) -> None:
    assert normalized_weights(counts, SCALE) == tuple(solidity_weights(counts, SCALE))


def test_normalized_weights_match_solidity_on_random_counts() -> None:
    rng = random.Random(99)
    for _ in range(300):
        counts = [rng.choice([0, rng.randint(1, 50), rng.randint(1, 10**6)]) for _ in range(rng.randint(1, 8))]
        if sum(counts) == 0:
            counts[0] = 1
        scale_bits = rng.randint(3, 20)
        assert normalized_weights(counts, scale_bits) == tuple(solidity_weights(counts, scale_bits)), counts


def test_weights_sum_to_exactly_one_and_follow_the_sample_shares() -> None:
    """The property the contract relies on: the weights sum to 2^s exactly (the homomorphic aggregate's
    constant term cancels), and each is its slot's share to within m units."""
    rng = random.Random(7)
    for _ in range(500):
        counts = [rng.choice([0, rng.randint(1, 100), rng.randint(1, 10**6)]) for _ in range(rng.randint(1, 8))]
        counts[rng.randrange(len(counts))] = rng.randint(1, 10**6)
        weights = normalized_weights(counts, SCALE)
        m = sum(1 for n in counts if n)
        assert sum(weights) == ONE, counts
        for i, (n, w) in enumerate(zip(counts, weights, strict=True)):
            if n == 0:
                assert w == 0
            else:
                assert w >= 1
                assert abs(w - share(counts, i, SCALE)) <= m, (counts, i, w)


def test_a_huge_declared_count_cannot_zero_the_others() -> None:
    weights = normalized_weights([10**9, 90, 91, 92, 93], SCALE)
    assert all(w >= 1 for w in weights) and sum(weights) == ONE


def test_worked_example() -> None:
    # m = 5, spare = 8187, N = 15: 1 + floor(n * 8187 / 15) = 546, 1092, 1638, 2184, 2730 (sum 8190);
    # the 2 units the floors left go to the first included slot
    assert normalized_weights([1, 2, 3, 4, 5], SCALE) == (548, 1092, 1638, 2184, 2730)
    assert normalized_weights([1, 3], 1) == (1, 1)


def test_equal_counts_give_equal_weights_up_to_the_remainder() -> None:
    assert normalized_weights([5, 5], SCALE) == (ONE // 2, ONE // 2)
    assert normalized_weights([42], SCALE) == (ONE,)
    assert normalized_weights([1, 1, 1], SCALE) == (2732, 2730, 2730)


def test_zero_counts_give_zero_weight() -> None:
    weights = normalized_weights([0, 10, 0, 30, 0], SCALE)
    assert weights == (0, 2049, 0, 6143, 0)  # 1 + floor(n * 8190 / 40), the remainder 1 to slot 1


def test_more_included_slots_than_units_is_a_round_error() -> None:
    with pytest.raises(RoundError, match="cannot share"):
        normalized_weights([1, 1, 1], 1)


@pytest.mark.parametrize("counts", [[], [0], [0, 0, 0, 0, 0]])
def test_no_samples_at_all_is_a_round_error(counts: list[int]) -> None:
    with pytest.raises(RoundError, match="no samples"):
        normalized_weights(counts, SCALE)


@pytest.mark.parametrize("counts", [[-1, 5], [3, -3], [10, 0, -1]])
def test_negative_counts_are_a_round_error(counts: list[int]) -> None:
    with pytest.raises(RoundError, match="non-negative"):
        normalized_weights(counts, SCALE)


# --- fedavg_quantized ---------------------------------------------------------------------------
def test_fedavg_rejects_mismatched_inputs() -> None:
    with pytest.raises(RoundError, match="2 updates but 3 weights"):
        fedavg_quantized([[1, 2], [3, 4]], [1, 2, 3], SCALE)
    with pytest.raises(RoundError, match="differ in length"):
        fedavg_quantized([[1, 2], [3, 4, 5]], [1, 2], SCALE)
    with pytest.raises(RoundError, match="nothing to aggregate"):
        fedavg_quantized([], [], SCALE)


def test_fedavg_of_identical_updates_with_unit_weights_is_the_update() -> None:
    update = [0, 1, -1, 4096, -4096, MAX_QUANTIZED - 1, -(MAX_QUANTIZED - 1)]
    assert fedavg_quantized([update], [ONE], SCALE) == tuple(update)
    half = normalized_weights([1, 1], SCALE)
    assert fedavg_quantized([[2 * v for v in update]] * 2, half, SCALE) == tuple(2 * v for v in update)


def test_rescale_rounds_each_product_half_away_from_zero() -> None:
    # w * x / 2^13 = +-0.5, +-1.5, +-2.5: halves go away from zero, for positive and negative products.
    assert fedavg_quantized([[4096, -4096, 12288, -12288, 20480, -20480]], [1], SCALE) == (1, -1, 2, -2, 3, -3)
    # just below / above a half
    assert fedavg_quantized([[4095, -4095, 4097, -4097]], [1], SCALE) == (0, 0, 1, -1)


def test_rounding_happens_per_product_not_on_the_sum() -> None:
    """Pins the docstring: ``avg_j = sum_i rescale(w_i * x_ij)``, as ezkl rescales each product."""
    updates, weights = [[1], [1]], [ONE // 2, ONE // 2]  # each product is 0.5 after rescaling
    per_product = fedavg_quantized(updates, weights, SCALE)
    rounded_sum = half_away(Fraction(sum(w * u[0] for u, w in zip(updates, weights, strict=True)), ONE))
    assert per_product == (2,)  # 0.5 -> 1, twice
    assert rounded_sum == 1  # 1.0 -> 1: a sum-then-round implementation would say 1
    assert fedavg_quantized([[-1], [-1]], weights, SCALE) == (-2,)  # negative halves too: -1 + -1, not -1
    assert fedavg_quantized([[1], [-1]], weights, SCALE) == (0,)  # +1 + -1


def test_fedavg_matches_the_reference_definition_on_random_inputs() -> None:
    rng = random.Random(2024)
    for _ in range(200):
        slots, size = rng.randint(1, 6), rng.randint(1, 12)
        counts = [rng.choice([0, rng.randint(1, 1000)]) for _ in range(slots)]
        counts[rng.randrange(slots)] = rng.randint(1, 1000)
        weights = normalized_weights(counts, SCALE)
        updates = [[rng.randint(-(MAX_QUANTIZED - 1), MAX_QUANTIZED - 1) for _ in range(size)] for _ in range(slots)]
        assert fedavg_quantized(updates, weights, SCALE) == tuple(reference_average(updates, weights, SCALE))


def test_fedavg_is_within_slots_units_of_the_exact_weighted_mean() -> None:
    """Property (seeded): each coordinate is within ±(number of slots) units of sum_i n_i x_ij / N.

    Two error sources: per-product rescaling (at most half a unit per slot), and the weights' own
    rounding (|w_i - n_i 2^s / N| <= m units of weight for m included slots, costing m |x_ij| / 2^s
    units). For larger parameters the weight term grows with |x|: that bound is checked too.
    """
    rng = random.Random(31337)
    worst_ratio = Fraction(0)
    for _ in range(300):
        slots, size = rng.randint(1, 5), 31
        counts = [rng.choice([0, rng.randint(1, 5000)]) for _ in range(slots)]
        counts[rng.randrange(slots)] = rng.randint(1, 5000)
        total = sum(counts)
        weights = normalized_weights(counts, SCALE)
        small = rng.random() < 0.5
        bound_x = ONE if small else MAX_QUANTIZED - 1
        updates = [[rng.randint(-bound_x, bound_x) for _ in range(size)] for _ in range(slots)]
        result = fedavg_quantized(updates, weights, SCALE)
        for j in range(size):
            exact = Fraction(sum(n * u[j] for n, u in zip(counts, updates, strict=True)), total)
            with_rounded_weights = Fraction(sum(w * u[j] for w, u in zip(weights, updates, strict=True)), ONE)
            # per-product rescaling alone: at most half a unit per slot
            assert abs(result[j] - with_rounded_weights) <= Fraction(slots, 2)
            # plus weight rounding: up to m units of weight times |x| / 2^s per slot
            m = sum(1 for n in counts if n)
            weight_error = sum(Fraction(m * abs(u[j]), ONE) for u in updates)
            assert abs(result[j] - exact) <= Fraction(slots, 2) + weight_error
            if small:  # |x| <= 1.0 in real terms: the whole error stays within slots/2 + m * slots units
                assert abs(result[j] - exact) <= Fraction(slots, 2) + m * slots
                worst_ratio = max(worst_ratio, abs(result[j] - exact) / slots)
    assert worst_ratio > Fraction(1, 4)  # the bound is exercised, not vacuous
