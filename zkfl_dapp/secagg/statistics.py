"""The standardisation statistics combined under the same masking: the combiner sees only the totals.

A hospital's :class:`~zkfl_dapp.ml.statistics.SufficientStatistics` (row count, per-feature sum and sum of squares)
becomes one integer vector ``(count, round(sum * 2**s) ..., round(sum_sq * 2**s) ...)`` at scale ``2**s``
(:data:`STATS_SCALE_BITS`), masked with weight 1 in a session of purpose ``"stats"`` (its own setup bundles, so no
seed is shared with a training round). The unmasked total is exactly the sum of the hospitals' vectors; each
hospital's rounding error is at most ``2**-(s+1)`` per sum, far below the float64 precision of the sums themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from zkfl_dapp.core.fixedpoint import round_half_away
from zkfl_dapp.exceptions import SecAggError
from zkfl_dapp.ml.statistics import SufficientStatistics
from zkfl_dapp.secagg.field import FieldVector
from zkfl_dapp.secagg.masking import mask_input, total_mask

__all__ = ["STATS_PURPOSE", "STATS_SCALE_BITS", "mask_statistics", "statistics_of_total", "statistics_vector"]

STATS_PURPOSE = "stats"
#: Fixed-point scale of the masked sums.
STATS_SCALE_BITS = 24


def statistics_vector(stats: SufficientStatistics, scale_bits: int = STATS_SCALE_BITS) -> tuple[int, ...]:
    """``(count, sums..., sums of squares...)`` as integers at ``2**scale_bits`` (length ``1 + 2 f``)."""
    factor = float(2**scale_bits)
    return (
        int(stats.count),
        *(round_half_away(float(v) * factor) for v in stats.total),
        *(round_half_away(float(v) * factor) for v in stats.total_sq),
    )


def statistics_of_total(total: Sequence[int], scale_bits: int = STATS_SCALE_BITS) -> SufficientStatistics:
    """The combined statistics of an unmasked total vector (:func:`statistics_vector`'s layout)."""
    if len(total) < 3 or len(total) % 2 != 1:
        raise SecAggError(f"a statistics vector has length 1 + 2 f, got {len(total)}")
    f = (len(total) - 1) // 2
    factor = float(2**scale_bits)
    sums = np.asarray(total[1 : 1 + f], dtype=np.float64) / factor
    sums_sq = np.asarray(total[1 + f :], dtype=np.float64) / factor
    return SufficientStatistics(int(total[0]), sums, sums_sq)


def mask_statistics(
    stats: SufficientStatistics, me: str, self_seed: bytes, seeds: Mapping[str, bytes],
    scale_bits: int = STATS_SCALE_BITS,
) -> FieldVector:  # fmt: skip
    """The masked statistics vector of hospital ``me`` (seeds from its ``"stats"`` session: ``masking.pair_seeds``)."""
    values = statistics_vector(stats, scale_bits)
    return mask_input(values, 1, total_mask(me, self_seed, seeds, STATS_PURPOSE, len(values)))
