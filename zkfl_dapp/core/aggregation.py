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
