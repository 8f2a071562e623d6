"""Federated splits of the Wisconsin breast-cancer data set.

:func:`load_federated` loads scikit-learn's bundled copy (569 samples, 30 features; label 1 =
benign, 0 = malignant), holds out a stratified test set, standardizes every feature with the
mean and standard deviation of the training part only, and partitions the training part across
hospitals either IID or with Dirichlet label skew.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from zkfl_dapp.exceptions import DataError

SplitKind = Literal["iid", "dirichlet"]
"""How the training data is partitioned across hospitals."""

DEFAULT_MIN_SAMPLES: Final = 10
"""Default minimum number of training samples per hospital."""
_DIRICHLET_ATTEMPTS: Final = 100


@dataclass(frozen=True)
class Dataset:
    """Features and binary labels.

    Arrays are validated and stored as C-contiguous float32.

    Attributes:
        x: Features, shape ``[n, f]``.
        y: Labels in ``{0, 1}``, shape ``[n]``.
    """

    x: NDArray[np.float32]
    y: NDArray[np.float32]

    def __post_init__(self) -> None:
        x = np.ascontiguousarray(self.x, dtype=np.float32)
        y = np.ascontiguousarray(self.y, dtype=np.float32)
        if x.ndim != 2:
            raise DataError(f"features must be a 2-D array [n, f], got shape {x.shape}")
        if y.ndim != 1 or y.shape[0] != x.shape[0]:
            raise DataError(f"labels must have shape [{x.shape[0]}], got {y.shape}")
        if not np.all(np.isfinite(x)):
            raise DataError("features contain NaN or inf")
        if not np.all((y == 0) | (y == 1)):
            raise DataError("labels must be 0 or 1")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    @property
    def num_samples(self) -> int:
        """Number of samples ``n``."""
        return int(self.x.shape[0])

    @property
    def num_features(self) -> int:
        """Number of features ``f``."""
        return int(self.x.shape[1])

    def positive_fraction(self) -> float:
        """Fraction of samples labelled 1 (0.0 for an empty data set)."""
        return float(self.y.mean()) if self.num_samples else 0.0


@dataclass(frozen=True)
class FederatedSplit:
    """Per-hospital training shards plus a shared held-out test set.

    Attributes:
        shards: One training data set per hospital, disjoint.
        test: The held-out test set (standardized with the training statistics).
        feature_names: Names of the ``f`` feature columns.
    """

    shards: tuple[Dataset, ...]
    test: Dataset
    feature_names: tuple[str, ...]

    @property
    def num_features(self) -> int:
        """Number of features."""
        return len(self.feature_names)

    def shard_sizes(self) -> tuple[int, ...]:
        """Number of training samples per hospital (the FedAvg weights)."""
        return tuple(shard.num_samples for shard in self.shards)


def standardize(
    train_x: NDArray[np.floating[Any]], *others: NDArray[np.floating[Any]]
) -> tuple[NDArray[np.float32], ...]:
    """Standardizes arrays with the per-feature mean and std of ``train_x`` only.

    Constant features (std 0) are only centred.

    Args:
        train_x: Training features ``[n, f]``; the statistics come from here.
        *others: Further arrays ``[m, f]`` (e.g. the test set) transformed with the same statistics.

    Returns:
        ``(train_x', *others')`` as float32 arrays.
    """
    mean, std = _mean_std(train_x)
    return tuple(((a - mean) / std).astype(np.float32) for a in (train_x, *others))


def _mean_std(train_x: NDArray[np.floating[Any]]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-feature mean and std (1.0 where the std is 0: constant features are only centred)."""
    std = train_x.std(axis=0, dtype=np.float64)
    return train_x.mean(axis=0, dtype=np.float64), np.where(std > 0, std, 1.0)


def _check_split_args(test_fraction: float, seed: int) -> None:
    if not 0 < test_fraction < 1:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    if seed < 0:
        raise DataError(f"seed must be non-negative, got {seed!r}")


def _train_test(
    test_fraction: float, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], tuple[str, ...]]:
    """The data set's stratified train/test split (raw features): x_train, x_test, y_train, y_test, names."""
    bunch = load_breast_cancer()
    x_all = np.asarray(bunch.data, dtype=np.float64)
    y_all = np.asarray(bunch.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x_all, y_all, test_size=test_fraction, stratify=y_all, random_state=seed
    )
    return x_train, x_test, y_train, y_test, tuple(str(name) for name in bunch.feature_names)


def _iid_partition(n: int, num_hospitals: int, rng: np.random.Generator) -> list[NDArray[np.int64]]:
    """Shuffles ``range(n)`` and cuts it into ``num_hospitals`` nearly equal parts."""
    return list(np.array_split(rng.permutation(n), num_hospitals))


def _dirichlet_draw(
    y: NDArray[np.int64], num_hospitals: int, alpha: float, rng: np.random.Generator
) -> list[NDArray[np.int64]]:
    """One label-skewed partition: each class is split with Dirichlet(alpha) proportions."""
    parts: list[list[int]] = [[] for _ in range(num_hospitals)]
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        proportions = rng.dirichlet(np.full(num_hospitals, alpha))
        cuts = (np.cumsum(proportions)[:-1] * len(members)).astype(int)
        for hospital, chunk in enumerate(np.split(members, cuts)):
            parts[hospital].extend(chunk.tolist())
    return [np.asarray(p, dtype=np.int64) for p in parts]


def _rebalance(parts: list[NDArray[np.int64]], min_samples: int, rng: np.random.Generator) -> list[NDArray[np.int64]]:
    """Moves random samples from the largest parts to parts below ``min_samples``."""
    pools = [list(rng.permutation(p)) for p in parts]
    for needy in range(len(pools)):
        while len(pools[needy]) < min_samples:
            donor = max(range(len(pools)), key=lambda i: (len(pools[i]), -i))
            pools[needy].append(pools[donor].pop())
    return [np.asarray(p, dtype=np.int64) for p in pools]


def _dirichlet_partition(
    y: NDArray[np.int64],
    num_hospitals: int,
    alpha: float,
    min_samples: int,
    rng: np.random.Generator,
) -> list[NDArray[np.int64]]:
    """Label-skewed partition where every hospital gets at least ``min_samples`` samples.

    Redraws up to a fixed number of times (the usual FL recipe); if no draw qualifies, the best
    one is rebalanced deterministically by moving samples from the largest hospitals.
    """
    best: list[NDArray[np.int64]] = []
    best_min = -1
    for _ in range(_DIRICHLET_ATTEMPTS):
        parts = _dirichlet_draw(y, num_hospitals, alpha, rng)
        smallest = min(len(p) for p in parts)
        if smallest >= min_samples:
            return parts
        if smallest > best_min:
            best, best_min = parts, smallest
    return _rebalance(best, min_samples, rng)


def load_federated(
    num_hospitals: int,
    *,
    split: SplitKind = "iid",
    alpha: float = 0.5,
    test_fraction: float = 0.2,
    seed: int = 0,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> FederatedSplit:
    """Loads the breast-cancer data set split across ``num_hospitals`` hospitals.

    Steps: stratified held-out test split; standardization with training statistics only;
    partition of the training part (IID: shuffled near-equal parts; ``"dirichlet"``: per-class
    Dirichlet(``alpha``) proportions, smaller ``alpha`` = more label skew). Shards are shuffled.
    The result depends only on the arguments.

    Args:
        num_hospitals: Number of training shards (>= 1).
        split: ``"iid"`` or ``"dirichlet"``.
        alpha: Dirichlet concentration (> 0); ignored for IID.
        test_fraction: Fraction of samples held out for testing, in (0, 1).
        seed: Seed for the test split, the partition and the shuffles.
        min_samples: Minimum training samples per hospital (>= 1).

    Returns:
        The federated split.

    Raises:
        DataError: On invalid arguments, or if the training part cannot give every hospital
            ``min_samples`` samples.
    """
    if isinstance(num_hospitals, bool) or not isinstance(num_hospitals, int) or num_hospitals < 1:
        raise DataError(f"num_hospitals must be a positive int, got {num_hospitals!r}")
    if split not in ("iid", "dirichlet"):
        raise DataError(f"split must be 'iid' or 'dirichlet', got {split!r}")
    if not (np.isfinite(alpha) and alpha > 0):
        raise DataError(f"alpha must be a positive finite number, got {alpha!r}")
    _check_split_args(test_fraction, seed)
    if min_samples < 1:
        raise DataError(f"min_samples must be >= 1, got {min_samples!r}")

    x_train, x_test, y_train, y_test, feature_names = _train_test(test_fraction, seed)
    if len(y_train) < num_hospitals * min_samples:
        raise DataError(
            f"{len(y_train)} training samples cannot give {num_hospitals} hospitals "
            f"{min_samples} samples each; use fewer hospitals or a smaller test_fraction"
        )
    xs_train, xs_test = standardize(x_train, x_test)
    ys_train, ys_test = y_train.astype(np.float32), y_test.astype(np.float32)

    rng = np.random.default_rng([seed, 0x5A4B464C])  # independent of sklearn's stream
    if split == "iid":
        parts = _iid_partition(len(y_train), num_hospitals, rng)
    else:
        parts = _dirichlet_partition(y_train, num_hospitals, alpha, min_samples, rng)

    shards = tuple(Dataset(x=xs_train[p], y=ys_train[p]) for p in (rng.permutation(q) for q in parts))
    return FederatedSplit(shards=shards, test=Dataset(x=xs_test, y=ys_test), feature_names=feature_names)


@dataclass(frozen=True)
class FeatureStatistics:
    """The per-feature mean and standard deviation of a split's training part (what :func:`standardize` uses).

    Attributes:
        feature_names: The ``f`` feature names, in column order.
        mean: Per-feature mean, shape ``[f]``.
        std: Per-feature standard deviation, shape ``[f]`` (1.0 for a constant feature: it is only centred).
    """

    feature_names: tuple[str, ...]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]

    def standardize(self, raw: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """Raw feature values ``[..., f]`` on the scale the consortium's models were trained on."""
        return (np.asarray(raw, dtype=np.float64) - self.mean) / self.std


def training_statistics(*, test_fraction: float = 0.2, seed: int = 0) -> FeatureStatistics:
    """The training-set statistics :func:`load_federated` standardizes with, for the same ``test_fraction`` and
    ``seed`` (the hospital partition does not change them).

    Raises:
        DataError: On an invalid ``test_fraction`` or ``seed``.
    """
    _check_split_args(test_fraction, seed)
    x_train, _, _, _, feature_names = _train_test(test_fraction, seed)
    mean, std = _mean_std(x_train)
    return FeatureStatistics(feature_names=feature_names, mean=mean, std=std)
