"""The defences' reference semantics (zkfl_dapp.core: norms, median, policy): distance, bound encoding, median.

That the circuits reproduce these bit for bit is checked with real proofs in tests/contracts/test_defence.py.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from zkfl_dapp.core.median import fill_slots, median_quantized
from zkfl_dapp.core.norms import (
    NORM_CIRCUIT_RANGE,
    bound_from_quantized,
    bound_sq_quantized,
    provable_distance,
    squared_distance_quantized,
    within_bound,
)
from zkfl_dapp.core.policy import NormBoundPolicy, median_norm
from zkfl_dapp.exceptions import ConfigError, RoundError

Q = 13


def test_squared_distance_rescales_each_square_half_up():
    # (1)^2 / 2^13 -> 0; (64)^2 / 2^13 = 0.5 -> 1 (half away from zero); (8192)^2 / 2^13 = 8192
    assert squared_distance_quantized([1], [0], Q) == 0
    assert squared_distance_quantized([64], [0], Q) == 1
    assert squared_distance_quantized([8192, -8192], [0, 0], Q) == 2 * 8192
    with pytest.raises(RoundError, match="values"):
        squared_distance_quantized([1, 2], [1], Q)


def test_squared_distance_approximates_the_float_norm():
    rng = np.random.default_rng(0)
    g, u = rng.normal(size=31), rng.normal(size=31)
    gq, uq = [round(x * 2**Q) for x in g], [round(x * 2**Q) for x in u]
    assert bound_from_quantized(squared_distance_quantized(uq, gq, Q), Q) == pytest.approx(
        np.linalg.norm(u - g), rel=1e-3
    )


def test_bound_encoding_round_trips_and_rejects_bad_bounds():
    assert bound_sq_quantized(1.0, Q) == 8192
    assert bound_from_quantized(bound_sq_quantized(2.5, Q), Q) == pytest.approx(2.5, rel=1e-4)
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ConfigError, match="positive finite"):
            bound_sq_quantized(bad, Q)
    with pytest.raises(ConfigError, match="outside what the norm circuit can compare"):
        bound_sq_quantized(200.0, Q)  # 200^2 * 2^13 > 2^28


def test_within_bound_is_inclusive():
    d2 = squared_distance_quantized([9000, -300], [0, 0], Q)
    assert within_bound([9000, -300], [0, 0], d2, Q)
    assert not within_bound([9000, -300], [0, 0], d2 - 1, Q)


def test_provable_distance_follows_the_circuit_range():
    assert provable_distance([8192 * 100], [0], Q)  # distance 100: sum 10^4 * 2^13 < 2^28
    assert not provable_distance([8192 * 200], [0], Q)  # distance 200: 4 * 10^4 * 2^13 > 2^28
    assert squared_distance_quantized([8192 * 200], [0], Q) >= NORM_CIRCUIT_RANGE


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


def test_fill_slots_puts_the_previous_model_in_empty_slots():
    assert fill_slots([(1, 2), None], (7, 8)) == [(1, 2), (7, 8)]
    with pytest.raises(RoundError, match="slot 0"):
        fill_slots([(1,)], (7, 8))


def test_policy_starts_at_initial_caps_growth_and_keeps_a_floor():
    p = NormBoundPolicy(initial=2.0, kappa=3.0, floor=0.05)
    assert p.next_bound(None, None) == 2.0
    assert p.next_bound(2.0, 0.3) == pytest.approx(0.9)  # 3 x median
    assert p.next_bound(0.9, 1.0) == 0.9  # never above the previous bound
    assert p.next_bound(0.9, 0.001) == 0.05  # never below the floor
    with pytest.raises(ConfigError):
        NormBoundPolicy(initial=0.01, floor=0.05)
    with pytest.raises(ConfigError):
        p.next_bound(1.0, math.nan)


def test_median_norm():
    assert median_norm([3.0, 1.0, 2.0]) == 2.0
    assert median_norm([1.0, 2.0, 3.0, 100.0]) == 2.5
    with pytest.raises(RoundError):
        median_norm([])


def test_bound_policy_continues_from_the_latest_bounded_report(tmp_path):
    """`ape run round` in a new process picks the policy up from the reports folder."""
    import json

    from zkfl_dapp.config import Settings
    from zkfl_dapp.protocol.reports import _last_norm_statistics

    settings = Settings(workdir=tmp_path)
    assert _last_norm_statistics(settings) == (None, None)
    settings.reports_dir.mkdir(parents=True)
    for rid, bound, norm in ((1, 2.0, 0.8), (2, 1.5, 0.3), (3, None, None)):
        (settings.reports_dir / f"round-{rid}.json").write_text(
            json.dumps({"round_id": rid, "norm_bound": bound, "update_norm_median": norm})
        )
    (settings.reports_dir / "round-9.json").write_text("{not json")
    assert _last_norm_statistics(settings) == (1.5, 0.3)  # round 3 had no bound; round 9 is unreadable
