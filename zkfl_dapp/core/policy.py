"""The norm-bound policy: how each round's bound follows from the previous round.

Round 1 uses a configured bound; round ``r > 1`` uses ``kappa`` times the median of the accepted
updates' norms in round ``r - 1`` (a statistic the enclave computes from the decrypted updates and
publishes in the round report), never more than the previous round's bound. The median of norms
ignores up to ``floor((n - 1) / 2)`` inflated norms, and the cap stops an attacker from ratcheting the
bound up round after round. See docs/auditors.md, "Poisoning defence".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from zkfl_dapp.exceptions import ConfigError, RoundError


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

