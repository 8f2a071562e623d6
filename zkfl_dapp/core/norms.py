"""Norm bounds on updates, exactly as the commit-and-prove norm circuit computes them.

A hospital proves ``dist2(u, S) <= b`` where ``u`` is its update (scale ``2**s``, the local model it
submits), ``S`` the previous aggregate (scale ``2**(2 s)``, exactly what RoundManager committed) and ``b``
the round's bound on the *squared* L2 distance at scale ``2**(2 s)``. Over the model rows only (the pad
rows never enter) the circuit computes

    dist2 = rescale(sum_j (2**s u_j - S_j)**2, 2 s)

one dot product rescaled once, half away from zero. The norm circuit's public flag must equal
:func:`within_bound` bit for bit; tests pin that.

A model committed in chunks (:class:`zkfl_dapp.core.layout.CommitmentLayout`) is proven chunk by chunk:
each chunk proof publishes ``ss_c = rescale(sum_{j in chunk c} (2**s u_j - S_j)**2, 2 s)`` and the round's
distance is ``sum_c ss_c`` (added as integers by the contract). The functions below take a layout in place of
``model_size`` for that case.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from zkfl_dapp.core.aggregation import rescale
from zkfl_dapp.core.fixedpoint import AGGREGATE_RANGE, round_half_away
from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.exceptions import ConfigError, RoundError

#: The norm circuit's comparison range: every input and output is range-checked below 2**36, so a bound
#: ``b`` and a distance more than this apart cannot be compared (no proof exists).
NORM_CIRCUIT_RANGE = AGGREGATE_RANGE


def chunk_distances(
    update: Sequence[int], aggregate: Sequence[int], scale_bits: int, layout: CommitmentLayout
) -> tuple[int, ...]:
    """Per committed vector ``c``: ``ss_c = rescale(sum_{model rows j of c} (2**s u_j - S_j)**2, 2 s)`` (the
    value each chunk's norm proof compares with its budget; one value for a one-chunk layout), over flat
    ``layout`` vectors."""
    one, k = 1 << scale_bits, layout.chunk
    return tuple(
        rescale(sum((one * int(a) - int(b)) ** 2 for a, b in zip(u[:k], g[:k], strict=True)), 2 * scale_bits)
        for u, g in zip(layout.vectors(update), layout.vectors(aggregate), strict=True)
    )


def squared_distance(
    update: Sequence[int], aggregate: Sequence[int], scale_bits: int, model_size: int | CommitmentLayout
) -> int:
    """``rescale(sum_{j < d} (2**s u_j - S_j)**2, 2 s)``: the norm circuit's left-hand side; for a chunked
    layout the sum of the chunks' (:func:`chunk_distances`)."""
    if isinstance(model_size, CommitmentLayout):
        if model_size.chunked:
            return sum(chunk_distances(update, aggregate, scale_bits, model_size))
        model_size = model_size.model_size
    if len(update) < model_size or len(aggregate) < model_size:
        raise RoundError(f"update has {len(update)} values, the aggregate {len(aggregate)}, the model {model_size}")
    one = 1 << scale_bits
    total = sum((one * u - g) ** 2 for u, g in zip(update[:model_size], aggregate[:model_size], strict=True))
    return rescale(total, 2 * scale_bits)


def update_norm(
    update: Sequence[int], aggregate: Sequence[int], scale_bits: int, model_size: int | CommitmentLayout
) -> float:
    """``||u - S||`` as the norm circuit measures it (the statistic the enclave publishes for the policy)."""
    return bound_from_quantized(squared_distance(update, aggregate, scale_bits, model_size), scale_bits)


def bound_sq_quantized(bound: float, scale_bits: int) -> int:
    """The on-chain bound ``b`` for an L2 bound ``bound``: ``round(bound**2 * 2**(2 s))``."""
    if not (math.isfinite(bound) and bound > 0):
        raise ConfigError(f"a norm bound must be a positive finite number, got {bound}")
    b = round_half_away(bound * bound * float(1 << (2 * scale_bits)))
    if not 0 < b < NORM_CIRCUIT_RANGE:
        raise ConfigError(
            f"norm bound {bound:g} is outside what the norm circuit can compare at scale 2^{2 * scale_bits} "
            f"(bound**2 * 2^{2 * scale_bits} must be in 1..{NORM_CIRCUIT_RANGE - 1})"
        )
    return b


def bound_from_quantized(bound_sq: int, scale_bits: int) -> float:
    """The L2 bound that an on-chain ``b`` stands for (``sqrt(b / 2**(2 s))``)."""
    return math.sqrt(bound_sq / float(1 << (2 * scale_bits)))


def within_bound(
    update: Sequence[int], aggregate: Sequence[int], bound_sq: int, scale_bits: int, model_size: int | CommitmentLayout
) -> bool:
    """The norm circuit's flag: ``dist2(u, S) <= b``."""
    return squared_distance(update, aggregate, scale_bits, model_size) <= bound_sq


def provable_distance(
    update: Sequence[int], aggregate: Sequence[int], scale_bits: int, model_size: int | CommitmentLayout
) -> bool:
    """Whether the norm circuit can prove anything about ``update``: its distance fits the range check (and
    so, for any valid bound, can be compared with it). Outside it no proof exists at all, so such an update
    can never be submitted to a bounded round. (Chunked: every chunk's and so the total's.)"""
    if isinstance(model_size, CommitmentLayout) and model_size.chunked:
        parts = chunk_distances(update, aggregate, scale_bits, model_size)
        return sum(parts) < NORM_CIRCUIT_RANGE
    return squared_distance(update, aggregate, scale_bits, model_size) < NORM_CIRCUIT_RANGE
