"""Poisoning defences, exactly as the circuits compute them: norm bounds and the coordinate-wise median.

Pure functions on quantized integers (scale ``2**s``). The norm circuit's public flag and the median
circuit's public output must equal what these functions return, bit for bit; tests pin that.

* **Norm bound.** A hospital proves ``dist2(u, g) <= b`` where ``u`` is its update (the local model it
  submits), ``g`` the previous global model and ``b`` the round's bound on the *squared* L2 distance,
  all quantized. The circuit computes ``dist2 = sum_j rescale((u_j - g_j)**2)``: each square is
  rescaled back to scale ``s`` (half away from zero, like every ezkl product) before the sum.
* **Median.** The robust rule: the coordinate-wise median of the slots' updates (Flower's FedMedian).
  Slots without an included update carry the previous global model ``g`` instead, so an absent or
  excluded hospital votes "no change" rather than being dropped from the median.
* **Bound policy.** Round 1 uses a configured bound; round ``r > 1`` uses ``kappa`` times the median of
  the accepted updates' norms in round ``r - 1`` (a statistic the enclave computes from the decrypted
  updates and publishes in the round report), never more than the previous round's bound. The median
  of norms ignores up to ``floor((n - 1) / 2)`` inflated norms, and the cap stops an attacker from
  ratcheting the bound up round after round. See README, "Poisoning defence".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from zkfl_dapp.aggregation import rescale
from zkfl_dapp.exceptions import ConfigError, RoundError
from zkfl_dapp.quantization import round_half_away

#: The norm circuit's comparison range: ezkl decomposes values in 2 legs of base 2**14, so every
#: compared or rescaled value must stay below 2**28 in magnitude (a larger one cannot be proven at all).
NORM_CIRCUIT_RANGE = 2**28

#: The median selection network for 5 slots (a 9-comparator sorting network; index 2 is the median).
MEDIAN5_NETWORK: tuple[tuple[int, int], ...] = ((0, 1), (3, 4), (2, 4), (2, 3), (0, 3), (0, 2), (1, 4), (1, 3), (1, 2))


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


def fill_slots(updates: Sequence[Sequence[int] | None], prev: Sequence[int]) -> list[tuple[int, ...]]:
    """The median circuit's inputs: each slot's update, or the previous global model where there is none."""
    out = []
    for i, u in enumerate(updates):
        if u is None:
            out.append(tuple(prev))
        elif len(u) != len(prev):
            raise RoundError(f"slot {i}: update has {len(u)} values, the global model {len(prev)}")
        else:
            out.append(tuple(u))
    return out


def median_quantized(slots: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """Coordinate-wise median of an odd number of slots (the circuit's output for 5 slots).

    For 5 slots this runs the circuit's own selection network (min/max by ``relu``), so the result is
    exactly what the proof shows; for other odd counts it is the plain sorted middle value, which the
    network computes too.
    """
    if not slots or len(slots) % 2 == 0:
        raise RoundError(f"the median rule needs an odd number of slots, got {len(slots)}")
    size = len(slots[0])
    if any(len(s) != size for s in slots):
        raise RoundError("slots differ in length")
    if len(slots) == 5:
        out = []
        for j in range(size):
            v = [s[j] for s in slots]
            for a, b in MEDIAN5_NETWORK:
                lo, hi = min(v[a], v[b]), max(v[a], v[b])
                v[a], v[b] = lo, hi
            out.append(v[2])
        return tuple(out)
    mid = len(slots) // 2
    return tuple(sorted(s[j] for s in slots)[mid] for j in range(size))


@dataclass(frozen=True)
class NormBoundPolicy:
    """How the admin sets each round's bound (see the module docstring).

    Attributes:
        initial: the L2 bound of the first bounded round.
        kappa: multiple of the previous round's median accepted-update norm.
        floor: the bound never goes below this (keeps honest updates of a converged model provable).
    """

    initial: float = 2.0
    kappa: float = 3.0
    floor: float = 0.05

    def __post_init__(self) -> None:
        for name in ("initial", "kappa", "floor"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"norm bound policy: {name} must be a positive finite number, got {value}")
        if self.floor > self.initial:
            raise ConfigError(f"norm bound policy: floor {self.floor} exceeds the initial bound {self.initial}")

    def next_bound(self, previous_bound: float | None, previous_median_norm: float | None) -> float:
        """The L2 bound of the next round, from the previous round's bound and median accepted norm."""
        if previous_bound is None or previous_median_norm is None:
            return self.initial
        if not (math.isfinite(previous_median_norm) and previous_median_norm >= 0):
            raise ConfigError(f"median update norm must be finite and non-negative, got {previous_median_norm}")
        return max(self.floor, min(previous_bound, self.kappa * previous_median_norm))


def median_norm(norms: Sequence[float]) -> float:
    """The median of accepted updates' L2 norms (the statistic the next bound is derived from)."""
    if not norms:
        raise RoundError("no accepted updates: no norm statistic")
    ordered = sorted(norms)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


__all__ = [
    "MEDIAN5_NETWORK",
    "NORM_CIRCUIT_RANGE",
    "NormBoundPolicy",
    "bound_from_quantized",
    "bound_sq_quantized",
    "fill_slots",
    "median_norm",
    "median_quantized",
    "provable_distance",
    "squared_distance_quantized",
    "update_norm",
    "within_bound",
]
