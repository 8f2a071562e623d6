"""Tests of zkfl_dapp.core.aggregation: the on-chain weights, the exact aggregate S = sum_i w_i u_i (scale 2^26)
and the model hospitals train from, round_half_away(S / 2^13) over the model rows."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest

from zkfl_dapp.core.aggregation import (
    aggregate,
    normalized_weights,
    rescale,
    scaled_update,
    share_cap,
    training_values,
)
from zkfl_dapp.core.fixedpoint import AGGREGATE_RANGE, MAX_QUANTIZED
from zkfl_dapp.exceptions import RoundError

SCALE = 13
ONE = 2**SCALE


def solidity_weights(counts: list[int], scale_bits: int) -> list[int]:
    """RoundManager._weights and _fillStep, transcribed: uint256 arithmetic, integer division truncates, the
    water-filling loop step for step (a capped slot's count is zeroed in a copy)."""
    one = 1 << scale_bits
    counts = list(counts)
    included = sum(1 for n in counts if n)
    k = min(included, 3)
    cap = (one + k - 1) // k
    w = [0] * len(counts)
    free, rest = included, one

    def fill_step() -> bool:
        spare = rest - free
        total = sum(n for n in counts if n)
        first = next(i for i, n in enumerate(counts) if n)
        assigned = 0
        for i, n in enumerate(counts):
            if n:
                w[i] = 1 + n * spare // total
                assigned += w[i]
        w[first] += rest - assigned
        capped = False
        for i, n in enumerate(counts):
            if n and w[i] > cap:
                w[i], counts[i], capped = cap, 0, True
        return capped

    while fill_step():
        still_free = sum(1 for n in counts if n)
        rest -= cap * (free - still_free)
        free = still_free
    return w


def share(counts: list[int], i: int, scale_bits: int) -> Fraction:
    """Slot i's exact share of 2^s."""
    return Fraction(counts[i] * 2**scale_bits, sum(counts))


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


def test_weights_sum_to_exactly_one_obey_the_share_cap_and_follow_the_sample_shares() -> None:
    """The properties the contract relies on: the weights sum to 2^s exactly (the homomorphic aggregate's
    constant term cancels), none is above the share cap, and where the plain sample shares are all below the
    cap each weight is its slot's share to within m units."""
    rng = random.Random(7)
    for _ in range(500):
        counts = [rng.choice([0, rng.randint(1, 100), rng.randint(1, 10**6)]) for _ in range(rng.randint(1, 8))]
        counts[rng.randrange(len(counts))] = rng.randint(1, 10**6)
        weights = normalized_weights(counts, SCALE)
        m = sum(1 for n in counts if n)
        cap = share_cap(m, SCALE)
        assert sum(weights) == ONE, counts
        assert max(weights) <= cap, (counts, weights)
        uncapped = all(share(counts, i, SCALE) + m < cap for i, n in enumerate(counts) if n)
        for i, (n, w) in enumerate(zip(counts, weights, strict=True)):
            if n == 0:
                assert w == 0
            else:
                assert w >= 1
                if uncapped:
                    assert abs(w - share(counts, i, SCALE)) <= m, (counts, i, w)


def test_a_huge_declared_count_cannot_zero_the_others_nor_buy_more_than_a_third() -> None:
    weights = normalized_weights([10**9, 90, 91, 92, 93], SCALE)
    assert all(w >= 1 for w in weights) and sum(weights) == ONE
    assert weights[0] == share_cap(5, SCALE) == 2731  # ceil(8192 / 3): one third, rounded up to a unit
    # the sample-count inflation attack of issue 18: 10^6 against four hospitals of 91 (was 8185 / 8192)
    assert normalized_weights([91, 91, 91, 91, 10**6], SCALE) == (1366, 1365, 1365, 1365, 2731)


def test_share_cap_with_fewer_than_three_updates_is_one_over_m() -> None:
    assert share_cap(1, SCALE) == ONE and share_cap(2, SCALE) == ONE // 2 and share_cap(7, SCALE) == 2731
    assert normalized_weights([10**6, 1], SCALE) == (ONE // 2, ONE // 2)  # necessarily equal weights


def test_two_capped_slots_leave_the_rest_to_the_others() -> None:
    assert normalized_weights([10**6, 10**6, 1, 1, 1, 1], SCALE) == (2731, 2731, 684, 682, 682, 682)


def test_worked_example() -> None:
    # m = 5, spare = 8187, N = 15: 1 + floor(n * 8187 / 15) = 546, 1092, 1638, 2184, 2730 (sum 8190);
    # the 2 units the floors left go to the first included slot; every weight is below the cap 2731
    assert normalized_weights([1, 2, 3, 4, 5], SCALE) == (548, 1092, 1638, 2184, 2730)
    assert normalized_weights([1, 3], 1) == (1, 1)


def test_equal_counts_give_equal_weights_up_to_the_remainder() -> None:
    assert normalized_weights([5, 5], SCALE) == (ONE // 2, ONE // 2)
    assert normalized_weights([42], SCALE) == (ONE,)
    # plain shares 2732, 2730, 2730: the first is above the cap 2731, capped, and the rest refilled
    assert normalized_weights([1, 1, 1], SCALE) == (2731, 2731, 2730)


def test_zero_counts_give_zero_weight() -> None:
    weights = normalized_weights([0, 10, 0, 40, 0, 40, 10], SCALE)
    assert weights == (0, 1365, 0, 2731, 0, 2731, 1365)  # the 40s capped, the 10s share the other 2730
    assert normalized_weights([0, 10, 0, 30, 0], SCALE) == (0, ONE // 2, 0, ONE // 2, 0)  # m = 2: cap 1/2


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


# --- aggregate, training_values, scaled_update ------------------------------------------------
def test_aggregate_rejects_mismatched_inputs() -> None:
    with pytest.raises(RoundError, match="2 updates but 3 weights"):
        aggregate([[1, 2], [3, 4]], [1, 2, 3])
    with pytest.raises(RoundError, match="differ in length"):
        aggregate([[1, 2], [3, 4, 5]], [1, 2])
    with pytest.raises(RoundError, match="nothing to aggregate"):
        aggregate([], [])


def test_aggregate_is_the_exact_weighted_sum_over_every_row() -> None:
    """S_j = sum_i w_i u_ij: no rounding anywhere, pad rows included, zero-weight slots contribute nothing."""
    rng = random.Random(2024)
    for _ in range(200):
        slots, size = rng.randint(1, 6), rng.randint(1, 12)
        counts = [rng.choice([0, rng.randint(1, 1000)]) for _ in range(slots)]
        counts[rng.randrange(slots)] = rng.randint(1, 1000)
        weights = normalized_weights(counts, SCALE)
        updates = [[rng.randint(-(MAX_QUANTIZED - 1), MAX_QUANTIZED - 1) for _ in range(size)] for _ in range(slots)]
        expected = tuple(sum(w * u[j] for u, w in zip(updates, weights, strict=True)) for j in range(size))
        assert aggregate(updates, weights) == expected
        assert all(abs(v) < AGGREGATE_RANGE for v in expected)  # |S| < 2^23 * 2^13 = 2^36


def test_aggregate_of_one_update_at_full_weight_is_the_update_at_scale_2s() -> None:
    update = [0, 1, -1, 4096, -4096, MAX_QUANTIZED - 1, -(MAX_QUANTIZED - 1)]
    assert aggregate([update], [ONE]) == tuple(ONE * v for v in update) == scaled_update(update, SCALE)
    assert training_values(aggregate([update], [ONE]), len(update), SCALE) == tuple(update)


def test_training_values_round_half_away_from_zero_over_the_model_rows() -> None:
    # S / 2^13 = +-0.5, +-1.5, +-2.5 (halves away from zero), just below / above a half; then two pad rows
    s = [4096, -4096, 12288, -12288, 20480, -20480, 4095, -4095, 4097, -4097, 99, 12345]
    assert training_values(s, 10, SCALE) == (1, -1, 2, -2, 3, -3, 0, 0, 1, -1)
    assert rescale(4096, SCALE) == 1 and rescale(-4096, SCALE) == -1
    with pytest.raises(RoundError, match="the aggregate has 2 rows, the model 3"):
        training_values([1, 2], 3, SCALE)


def test_training_values_are_within_half_a_unit_of_the_exact_weighted_mean() -> None:
    """Property (seeded): rounding happens once, on S: |t_j - sum_i w_i x_ij / 2^s| <= 1/2, and against the
    sample-count mean sum_i n_i x_ij / N the only extra error is the weights' rounding (m units of weight), where
    no share is capped (the cap deliberately moves the mean away from the declared counts)."""
    rng = random.Random(31337)
    for _ in range(300):
        slots, size = rng.randint(1, 5), 31
        counts = [rng.choice([0, rng.randint(1, 5000)]) for _ in range(slots)]
        counts[rng.randrange(slots)] = rng.randint(1, 5000)
        total = sum(counts)
        weights = normalized_weights(counts, SCALE)
        if max(weights) == share_cap(sum(1 for n in counts if n), SCALE):
            continue
        updates = [[rng.randint(-ONE, ONE) for _ in range(size)] for _ in range(slots)]
        result = training_values(aggregate(updates, weights), size, SCALE)
        m = sum(1 for n in counts if n)
        for j in range(size):
            with_weights = Fraction(sum(w * u[j] for w, u in zip(weights, updates, strict=True)), ONE)
            assert abs(result[j] - with_weights) <= Fraction(1, 2)
            exact = Fraction(sum(n * u[j] for n, u in zip(counts, updates, strict=True)), total)
            assert abs(result[j] - exact) <= Fraction(1, 2) + sum(Fraction(m * abs(u[j]), ONE) for u in updates)
