"""Federated splits of a bundled clinical data set: Wisconsin breast cancer or SUPPORT2 6-month mortality.

:func:`load_federated` loads one of :data:`DATASETS`, holds out a stratified test set, imputes and
standardizes every feature with statistics of the training part only, and partitions the training part
across hospitals either IID or with Dirichlet label skew. Both data sets ship inside installed packages:
nothing is downloaded at run time.

``"breast-cancer"`` (the default)
    scikit-learn's bundled copy of the Wisconsin diagnostic breast-cancer set (BSD-3 via scikit-learn;
    originally UCI, CC BY 4.0): 569 patients, 30 numeric features, no missing values; label 1 = benign,
    0 = malignant.

``"support2"``
    SUPPORT2 (Study to Understand Prognoses and Preferences for Outcomes and Risks of Treatments; Knaus et
    al., Ann Intern Med 1995), 9,105 seriously ill hospitalized adults, as shipped in the ``SurvSet`` wheel
    (GPL-3.0; pinned in ``requirements.txt``; ``SurvLoader().load_dataset("support2")``, a pickled pandas
    frame built by ``SurvSet._datagen.Cprocess.vanderbilt.process_support2`` from Vanderbilt's
    ``support2.csv``, https://hbiostat.org/data/repo/Csupport2.html).

    *Outcome.* Label 1 = death within :data:`SUPPORT2_HORIZON_DAYS` = 180 days of study entry
    (``event == 1 and time <= 180``), 0 = alive at day 180. Censoring: a patient censored before the
    horizon (``event == 0 and time < 180``) has an unknown label and is dropped; in SurvSet 0.2.11 there is
    none (the shortest censored follow-up is 344 days), so all 9,105 patients are kept (4,265 positives,
    46.8 %). A censored patient with ``time >= 180`` is known alive at the horizon: label 0.

    *Dropped columns (leakage).* ``pid``, ``event``, ``time`` (identifier and outcome); ``surv2m`` and
    ``surv6m`` (the SUPPORT prognostic model's 2- and 6-month survival estimates: a model's answer to this
    very question); ``sfdm2`` (functional disability at the 2-month interview; its level
    ``"<2 mo. follow-up"`` means the patient died before it, i.e. it encodes the outcome); ``dnr`` (a do-not-
    resuscitate order, mostly written after study entry, ``"dnr after sadm"``: post-baseline information);
    ``dzclass`` (a coarsening of ``dzgroup``) and SurvSet's categorical copy of ``num.co`` (a duplicate of
    the numeric one). Vanderbilt's other outcome or post-entry columns (``hospdead``, ``slos``, ``dnrday``,
    ``charges``, ``totcst``, ``totmcst``) are not in SurvSet's frame.

    *Features* (:data:`SUPPORT2_FEATURES`, 59 columns). 22 numeric baseline measurements (age, number of
    comorbidities, education, coma score, day of entry, SUPPORT physiology score, vital signs, laboratory
    values, activities-of-daily-living indices); categoricals encoded with SurvSet's fixed category lists
    (not learnt from the data): ``sex``, ``diabetes``, ``dementia`` as one 0/1 column each, ``dzgroup``
    (8), ``race`` (6, including SurvSet's ``"missing"`` level), ``ca`` (3) and ``income`` (5, including
    ``"missing"``) one-hot; plus a 0/1 missingness indicator ``"<name>_missing"`` for each of the 12 numeric
    features with substantial missingness (:data:`SUPPORT2_MISSING_INDICATORS`: in SUPPORT an unmeasured
    laboratory value is itself informative).

    *Imputation.* Every remaining missing numeric value (NaN) is replaced by the median of that feature over
    the training part only (the test patients do not influence it); see :attr:`FeatureStatistics.fill`.
    The SUPPORT documentation's fixed "normal values" would be an alternative; medians keep one rule for
    every feature.

Every feature of both data sets is then standardized with the mean and standard deviation of the training
part only, combined from each hospital's count, sum and sum of squares
(:class:`~zkfl_dapp.ml.statistics.SufficientStatistics`, :attr:`FederatedSplit.contributions`), not from
the pooled rows: the statistics a consortium publishes (:mod:`zkfl_dapp.ml.statistics`). The SUPPORT2
imputation medians are still taken over the whole training part (medians do not combine from sums);
records files a hospital brings itself (:mod:`zkfl_dapp.ml.records`) may not hold missing values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Final, Literal, get_args

import numpy as np
from numpy.typing import NDArray
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from zkfl_dapp.exceptions import DataError
from zkfl_dapp.ml.statistics import PublishedStatistics, SufficientStatistics, combined_mean_std

SplitKind = Literal["iid", "dirichlet"]
"""How the training data is partitioned across hospitals."""

DatasetName = Literal["breast-cancer", "support2"]
"""A bundled data set (see the module docstring)."""
DATASETS: Final[tuple[DatasetName, ...]] = get_args(DatasetName)
DEFAULT_DATASET: Final[DatasetName] = "breast-cancer"

SUPPORT2_HORIZON_DAYS: Final = 180
"""SUPPORT2's label: death within this many days of study entry."""
SUPPORT2_NUMERIC: Final = (
    "age", "num_co", "edu", "scoma", "hday", "sps", "meanbp", "wblc", "hrt", "resp", "temp",
    "pafi", "alb", "bili", "crea", "sod", "ph", "glucose", "bun", "urine", "adlp", "adls",
)  # fmt: skip
"""SUPPORT2's numeric features (SurvSet's ``num_<name>`` columns), in column order."""
SUPPORT2_BINARY: Final = {"sex": "male", "diabetes": 1, "dementia": 1}
"""SUPPORT2's two-level categoricals, each one 0/1 column ``<name>=<level>``."""
SUPPORT2_ONE_HOT: Final = ("dzgroup", "race", "ca", "income")
"""SUPPORT2's categoricals encoded one-hot over SurvSet's fixed category list, ``<name>=<level>``."""
SUPPORT2_MISSING_INDICATORS: Final = (
    "edu", "wblc", "pafi", "alb", "bili", "crea", "ph", "glucose", "bun", "urine", "adlp", "adls",
)  # fmt: skip
"""Numeric SUPPORT2 features that also get a 0/1 column ``<name>_missing`` (each is missing for 0.7-62 %
of patients; the other numeric features are missing for at most one patient)."""
SUPPORT2_DROPPED: Final = (
    "pid", "event", "time", "num_surv2m", "num_surv6m", "fac_sfdm2", "fac_dnr", "fac_dzclass", "fac_num_co",
)  # fmt: skip
"""SurvSet's ``support2`` columns that never become features (outcome, leakage, duplicates: module docstring)."""

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


def _breast_cancer() -> tuple[NDArray[np.float64], NDArray[np.int64], tuple[str, ...]]:
    bunch = load_breast_cancer()
    names = tuple(str(name) for name in bunch.feature_names)
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64), names


def _support2() -> tuple[NDArray[np.float64], NDArray[np.int64], tuple[str, ...]]:
    """SUPPORT2 encoded as in the module docstring; missing numeric values stay NaN (imputed after the split)."""
    try:
        from SurvSet.data import SurvLoader
    except ImportError as exc:  # pragma: no cover - the package is pinned in requirements.txt
        raise DataError("the support2 data set needs the SurvSet package (pip install SurvSet==0.2.11)") from exc
    frame = SurvLoader().load_dataset("support2")["df"]
    expected = {
        *SUPPORT2_DROPPED,
        *(f"num_{n}" for n in SUPPORT2_NUMERIC),
        *(f"fac_{n}" for n in (*SUPPORT2_BINARY, *SUPPORT2_ONE_HOT)),
    }
    if set(frame.columns) != expected:
        raise DataError(f"SurvSet's support2 has unexpected columns {sorted(set(frame.columns) ^ expected)}")
    event = frame["event"].to_numpy(dtype=np.int64)
    time = frame["time"].to_numpy(dtype=np.int64)
    known = (event == 1) | (time >= SUPPORT2_HORIZON_DAYS)  # censored before the horizon: label unknown
    label = ((event == 1) & (time <= SUPPORT2_HORIZON_DAYS)).astype(np.int64)

    columns: list[NDArray[np.float64]] = []
    names: list[str] = []
    for name in SUPPORT2_NUMERIC:
        columns.append(frame[f"num_{name}"].to_numpy(dtype=np.float64, na_value=np.nan))
        names.append(name)
    for name, level in SUPPORT2_BINARY.items():
        column = frame[f"fac_{name}"]
        if len(column.cat.categories) != 2 or level not in set(column.cat.categories) or column.isna().any():
            raise DataError(f"SurvSet's support2 column {name!r} is not binary with level {level!r}")
        columns.append((column == level).to_numpy(dtype=np.float64))
        names.append(f"{name}={level}")
    for name in SUPPORT2_ONE_HOT:
        column = frame[f"fac_{name}"]
        if column.isna().any():
            raise DataError(f"SurvSet's support2 column {name!r} has missing categories")
        for level in column.cat.categories:
            columns.append((column == level).to_numpy(dtype=np.float64))
            names.append(f"{name}={level}")
    for name in SUPPORT2_MISSING_INDICATORS:
        columns.append(frame[f"num_{name}"].isna().to_numpy(dtype=np.float64))
        names.append(f"{name}_missing")
    x_all = np.stack(columns, axis=1)
    return x_all[known], label[known], tuple(names)


@cache
def _raw(dataset: DatasetName) -> tuple[NDArray[np.float64], NDArray[np.int64], tuple[str, ...]]:
    """The whole data set (features may hold NaN for missing values), labels and feature names; read-only."""
    x_all, y_all, names = _support2() if dataset == "support2" else _breast_cancer()
    x_all.flags.writeable = False
    y_all.flags.writeable = False
    return x_all, y_all, names


def feature_names(dataset: DatasetName = DEFAULT_DATASET) -> tuple[str, ...]:
    """The feature names of a bundled data set, in column order."""
    _check_dataset(dataset)
    return _raw(dataset)[2]


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise DataError(f"dataset must be one of {DATASETS}, got {dataset!r}")


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
    x_all, y_all, names = _raw(dataset)
    x_train, x_test, y_train, y_test = train_test_split(
        x_all, y_all, test_size=test_fraction, stratify=y_all, random_state=seed
    )
    fill, (x_train, x_test) = _impute(x_train, x_test)
    return x_train, x_test, y_train, y_test, names, fill


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
        dataset: One of :data:`DATASETS` (module docstring).
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
    _check_dataset(dataset)
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
        parts = _iid_partition(len(y_train), num_hospitals, rng)
    else:
        parts = _dirichlet_partition(y_train, num_hospitals, alpha, min_samples, rng)

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
    _check_dataset(dataset)
    _check_split_args(test_fraction, seed)
    x_train, _, _, _, feature_names, fill = _train_test(dataset, test_fraction, seed)
    mean, std = _mean_std(x_train)
    return FeatureStatistics(feature_names=feature_names, mean=mean, std=std, fill=fill)
