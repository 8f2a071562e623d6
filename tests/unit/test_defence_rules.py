"""The defences' reference semantics (zkfl_dapp.core: norms, median, policy): the distance of an update (scale
2^13) to the previous aggregate (scale 2^26) over the model rows, the bound encoding (scale 2^26), the median.

Real norm proofs against RoundManager are in tests/contracts/test_defence.py.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from zkfl_dapp.circuits.kzg_chunk_norm import chunk_sum_of_squares as circuit_squared_distance
from zkfl_dapp.circuits.suite import norm_spec_for
from zkfl_dapp.core.median import fill_slots, median_quantized
from zkfl_dapp.core.norms import (
    NORM_CIRCUIT_RANGE,
    bound_from_quantized,
    bound_sq_quantized,
    provable_distance,
    squared_distance,
    update_norm,
    within_bound,
)
from zkfl_dapp.core.policy import NormBoundPolicy, NormStatistic
from zkfl_dapp.exceptions import ConfigError, RoundError

Q = 13
ONE = 2**Q


def test_squared_distance_rescales_the_sum_once_half_away():
    # u at scale 2^13 against S at scale 2^26: diff = 2^13 u - S; sum of squares / 2^26, rounded once
    assert squared_distance([0], [1], Q, 1) == 0  # 1 / 2^26 -> 0
    assert squared_distance([0], [2**12 + 1], Q, 1) == 0  # (2^12+1)^2 / 2^26 just above 1/4 -> 0
    assert squared_distance([0], [ONE], Q, 1) == 1  # 2^26 / 2^26
    assert squared_distance([0, 0], [6144, 6144], Q, 2) == 1  # 2*0.5625 -> 1
    assert squared_distance([1, -1], [0, 0], Q, 2) == 2  # u = +-1 unit at scale 2^13: (2^13)^2 * 2 / 2^26
    with pytest.raises(RoundError, match="values"):
        squared_distance([1, 2], [1], Q, 2)


def test_squared_distance_reads_only_the_model_rows():
    """The pad rows (after d) never enter: a huge pad changes nothing."""
    assert squared_distance([5, 2**22], [ONE * 5, 0], Q, 1) == 0
    assert squared_distance([5, 0], [ONE * 5, 2**35], Q, 1) == 0


def test_squared_distance_is_the_circuits_left_hand_side():
    rng = np.random.default_rng(3)
    spec = norm_spec_for(31)
    for _ in range(50):
        u = [int(v) for v in rng.integers(-(2**20), 2**20, size=spec.rows)]
        s = [int(v) for v in rng.integers(-(2**33), 2**33, size=spec.rows)]
        assert squared_distance(u, s, Q, 31) == circuit_squared_distance(spec, u, s)


def test_squared_distance_approximates_the_float_norm():
    rng = np.random.default_rng(0)
    g, u = rng.normal(size=31), rng.normal(size=31)
    gq = [round(x * 2 ** (2 * Q)) for x in g]  # the aggregate, at scale 2^26
    uq = [round(x * ONE) for x in u]
    assert update_norm(uq, gq, Q, 31) == pytest.approx(np.linalg.norm(u - g), rel=1e-3)
    assert bound_from_quantized(squared_distance(uq, gq, Q, 31), Q) == update_norm(uq, gq, Q, 31)


def test_bound_encoding_round_trips_and_rejects_bad_bounds():
    assert bound_sq_quantized(1.0, Q) == 2 ** (2 * Q)
    assert bound_from_quantized(bound_sq_quantized(2.5, Q), Q) == pytest.approx(2.5, rel=1e-6)
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ConfigError, match="positive finite"):
            bound_sq_quantized(bad, Q)
    with pytest.raises(ConfigError, match="outside what the norm circuit can compare"):
        bound_sq_quantized(33.0, Q)  # 33^2 * 2^26 > 2^36
    assert bound_sq_quantized(31.0, Q) < NORM_CIRCUIT_RANGE == 2**36


def test_within_bound_is_inclusive():
    u, s = [3, -2, 7], [ONE * 1, 0, 99]  # the third row is a pad row (d = 2)
    d2 = squared_distance(u, s, Q, 2)
    assert d2 == 4 + 4
    assert within_bound(u, s, d2, Q, 2)
    assert not within_bound(u, s, d2 - 1, Q, 2)


def test_provable_distance_follows_the_circuit_range():
    assert squared_distance([100], [0], Q, 1) == 10**4 and provable_distance([100], [0], Q, 1)
    assert squared_distance([2**18], [0], Q, 1) == 2**36 == NORM_CIRCUIT_RANGE  # (2^31)^2 / 2^26
    assert not provable_distance([2**18], [0], Q, 1)
    assert provable_distance([2**18 - 1], [0], Q, 1)


def test_median_network_equals_the_sorted_middle():
    rng = np.random.default_rng(1)
    for _ in range(200):
        slots = [tuple(int(v) for v in rng.integers(-(2**20), 2**20, size=7)) for _ in range(5)]
        assert median_quantized(slots) == tuple(statistics.median(s[j] for s in slots) for j in range(7))
    assert median_quantized([(1,), (3,), (2,)]) == (2,)
    with pytest.raises(RoundError, match="odd number"):
        median_quantized([(1,), (2,)])
    with pytest.raises(RoundError, match="differ in length"):
        median_quantized([(1,), (2, 3), (4,)])


def test_fill_slots_scales_updates_and_puts_the_previous_aggregate_in_empty_slots():
    assert fill_slots([(1, -2), None], (7, 8), Q) == [(ONE, -2 * ONE), (7, 8)]
    with pytest.raises(RoundError, match="slot 0"):
        fill_slots([(1,)], (7, 8), Q)


def test_policy_starts_at_initial_shrinks_geometrically_never_grows_and_keeps_a_floor():
    p = NormBoundPolicy(initial=2.0, kappa=3.0, floor=0.05, learning_rate=0.5)
    assert p.next_bound(None, None) == 2.0
    all_within = NormStatistic(noised_within=5.0, included=5)
    assert p.next_bound(2.0, all_within) == pytest.approx(2.0 * math.exp(-0.25))  # every update within B/kappa
    assert p.next_bound(0.9, NormStatistic(0.0, 5)) == 0.9  # none within: never above the previous bound
    assert p.next_bound(0.9, NormStatistic(2.5, 5)) == 0.9  # at the median: stays
    assert p.next_bound(0.06, all_within) == 0.05  # never below the floor
    with pytest.raises(ConfigError):
        NormBoundPolicy(initial=0.01, floor=0.05)
    with pytest.raises(ConfigError):
        p.next_bound(math.nan, all_within)
    with pytest.raises(ConfigError):
        NormStatistic(math.nan, 5)


def test_the_published_statistic_is_a_noised_count_never_a_norm():
    """The enclave publishes how many updates are within B / kappa, plus Gaussian noise: no update's own
    distance, and no exact count (one hospital's bit) unless the noise is configured off."""
    p = NormBoundPolicy(kappa=2.0, count_noise=1.0)
    norms = [0.11, 0.23, 0.37, 0.52, 0.9]  # bound 1.0: threshold 0.5, three within
    draws = [p.statistic(norms, 1.0, np.random.default_rng(seed)) for seed in range(200)]
    assert all(d.included == 5 for d in draws)
    published = [d.noised_within for d in draws]
    assert not set(published) & {*norms, 3.0}  # no norm, never the exact count
    assert np.mean(published) == pytest.approx(3.0, abs=0.2) and np.std(published) == pytest.approx(1.0, abs=0.15)
    exact = NormBoundPolicy(kappa=2.0, count_noise=0.0).statistic(norms, 1.0, np.random.default_rng(0))
    assert exact == NormStatistic(3.0, 5)
    with pytest.raises(RoundError):
        p.statistic([], 1.0, np.random.default_rng(0))


def test_bound_policy_continues_from_the_latest_bounded_report(tmp_path):
    """`ape run round` in a new process picks the policy up from the reports folder."""
    import json

    from zkfl_dapp.config import Settings
    from zkfl_dapp.protocol.reports import _last_norm_statistics

    settings = Settings(workdir=tmp_path)
    assert _last_norm_statistics(settings) == (None, None)
    settings.reports_dir.mkdir(parents=True)
    for rid, bound, within in ((1, 2.0, 4.2), (2, 1.5, 2.7), (3, None, None)):
        (settings.reports_dir / f"round-{rid}.json").write_text(
            json.dumps({"round_id": rid, "norm_bound": bound, "norm_within_noised": within, "norm_included": 5})
        )
    (settings.reports_dir / "round-9.json").write_text("{not json")
    # round 3 had no bound; round 9 is unreadable
    assert _last_norm_statistics(settings) == (1.5, NormStatistic(2.7, 5))


def test_median_resists_a_boosted_update_that_fedavg_follows():
    """Why the median rule exists: one wild slot moves FedAvg's aggregate arbitrarily far, the median (over
    the scaled updates, as the median circuit takes them) stays within the honest slots' range."""
    from zkfl_dapp.core.aggregation import aggregate, normalized_weights

    rng = np.random.default_rng(5)
    honest = [tuple(int(v) for v in rng.integers(-ONE, ONE, size=31)) for _ in range(4)]
    boosted = tuple(50 * ONE for _ in range(31))
    slots = fill_slots([*honest, boosted], [0] * 31, Q)
    med = median_quantized(slots)
    for j in range(31):
        column = [ONE * u[j] for u in honest]
        assert min(column) <= med[j] <= max(column)
    fedavg = aggregate([*honest, boosted], normalized_weights([1] * 5, Q))
    assert all(v > 9 * ONE * ONE for v in fedavg)  # dragged to ~1/5 of the boosted value
