"""Weighted federated averaging, exactly as the aggregation circuit computes it.

Pure functions: the enclave wraps them, the tests check them alone, and the proof's public output
must equal :func:`fedavg_quantized` bit for bit.

The circuit computes ``avg_j = sum_i rescale(w_i * x_ij)`` where ``w_i`` are the normalized weights at
scale ``2**s`` and ``rescale`` divides by ``2**s`` rounding halves away from zero, *per product*
(ezkl rescales each product before the sum). :func:`normalized_weights` is the same integer formula
RoundManager uses on-chain; its weights sum to exactly ``2**s``.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkfl_dapp.exceptions import RoundError


def normalized_weights(sample_counts: Sequence[int], scale_bits: int) -> tuple[int, ...]:
    """Integer weights at scale ``2**s`` that sum to exactly ``2**s`` over the included slots.

    A slot is included when its count is positive (excluded and empty slots pass 0 and weigh 0). With
    ``m`` included slots and ``N`` their total count, included slot ``i`` weighs
    ``1 + floor(n_i * (2**s - m) / N)``, and what the floors leave (fewer than ``m`` units) goes to the
    first included slot. Every included update keeps a weight of at least 1 (a hospital declaring a huge
    count cannot silently zero the others), and the weights are the sample-count shares to within ``m``
    units of ``2**-s``. RoundManager computes the same integers on-chain.

    Raises:
        RoundError: a negative count, no included slot, or more included slots than ``2**s``.
    """
    if any(n < 0 for n in sample_counts):
        raise RoundError(f"sample counts must be non-negative, got {list(sample_counts)}")
    included = [i for i, n in enumerate(sample_counts) if n > 0]
    if not included:
        raise RoundError("no samples to aggregate: every included update has zero weight")
    one = 1 << scale_bits
    if len(included) > one:
        raise RoundError(f"{len(included)} included slots cannot share 2^{scale_bits} with a weight of 1 each")
    total = sum(sample_counts)
    spare = one - len(included)
    weights = [0] * len(sample_counts)
    for i in included:
        weights[i] = 1 + sample_counts[i] * spare // total
    weights[included[0]] += one - sum(weights)
    return tuple(weights)


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
