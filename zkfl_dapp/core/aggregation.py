"""Weighted federated averaging, exactly as the aggregation circuit computes it.

Pure functions: the enclave wraps them, the tests check them alone, and the proof's public output
must equal :func:`fedavg_quantized` bit for bit.

The circuit computes ``avg_j = sum_i rescale(w_i * x_ij)`` where ``w_i`` are the normalized weights at
scale ``2**s`` and ``rescale`` divides by ``2**s`` rounding halves away from zero, *per product*
(ezkl rescales each product before the sum). :func:`normalized_weights` is the same integer formula
RoundManager uses on-chain: ``w_i = floor((2 * n_i * 2**s + N) / (2 * N))`` with ``N = sum(n)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkfl_dapp.exceptions import RoundError


def normalized_weights(sample_counts: Sequence[int], scale_bits: int) -> tuple[int, ...]:
    """Fixed-point weights ``round_half_up(n_i * 2**s / sum(n))``; zero counts give zero weight."""
    if any(n < 0 for n in sample_counts):
        raise RoundError(f"sample counts must be non-negative, got {list(sample_counts)}")
    total = sum(sample_counts)
    if total == 0:
        raise RoundError("no samples to aggregate: every included update has zero weight")
    one = 1 << scale_bits
    return tuple((2 * n * one + total) // (2 * total) for n in sample_counts)


def rescale(product: int, scale_bits: int) -> int:
    """``product / 2**s`` rounded half away from zero: how ezkl rescales every product in a circuit."""
    q, r = divmod(abs(product), 1 << scale_bits)
    if 2 * r >= 1 << scale_bits:
        q += 1
    return q if product >= 0 else -q


def fedavg_quantized(updates: Sequence[Sequence[int]], weights: Sequence[int], scale_bits: int) -> tuple[int, ...]:
    """The circuit's weighted average of quantized updates (one row per slot)."""
    if not updates:
        raise RoundError("nothing to aggregate")
    if len(updates) != len(weights):
        raise RoundError(f"{len(updates)} updates but {len(weights)} weights")
    size = len(updates[0])
    if any(len(u) != size for u in updates):
        raise RoundError("updates differ in length")
    return tuple(sum(rescale(w * u[j], scale_bits) for u, w in zip(updates, weights, strict=True)) for j in range(size))
