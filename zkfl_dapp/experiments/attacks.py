"""Malicious hospitals: what a poisoning hospital submits instead of its honest local model.

Every attack maps one :class:`TrainingContext` (the round's global model, the attacker's own shard and
training configuration, the round's public L2 bound when there is one) to the local parameter vector
``u`` the hospital submits: float64, the model's length. The honest hospital submits
``train_local(spec, g, shard, cfg)``; an attacker submits something else, in one of five ways:

* :class:`Boosted`: ``u = g + BOOST_FACTOR * (honest - g)``: model-replacement style scaling.
* :class:`SignFlip`: ``u = g - SIGN_FLIP_FACTOR * (honest - g)``: pushes against the honest direction.
* :class:`GaussianNoise`: ``u = g + N(0, GAUSSIAN_SIGMA**2 I)``, seeded from ``(seed, round, hospital)``.
* :class:`LabelFlip`: honest training on the shard with every label flipped (``y -> 1 - y``); its
  update has an honest-looking norm (the "subtle" attack).
* :class:`TargetedLowNorm`: a targeted attack that stays under the bound: trains on the shard with the
  malignant class relabelled benign (so the model learns to call tumours benign) and scales that
  update to ``TARGETED_BOUND_FRACTION`` of the round's bound, or boosts it by
  ``TARGETED_UNBOUNDED_BOOST`` where no bound is enforced. Its success is measured as the drop in
  malignant recall, not only in accuracy.

Attacks are pure: the same context gives the same vector. The attacker is assumed to know the global
model and the round's bound (both public on-chain) but not the other hospitals' updates (encrypted to
the enclave). Nothing here changes the attacker's claimed sample count; see ``docs/attack-eval.md``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Final

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.exceptions import ConfigError
from zkfl_dapp.ml.data import Dataset
from zkfl_dapp.ml.training import TrainingContext

#: Label of a malignant tumour. scikit-learn's breast-cancer target (kept as is by zkfl_dapp.data) is
#: 0 = malignant, 1 = benign; the model's output is P(y = 1) = P(benign).
MALIGNANT_LABEL: Final = 0
#: Label of a benign tumour.
BENIGN_LABEL: Final = 1

#: Boosted attack: multiple of the honest update delta ``honest - g`` that is submitted.
BOOST_FACTOR: Final = 10.0
#: Sign-flip attack: the delta submitted is ``-SIGN_FLIP_FACTOR`` times the honest one.
SIGN_FLIP_FACTOR: Final = 4.0
#: Gaussian attack: standard deviation of the noise added to every coordinate of ``g``.
GAUSSIAN_SIGMA: Final = 1.0
#: Targeted attack: the submitted delta's L2 norm as a fraction of the round's L2 bound (just inside it).
TARGETED_BOUND_FRACTION: Final = 0.95
#: Targeted attack: boost of the relabelled delta when the system enforces no bound.
TARGETED_UNBOUNDED_BOOST: Final = 5.0


class Attack(ABC):
    """A malicious hospital's behaviour: builds the vector it submits in place of its honest update."""

    #: Short identifier used on the command line and in reports.
    name: ClassVar[str]
    #: An attacker proves and submits its update even beyond the round's bound (the chain must refuse it),
    #: where an honest hospital refuses locally: see zkfl_dapp.protocol.hospital.UpdateSource.
    refuses_out_of_bound: ClassVar[bool] = False

    @abstractmethod
    def craft(self, ctx: TrainingContext) -> NDArray[np.float64]:
        """The local parameter vector ``u`` the malicious hospital submits (float64, model length)."""

    def local_update(self, ctx: TrainingContext) -> NDArray[np.float64]:
        """The hospital's update source interface (zkfl_dapp.protocol.hospital.UpdateSource): :meth:`craft`."""
        return self.craft(ctx)

    def describe(self) -> str:
        """One line for reports: what the attack submits."""
        return self.name


def honest_update(ctx: TrainingContext) -> NDArray[np.float64]:
    """What an honest hospital submits: its locally trained model."""
    return ctx.train()


def flip_labels(shard: Dataset) -> Dataset:
    """The shard with every label flipped (``y -> 1 - y``)."""
    return Dataset(x=shard.x, y=1.0 - shard.y)


def relabel(shard: Dataset, source: int, target: int) -> Dataset:
    """The shard with every ``source`` label replaced by ``target``."""
    y = np.where(shard.y == source, np.float32(target), shard.y)
    return Dataset(x=shard.x, y=y)


def _scaled_delta(g: NDArray[np.float64], delta: NDArray[np.float64], factor: float) -> NDArray[np.float64]:
    return np.asarray(g + factor * delta, dtype=np.float64)


def _check_factor(name: str, value: float) -> None:
    if not (np.isfinite(value) and value > 0):
        raise ConfigError(f"{name} must be a positive finite number, got {value}")


@dataclass(frozen=True)
class Boosted(Attack):
    """Model replacement: the honest delta scaled up, ``u = g + factor * (honest - g)``.

    Attributes:
        factor: The boost (default :data:`BOOST_FACTOR`).
    """

    name: ClassVar[str] = "boosted"
    factor: float = BOOST_FACTOR

    def __post_init__(self) -> None:
        _check_factor("boost factor", self.factor)

    def craft(self, ctx: TrainingContext) -> NDArray[np.float64]:
        g = np.asarray(ctx.global_params, dtype=np.float64)
        return _scaled_delta(g, ctx.train() - g, self.factor)

    def describe(self) -> str:
        return f"u = g + {self.factor:g} * (honest - g)"


@dataclass(frozen=True)
class SignFlip(Attack):
    """The honest delta reversed and scaled, ``u = g - factor * (honest - g)``.

    Attributes:
        factor: The scale of the reversed delta (default :data:`SIGN_FLIP_FACTOR`).
    """

    name: ClassVar[str] = "sign_flip"
    factor: float = SIGN_FLIP_FACTOR

    def __post_init__(self) -> None:
        _check_factor("sign-flip factor", self.factor)

    def craft(self, ctx: TrainingContext) -> NDArray[np.float64]:
        g = np.asarray(ctx.global_params, dtype=np.float64)
        return _scaled_delta(g, ctx.train() - g, -self.factor)

    def describe(self) -> str:
        return f"u = g - {self.factor:g} * (honest - g)"


@dataclass(frozen=True)
class GaussianNoise(Attack):
    """Random noise instead of training, ``u = g + N(0, sigma**2 I)``.

    The noise comes from a NumPy generator seeded by ``(train_config.seed, round_id, hospital)``.

    Attributes:
        sigma: Per-coordinate standard deviation (default :data:`GAUSSIAN_SIGMA`).
    """

    name: ClassVar[str] = "gaussian"
    sigma: float = GAUSSIAN_SIGMA

    def __post_init__(self) -> None:
        _check_factor("noise sigma", self.sigma)

    def craft(self, ctx: TrainingContext) -> NDArray[np.float64]:
        g = np.asarray(ctx.global_params, dtype=np.float64)
        seq = np.random.SeedSequence([ctx.train_config.seed, ctx.round_id, ctx.hospital])
        noise = np.random.default_rng(seq).normal(0.0, self.sigma, size=g.shape[0])
        return np.asarray(g + noise, dtype=np.float64)

    def describe(self) -> str:
        return f"u = g + N(0, {self.sigma:g}^2 I), seeded by (seed, round, hospital)"


@dataclass(frozen=True)
class LabelFlip(Attack):
    """Honest training on the shard with every label flipped: a poisoned update of honest-looking norm."""

    name: ClassVar[str] = "label_flip"

    def craft(self, ctx: TrainingContext) -> NDArray[np.float64]:
        return ctx.train(flip_labels(ctx.shard))

    def describe(self) -> str:
        return "honest training on labels flipped (y -> 1 - y)"


@dataclass(frozen=True)
class TargetedLowNorm(Attack):
    """Malignant relabelled benign, delta scaled to just inside the round's bound.

    Trains from ``g`` on the shard with every malignant label set to benign, then submits
    ``u = g + fraction * bound * d / ||d||`` for ``d`` that relabelled delta when a bound is known
    (the attacker boosts as far as the bound lets it), else ``u = g + unbounded_boost * d``.

    Attributes:
        fraction: ``||u - g||`` as a fraction of the bound (default :data:`TARGETED_BOUND_FRACTION`; < 1
            leaves room for quantization rounding).
        unbounded_boost: The boost without a bound (default :data:`TARGETED_UNBOUNDED_BOOST`).
    """

    name: ClassVar[str] = "targeted_low_norm"
    fraction: float = TARGETED_BOUND_FRACTION
    unbounded_boost: float = TARGETED_UNBOUNDED_BOOST

    def __post_init__(self) -> None:
        _check_factor("bound fraction", self.fraction)
        _check_factor("unbounded boost", self.unbounded_boost)
        if self.fraction >= 1:
            raise ConfigError(f"bound fraction must be below 1 to stay under the bound, got {self.fraction}")

    def craft(self, ctx: TrainingContext) -> NDArray[np.float64]:
        g = np.asarray(ctx.global_params, dtype=np.float64)
        delta = ctx.train(relabel(ctx.shard, MALIGNANT_LABEL, BENIGN_LABEL)) - g
        if ctx.norm_bound is None:
            return _scaled_delta(g, delta, self.unbounded_boost)
        norm = float(np.linalg.norm(delta))
        if norm == 0.0:
            return g.copy()
        return _scaled_delta(g, delta, self.fraction * ctx.norm_bound / norm)

    def describe(self) -> str:
        return (
            f"malignant relabelled benign; ||u - g|| = {self.fraction:g} x bound "
            f"(x {self.unbounded_boost:g} boost where no bound is enforced)"
        )


#: Every attack with its default parameters, by name.
ATTACKS: Final[dict[str, Attack]] = {
    a.name: a for a in (Boosted(), SignFlip(), GaussianNoise(), LabelFlip(), TargetedLowNorm())
}


def get_attack(name: str) -> Attack:
    """The attack called ``name`` with its default parameters.

    Raises:
        ConfigError: If no attack has that name.
    """
    try:
        return ATTACKS[name]
    except KeyError:
        raise ConfigError(f"unknown attack {name!r}; expected one of {sorted(ATTACKS)}") from None


__all__ = [
    "ATTACKS",
    "BENIGN_LABEL",
    "BOOST_FACTOR",
    "GAUSSIAN_SIGMA",
    "MALIGNANT_LABEL",
    "SIGN_FLIP_FACTOR",
    "TARGETED_BOUND_FRACTION",
    "TARGETED_UNBOUNDED_BOOST",
    "Attack",
    "Boosted",
    "GaussianNoise",
    "LabelFlip",
    "SignFlip",
    "TargetedLowNorm",
    "TrainingContext",
    "flip_labels",
    "get_attack",
    "honest_update",
    "relabel",
]
