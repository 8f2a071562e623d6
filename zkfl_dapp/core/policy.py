"""The norm-bound policy: how each round's bound follows from the previous round, from a statistic that is
no hospital's own figure.

Round 1 uses a configured bound ``B_1``. After a bounded round ``r`` the enclave counts the included
updates whose distance to the previous model is at most ``B_r / kappa`` and publishes only that count plus
Gaussian noise (``c~ = c + N(0, count_noise^2)``, drawn inside the enclave) and the number of included
updates ``m``. The next bound moves geometrically (the private quantile estimate of Andrew et al., "Differentially
Private Learning with Adaptive Clipping", NeurIPS 2021, with target quantile 1/2)::

    B_{r+1} = max(floor, B_r * min(1, exp(-eta * (c~ / m - 1/2))))

so the bound shrinks while more than half of the updates are within ``B_r / kappa`` and settles near ``kappa``
times the median update norm (what the earlier, exact-median policy aimed at), never rising. One hospital
changes the count by at most 1: the published count is a Gaussian mechanism of sensitivity 1 with noise
multiplier ``count_noise`` (accounted in :mod:`zkfl_dapp.core.privacy`), and the bound is post-processing
of it. No exact norm, median or distance is published. A minority moves the count by at most its size, so it
cannot keep the bound from shrinking faster than ``exp(-eta * (1/2 - k/m))`` nor raise it (it never rises).
See docs/privacy.md and docs/auditors.md, "Poisoning defence".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zkfl_dapp.exceptions import ConfigError, RoundError

#: The quantile of the update norms that ``bound / kappa`` tracks.
TARGET_QUANTILE = 0.5


@dataclass(frozen=True)
class NormStatistic:
    """What a round publishes for the next bound: the noised count and the number of included updates."""

    #: included updates whose distance to the previous model is at most ``bound / kappa``, plus Gaussian noise
    noised_within: float
    #: included updates (public anyway: the submissions less the declared exclusions)
    included: int

    def __post_init__(self) -> None:
        if self.included < 1 or not math.isfinite(self.noised_within):
            raise ConfigError(f"norm statistic: {self.included} included updates, count {self.noised_within}")


@dataclass(frozen=True)
class NormBoundPolicy:
    """How the admin sets each round's bound (see the module docstring).

    Attributes:
        initial: the L2 bound of the first bounded round.
        kappa: the bound tracks ``kappa`` times the median accepted-update norm.
        floor: the bound never goes below this (keeps honest updates of a converged model provable).
        learning_rate: ``eta``, the geometric step of the bound per round.
        count_noise: standard deviation of the Gaussian noise on the published count (its noise multiplier:
            sensitivity 1); 0 publishes the exact count (one hospital's bit: refused off the tests).
    """

    initial: float = 2.0
    kappa: float = 3.0
    floor: float = 0.05
    learning_rate: float = 0.5
    count_noise: float = 2.0

    def __post_init__(self) -> None:
        for name in ("initial", "kappa", "floor", "learning_rate"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"norm bound policy: {name} must be a positive finite number, got {value}")
        if not (math.isfinite(self.count_noise) and self.count_noise >= 0):
            raise ConfigError(f"norm bound policy: count_noise must be finite and >= 0, got {self.count_noise}")
        if self.floor > self.initial:
            raise ConfigError(f"norm bound policy: floor {self.floor} exceeds the initial bound {self.initial}")

    def threshold(self, bound: float) -> float:
        """The distance the enclave counts updates within, in a round with L2 bound ``bound``."""
        return bound / self.kappa

    def next_bound(self, previous_bound: float | None, statistic: NormStatistic | None) -> float:
        """The L2 bound of the next round, from the previous bounded round's bound and published statistic."""
        if previous_bound is None or statistic is None:
            return self.initial
        if not (math.isfinite(previous_bound) and previous_bound > 0):
            raise ConfigError(f"previous bound must be positive and finite, got {previous_bound}")
        fraction = statistic.noised_within / statistic.included
        factor = min(1.0, math.exp(-self.learning_rate * (fraction - TARGET_QUANTILE)))
        return max(self.floor, previous_bound * factor)

    def statistic(self, norms: Sequence[float], bound: float, rng: np.random.Generator) -> NormStatistic:
        """The enclave's published statistic of a round with L2 bound ``bound`` whose included updates are
        ``norms`` from the previous model (the noise is drawn from ``rng``: the system's entropy in the
        enclave, a seeded generator in simulations)."""
        if not norms:
            raise RoundError("no accepted updates: no norm statistic")
        within = sum(1 for n in norms if n <= self.threshold(bound))
        noise = float(rng.normal(0.0, self.count_noise)) if self.count_noise else 0.0
        return NormStatistic(noised_within=round(within + noise, 6), included=len(norms))


def enclave_rng() -> np.random.Generator:
    """A generator seeded from the operating system's entropy (the enclave's noise; never a fixed seed)."""
    return np.random.default_rng()
