"""Weighted federated averaging over KZG-committed updates, exactly as RoundManager derives it.

Pure functions: the enclave wraps them, the tests check them alone. Updates ``u_i`` are quantized at scale
``2**s``; :func:`normalized_weights` (the same integer formula RoundManager uses on-chain) gives integer
weights that sum to exactly ``2**s``, and the aggregate is :func:`aggregate`, ``S = sum_i w_i u_i``:
exact, at scale ``2**(2 s)``, no rounding anywhere. Because KZG commitments are additively homomorphic,
RoundManager computes ``C(S)`` from the hospitals' own ``C(u_i)`` (zkfl_dapp.circuits.kzg.combine) without
any proof; the model file must then open ``C(S)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from zkfl_dapp.exceptions import RoundError

#: RoundManager.MAX_SHARE_DENOMINATOR: with m included updates none weighs more than
#: ``ceil(2**s / min(m, MAX_SHARE_DENOMINATOR))`` (one third, rounded up to a whole unit; ``1/m`` when m < 3).
MAX_SHARE_DENOMINATOR: Final = 3


def share_cap(included: int, scale_bits: int, denominator: int = MAX_SHARE_DENOMINATOR) -> int:
    """The most weight one of ``included`` updates may carry: ``ceil(2**s / min(included, denominator))``.
    Always feasible: ``included * cap >= 2**s``."""
    k = min(included, denominator)
    return ((1 << scale_bits) + k - 1) // k


def normalized_weights(
    sample_counts: Sequence[int], scale_bits: int, denominator: int = MAX_SHARE_DENOMINATOR
) -> tuple[int, ...]:
    """Integer weights at scale ``2**s`` that sum to exactly ``2**s`` over the included slots, none above
    :func:`share_cap`: RoundManager._expectedWeights, bit for bit.

    A slot is included when its count is positive (excluded and empty slots pass 0 and weigh 0). Water-filling:
    over the free (not yet capped) slots, with ``R = 2**s - cap * capped`` units and ``N`` their total count,
    slot ``i`` weighs ``1 + floor(n_i * (R - |free|) / N)`` and what the floors leave (fewer than ``|free|``
    units) goes to the first free slot; every free slot above the cap is set to the cap and leaves the free set,
    and the step repeats until none is above it. Without a capped slot this is the plain sample-count share, to
    within ``m`` units of ``2**-s``. Every included update keeps a weight of at least 1 (a huge declared count
    cannot zero the others) and at most the cap (nor buy more than a third of the model).

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
    cap = share_cap(len(included), scale_bits, denominator)
    weights = [0] * len(sample_counts)
    free = list(included)
    rest = one
    while True:
        total = sum(sample_counts[i] for i in free)
        spare = rest - len(free)
        for i in free:
            weights[i] = 1 + sample_counts[i] * spare // total
        weights[free[0]] += rest - sum(weights[i] for i in free)
        over = [i for i in free if weights[i] > cap]
        if not over:
            return tuple(weights)
        for i in over:
            weights[i] = cap
        free = [i for i in free if i not in over]
        rest -= cap * len(over)


def rescale(product: int, scale_bits: int) -> int:
    """``product / 2**s`` rounded half away from zero: how ezkl rescales every product in a circuit."""
    q, r = divmod(abs(product), 1 << scale_bits)
    if 2 * r >= 1 << scale_bits:
        q += 1
    return q if product >= 0 else -q


def aggregate(updates: Sequence[Sequence[int]], weights: Sequence[int]) -> tuple[int, ...]:
    """``S_j = sum_i w_i u_ij`` over every row (model and pad rows): the exact FedAvg aggregate whose
    commitment RoundManager derives. Slots of weight 0 contribute nothing.

    Raises:
        RoundError: no update, or lengths that differ.
    """
    if not updates:
        raise RoundError("nothing to aggregate")
    if len(updates) != len(weights):
        raise RoundError(f"{len(updates)} updates but {len(weights)} weights")
    size = len(updates[0])
    if any(len(u) != size for u in updates):
        raise RoundError("updates differ in length")
    return tuple(sum(w * u[j] for u, w in zip(updates, weights, strict=True) if w) for j in range(size))


def training_values(aggregate_values: Sequence[int], model_size: int, scale_bits: int) -> tuple[int, ...]:
    """The model hospitals train from: ``round_half_away(S_j / 2**s)`` over the first ``model_size`` rows
    (scale ``2**s``). A public, documented function of the committed aggregate: nothing rounds in a proof."""
    if len(aggregate_values) < model_size:
        raise RoundError(f"the aggregate has {len(aggregate_values)} rows, the model {model_size}")
    return tuple(rescale(v, scale_bits) for v in aggregate_values[:model_size])


def scaled_update(update: Sequence[int], scale_bits: int) -> tuple[int, ...]:
    """``2**s * u``: an update at the aggregate's scale (what the norm and median circuits take)."""
    return tuple((1 << scale_bits) * int(v) for v in update)
