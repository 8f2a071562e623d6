"""Distributed differential privacy of the FedAvg aggregate, and its accounting.

**Mechanism.** With DP on (``ZKFL_DP_NOISE_MULTIPLIER`` = ``z`` > 0), every hospital clips its model delta
``u - g`` to the L2 norm ``C`` and adds Gaussian noise ``N(0, sigma_h^2 I)`` with ``sigma_h = z C / sqrt(t)``
*before* quantizing and committing (:meth:`DpConfig.privatize`): the commitment, the norm proof and the
exact aggregate cover the noised update, so everything stays checkable. ``t`` is the number of honest
hospitals the consortium assumes in every round (``ZKFL_DP_HONEST_HOSPITALS``, default the quorum): with at
least ``t`` honest included hospitals of equal weight the aggregate carries noise of standard deviation
``z C / m`` per coordinate around a sum of sensitivity ``C / m`` (noise multiplier ``z``), whatever the
others do (colluders know, and can subtract, only their own noise).

**Clip and bound.** The norm proof bounds the noised update, so ``C`` leaves room for the noise:
``C = 0.99 B / (1 + z sqrt(q_d / t))`` with ``q_d = d + 2 sqrt(d x) + 2 x``, ``x = ln(1 / tail)`` (the
Laurent-Massart chi-square bound: ``||noise|| <= sigma_h sqrt(q_d)`` except with probability ``tail``); a
hospital whose noised update still falls outside (probability below ``tail``, added to delta) sits the
round out. The 1% covers the 2^-13 quantization.

**Unequal weights.** FedAvg weights follow the declared counts, so the guarantee of hospital ``j`` is computed
from the round's on-chain weights (:func:`effective_noise_multiplier`): the aggregate's noise from ``j`` and the
``t - 1`` lightest other included hospitals, over ``j``'s weighted sensitivity ``w_j C``; the round publishes
the worst over its hospitals, and, against ``n - 1`` colluders (only ``j``'s own noise left), ``z / sqrt(t)``.

**Accounting.** Google's ``dp-accounting`` (RDP accountant): each round composes the update mechanism (when
on) with the bound policy's noised count (sensitivity 1, noise multiplier ``count_noise``; core.policy);
epsilon at ``delta`` per round and composed over the rounds each hospital took part in. The unit is one
hospital (its whole shard), which covers every set of its patients. The median rule is not a sum: a median
round gets no update guarantee (epsilon infinite). Floating-point Gaussian sampling then rounding to 2^-13 is
not the discrete Gaussian of Kairouz et al. (2021); see docs/privacy.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.exceptions import ConfigError, NormBoundError

if TYPE_CHECKING:
    import dp_accounting

#: The share of the bound left for the 2^-13 quantization of the noised update.
QUANTIZATION_SLACK = 0.99


@dataclass(frozen=True)
class DpConfig:
    """The consortium's DP setting (see the module docstring)."""

    #: z: the aggregate's noise standard deviation over one hospital's sensitivity (t honest, equal weights)
    noise_multiplier: float
    #: t: honest included hospitals assumed in every round
    honest_hospitals: int
    #: the delta epsilon is reported at
    delta: float = 1e-5
    #: probability that a noised update falls outside the bound anyway (the hospital then sits the round out)
    tail: float = 1e-9

    def __post_init__(self) -> None:
        if not (math.isfinite(self.noise_multiplier) and self.noise_multiplier > 0):
            raise ConfigError(f"DP noise multiplier must be positive and finite, got {self.noise_multiplier}")
        if self.honest_hospitals < 1:
            raise ConfigError(f"DP needs at least one honest hospital per round, got {self.honest_hospitals}")
        if not (0 < self.delta < 1 and 0 < self.tail < 1):
            raise ConfigError(f"DP delta {self.delta} and tail {self.tail} must be in (0, 1)")

    def clip_norm(self, bound: float, dimension: int) -> float:
        """C: the clip that keeps ``clip + noise`` within the L2 ``bound`` except with probability ``tail``."""
        x = math.log(1 / self.tail)
        q = dimension + 2 * math.sqrt(dimension * x) + 2 * x
        return QUANTIZATION_SLACK * bound / (1 + self.noise_multiplier * math.sqrt(q / self.honest_hospitals))

    def hospital_sigma(self, clip: float) -> float:
        """sigma_h: one hospital's noise standard deviation per coordinate (variance ``(z C)^2 / t``)."""
        return self.noise_multiplier * clip / math.sqrt(self.honest_hospitals)

    def privatize(
        self, global_params: NDArray[np.float64], local: NDArray[np.float64], bound: float, rng: np.random.Generator
    ) -> NDArray[np.float64]:
        """``g + clip_C(u - g) + N(0, sigma_h^2 I)``: what the hospital commits to and proves within ``bound``.

        Raises:
            NormBoundError: the noised update falls outside the bound (probability below ``tail``): sit out.
        """
        delta = np.asarray(local, dtype=np.float64) - global_params
        clip = self.clip_norm(bound, delta.shape[0])
        norm = float(np.linalg.norm(delta))
        if norm > clip:
            delta = delta * (clip / norm)
        noised = delta + rng.normal(0.0, self.hospital_sigma(clip), size=delta.shape)
        if float(np.linalg.norm(noised)) > bound * QUANTIZATION_SLACK:
            raise NormBoundError("the DP-noised update falls outside the round's bound (a tail event): sitting out")
        return np.asarray(global_params + noised, dtype=np.float64)


def effective_noise_multiplier(z: float, t: int, weights: Sequence[float], j: int) -> float:
    """Hospital ``j``'s noise multiplier in a round with normalized FedAvg ``weights`` of the included hospitals,
    when only ``j`` and the ``t - 1`` lightest other included hospitals are honest (their noise is all that is
    left once the others subtract theirs)."""
    if not 0 <= j < len(weights) or weights[j] <= 0:
        raise ConfigError(f"hospital {j} has no weight in this round")
    others = sorted(w for i, w in enumerate(weights) if i != j and w > 0)[: max(0, t - 1)]
    noise = z / math.sqrt(t) * math.sqrt(weights[j] ** 2 + sum(w * w for w in others))
    return noise / weights[j]


def round_multipliers(z: float, t: int, weights: Sequence[float]) -> tuple[float, float]:
    """The round's worst effective noise multiplier over its included hospitals (t honest), and against
    ``n - 1`` colluders (only a hospital's own noise: ``z / sqrt(t)``)."""
    included = [i for i, w in enumerate(weights) if w > 0]
    if not included:
        raise ConfigError("no included hospital: no DP guarantee to compute")
    worst = min(effective_noise_multiplier(z, min(t, len(included)), weights, j) for j in included)
    return worst, z / math.sqrt(t)


def _event(multipliers: Sequence[float]) -> dp_accounting.DpEvent:
    import dp_accounting

    events: list[Any] = [
        dp_accounting.GaussianDpEvent(m) if m > 0 else dp_accounting.NonPrivateDpEvent() for m in multipliers
    ]
    return events[0] if len(events) == 1 else dp_accounting.ComposedDpEvent(events)


def epsilon(rounds: Sequence[Sequence[float]], delta: float) -> float:
    """Epsilon at ``delta`` (RDP accountant) of composing the rounds, each a list of Gaussian mechanisms'
    noise multipliers (0: not private, epsilon infinite)."""
    if not rounds:
        return 0.0
    if any(m <= 0 for r in rounds for m in r):
        return math.inf
    from dp_accounting import rdp  # the accounting only: the Flower environment noises updates without it

    accountant = rdp.RdpAccountant()
    for r in rounds:
        accountant.compose(_event(r))
    return float(accountant.get_epsilon(delta))
