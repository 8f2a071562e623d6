"""Norm bounds on updates, exactly as the norm circuit computes them.

A hospital proves ``dist2(u, g) <= b`` where ``u`` is its update (the local model it submits), ``g`` the
previous global model and ``b`` the round's bound on the *squared* L2 distance, all quantized at scale
``2**s``. The circuit computes ``dist2 = sum_j rescale((u_j - g_j)**2)``: each square is rescaled back to
scale ``s`` (half away from zero, like every ezkl product) before the sum. The norm circuit's public
flag must equal what :func:`within_bound` returns, bit for bit; tests pin that.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from zkfl_dapp.core.aggregation import rescale
from zkfl_dapp.core.fixedpoint import round_half_away
from zkfl_dapp.exceptions import ConfigError, RoundError

#: The norm circuit's comparison range: ezkl decomposes values in 2 legs of base 2**14, so every
#: compared or rescaled value must stay below 2**28 in magnitude (a larger one cannot be proven at all).
NORM_CIRCUIT_RANGE = 2**28


def squared_distance_quantized(update: Sequence[int], prev: Sequence[int], scale_bits: int) -> int:
    """``sum_j rescale((u_j - g_j)**2)`` at scale ``2**s``: the norm circuit's left-hand side."""
    if len(update) != len(prev):
        raise RoundError(f"update has {len(update)} values, the global model {len(prev)}")
    return sum(rescale((u - g) * (u - g), scale_bits) for u, g in zip(update, prev, strict=True))


def update_norm(update: Sequence[int], prev: Sequence[int], scale_bits: int) -> float:
    """``||u - g||`` as the norm circuit measures it (the statistic the enclave publishes for the policy)."""
    return bound_from_quantized(squared_distance_quantized(update, prev, scale_bits), scale_bits)


def bound_sq_quantized(bound: float, scale_bits: int) -> int:
    """The on-chain bound ``b`` for an L2 bound ``bound``: ``round(bound**2 * 2**s)``."""
    if not (math.isfinite(bound) and bound > 0):
        raise ConfigError(f"a norm bound must be a positive finite number, got {bound}")
    b = round_half_away(bound * bound * float(1 << scale_bits))
    if not 0 < b < NORM_CIRCUIT_RANGE:
        raise ConfigError(
            f"norm bound {bound:g} is outside what the norm circuit can compare at scale 2^{scale_bits} "
            f"(bound**2 * 2^{scale_bits} must be in 1..{NORM_CIRCUIT_RANGE - 1})"
        )
    return b


def bound_from_quantized(bound_sq: int, scale_bits: int) -> float:
    """The L2 bound that an on-chain ``b`` stands for (``sqrt(b / 2**s)``)."""
    return math.sqrt(bound_sq / float(1 << scale_bits))


def within_bound(update: Sequence[int], prev: Sequence[int], bound_sq: int, scale_bits: int) -> bool:
    """The norm circuit's flag: ``dist2(u, g) <= b``."""
    return squared_distance_quantized(update, prev, scale_bits) <= bound_sq


def provable_distance(update: Sequence[int], prev: Sequence[int], scale_bits: int) -> bool:
    """Whether the norm circuit can prove anything about ``update`` (its values fit the circuit's range).

    Every rescaled square is at most their sum, so the sum staying inside the range is what counts.
    Outside the range no proof exists at all, so such an update can never be submitted to a bounded round.
    """
    return squared_distance_quantized(update, prev, scale_bits) < NORM_CIRCUIT_RANGE

