"""Federated splits of a bundled clinical data set: Wisconsin breast cancer or SUPPORT2 6-month mortality.

:func:`load_federated` loads one of :data:`~zkfl_dapp.ml.datasets.DATASETS`, holds out a stratified test
set, imputes and standardizes every feature with statistics of the training part only, and partitions the
training part across hospitals either IID or with Dirichlet label skew. Both data sets ship inside installed
packages: nothing is downloaded at run time.

The data sets themselves (sources, outcomes, encodings) are described in :mod:`zkfl_dapp.ml.datasets`;
the partition across hospitals is :mod:`zkfl_dapp.ml.partition`.

Every feature of both data sets is standardized with the mean and standard deviation of the training
part only, combined from each hospital's count, sum and sum of squares
(:class:`~zkfl_dapp.ml.statistics.SufficientStatistics`, :attr:`FederatedSplit.contributions`), not from
the pooled rows: the statistics a consortium publishes (:mod:`zkfl_dapp.ml.statistics`). The SUPPORT2
imputation medians are still taken over the whole training part (medians do not combine from sums);
records files a hospital brings itself (:mod:`zkfl_dapp.ml.records`) may not hold missing values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split

from zkfl_dapp.exceptions import DataError
from zkfl_dapp.ml.datasets import DEFAULT_DATASET, DatasetName, check_dataset, raw_dataset
from zkfl_dapp.ml.partition import dirichlet_partition, iid_partition
from zkfl_dapp.ml.statistics import PublishedStatistics, SufficientStatistics, combined_mean_std

SplitKind = Literal["iid", "dirichlet"]
"""How the training data is partitioned across hospitals."""

DEFAULT_MIN_SAMPLES: Final = 10
"""Default minimum number of training samples per hospital."""


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
        statistics: The statistics the shards and the test set were standardized with, combined from
            ``contributions`` (None for a split built by hand).
        contributions: Each hospital's count, sum and sum of squares over its raw (imputed) shard, in shard
            order: all that the statistics are computed from.
    """

    shards: tuple[Dataset, ...]
    test: Dataset
    feature_names: tuple[str, ...]
    statistics: FeatureStatistics | None = None
    contributions: tuple[SufficientStatistics, ...] = ()

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


def _impute(
    x_train: NDArray[np.float64], *others: NDArray[np.float64]
) -> tuple[NDArray[np.float64], tuple[NDArray[np.float64], ...]]:
    """Training medians per feature (``fill``) and the arrays with every NaN replaced by them."""
    observed = ~np.isnan(x_train)
    if not np.all(observed.any(axis=0)):
        raise DataError("a feature has no observed value in the training part; use a larger training part")
    fill = np.nanmedian(x_train, axis=0)
    return fill, tuple(np.where(np.isnan(a), fill, a) for a in (x_train, *others))


def _train_test(
    dataset: DatasetName, test_fraction: float, seed: int
) -> tuple[
    NDArray[np.float64], NDArray[np.float64], NDArray[np.int64], NDArray[np.int64], tuple[str, ...], NDArray[np.float64]
]:
    """The data set's stratified train/test split, imputed with training medians (raw scale otherwise):
    x_train, x_test, y_train, y_test, names, fill (the per-feature training medians)."""
    x_all, y_all, names = raw_dataset(dataset)
    x_train, x_test, y_train, y_test = train_test_split(
        x_all, y_all, test_size=test_fraction, stratify=y_all, random_state=seed
    )
    fill, (x_train, x_test) = _impute(x_train, x_test)
    return x_train, x_test, y_train, y_test, names, fill


def load_federated(
    num_hospitals: int,
    *,
    dataset: DatasetName = DEFAULT_DATASET,
    split: SplitKind = "iid",
    alpha: float = 0.5,
    test_fraction: float = 0.2,
    seed: int = 0,
    min_samples: int = DEFAULT_MIN_SAMPLES,
    raw: bool = False,
) -> FederatedSplit:
    """Loads a bundled data set split across ``num_hospitals`` hospitals.

    Steps: stratified held-out test split; imputation of missing values with training medians; partition
    of the training part (IID: shuffled near-equal parts; ``"dirichlet"``: per-class Dirichlet(``alpha``)
    proportions, smaller ``alpha`` = more label skew), shards shuffled; standardization of every shard and
    the test set with the training mean and std combined from each shard's sums
    (:attr:`FederatedSplit.contributions`; equal, up to float rounding, to :func:`training_statistics`).
    The result depends only on the arguments.

    Args:
        num_hospitals: Number of training shards (>= 1).
        dataset: One of :data:`~zkfl_dapp.ml.datasets.DATASETS` (described there).
        split: ``"iid"`` or ``"dirichlet"``.
        alpha: Dirichlet concentration (> 0); ignored for IID.
        test_fraction: Fraction of samples held out for testing, in (0, 1).
        seed: Seed for the test split, the partition and the shuffles.
        min_samples: Minimum training samples per hospital (>= 1).
        raw: Keep the shards and the test set on their raw (imputed, unstandardized) scale; the statistics
            are computed all the same.

    Returns:
        The federated split.

    Raises:
        DataError: On invalid arguments, or if the training part cannot give every hospital
            ``min_samples`` samples.
    """
    if isinstance(num_hospitals, bool) or not isinstance(num_hospitals, int) or num_hospitals < 1:
        raise DataError(f"num_hospitals must be a positive int, got {num_hospitals!r}")
    check_dataset(dataset)
    if split not in ("iid", "dirichlet"):
        raise DataError(f"split must be 'iid' or 'dirichlet', got {split!r}")
    if not (np.isfinite(alpha) and alpha > 0):
        raise DataError(f"alpha must be a positive finite number, got {alpha!r}")
    _check_split_args(test_fraction, seed)
    if min_samples < 1:
        raise DataError(f"min_samples must be >= 1, got {min_samples!r}")

    x_train, x_test, y_train, y_test, feature_names, fill = _train_test(dataset, test_fraction, seed)
    if len(y_train) < num_hospitals * min_samples:
        raise DataError(
            f"{len(y_train)} training samples cannot give {num_hospitals} hospitals "
            f"{min_samples} samples each; use fewer hospitals or a smaller test_fraction"
        )
    ys_train, ys_test = y_train.astype(np.float32), y_test.astype(np.float32)

    rng = np.random.default_rng([seed, 0x5A4B464C])  # independent of sklearn's stream
    if split == "iid":
        parts = iid_partition(len(y_train), num_hospitals, rng)
    else:
        parts = dirichlet_partition(y_train, num_hospitals, alpha, min_samples, rng)

    shard_rows = [rng.permutation(q) for q in parts]
    contributions = tuple(SufficientStatistics.of(x_train[p]) for p in shard_rows)
    _, mean, std = combined_mean_std(contributions)
    stats = FeatureStatistics(feature_names=feature_names, mean=mean, std=np.where(std > 0, std, 1.0), fill=fill)

    def scale(x: NDArray[np.float64]) -> NDArray[np.floating[Any]]:
        return x if raw else stats.standardize(x)

    shards = tuple(Dataset(x=scale(x_train[p]), y=ys_train[p]) for p in shard_rows)
    return FederatedSplit(
        shards=shards,
        test=Dataset(x=scale(x_test), y=ys_test),
        feature_names=feature_names,
        statistics=stats,
        contributions=contributions,
    )


@dataclass(frozen=True)
class FeatureStatistics:
    """The statistics of a split's training part that :func:`load_federated` imputes and standardizes with.

    Attributes:
        feature_names: The ``f`` feature names, in column order.
        mean: Per-feature mean (after imputation), shape ``[f]``.
        std: Per-feature standard deviation (after imputation), shape ``[f]`` (1.0 for a constant feature: it
            is only centred).
        fill: Per-feature training median that replaces a missing (NaN) raw value, shape ``[f]``; ``None``
            means no imputation (NaN stays NaN).
    """

    feature_names: tuple[str, ...]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    fill: NDArray[np.float64] | None = None

    @classmethod
    def from_published(cls, published: PublishedStatistics) -> FeatureStatistics:
        """The consortium's published statistics (:mod:`zkfl_dapp.ml.statistics`); no imputation."""
        return cls(feature_names=published.feature_names, mean=published.mean, std=published.divisor)

    def standardize(self, raw: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """Raw feature values ``[..., f]`` (NaN = missing) on the scale the consortium's models were trained on."""
        values = np.asarray(raw, dtype=np.float64)
        if self.fill is not None:
            values = np.where(np.isnan(values), self.fill, values)
        return (values - self.mean) / self.std


def training_statistics(
    *, dataset: DatasetName = DEFAULT_DATASET, test_fraction: float = 0.2, seed: int = 0
) -> FeatureStatistics:
    """The training-set statistics :func:`load_federated` imputes and standardizes with, for the same
    ``dataset``, ``test_fraction`` and ``seed``, computed here over the pooled training part: a reference
    for tests and the bundled simulation, equal up to float rounding to what :func:`load_federated`
    combines from the shards' sums (the hospital partition does not change them otherwise). A consortium's
    parties use the published statistics instead (:mod:`zkfl_dapp.ml.statistics`).

    Raises:
        DataError: On an unknown ``dataset`` or an invalid ``test_fraction`` or ``seed``.
    """
    check_dataset(dataset)
    _check_split_args(test_fraction, seed)
    x_train, _, _, _, feature_names, fill = _train_test(dataset, test_fraction, seed)
    mean, std = _mean_std(x_train)
    return FeatureStatistics(feature_names=feature_names, mean=mean, std=std, fill=fill)
