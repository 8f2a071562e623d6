"""The bundled clinical data sets as raw tables: which exist, what each holds, how SUPPORT2 is encoded.

Kept apart from the federated split (:mod:`zkfl_dapp.ml.data`) because what a data set *is* (its source,
licence, outcome, dropped columns and feature encoding) is one concern, and how it is held out, imputed,
partitioned across hospitals and standardized is another. Both ship inside installed packages: nothing is
downloaded at run time.

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
    the training part only (the test patients do not influence it); see
    :attr:`~zkfl_dapp.ml.data.FeatureStatistics.fill`. The SUPPORT documentation's fixed "normal values" would
    be an alternative; medians keep one rule for every feature.
"""

from __future__ import annotations

from functools import cache
from typing import Final, Literal, get_args

import numpy as np
from numpy.typing import NDArray
from sklearn.datasets import load_breast_cancer

from zkfl_dapp.exceptions import DataError

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
def raw_dataset(dataset: DatasetName) -> tuple[NDArray[np.float64], NDArray[np.int64], tuple[str, ...]]:
    """The whole data set (features may hold NaN for missing values), labels and feature names; read-only."""
    x_all, y_all, names = _support2() if dataset == "support2" else _breast_cancer()
    x_all.flags.writeable = False
    y_all.flags.writeable = False
    return x_all, y_all, names


def feature_names(dataset: DatasetName = DEFAULT_DATASET) -> tuple[str, ...]:
    """The feature names of a bundled data set, in column order."""
    check_dataset(dataset)
    return raw_dataset(dataset)[2]


def check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise DataError(f"dataset must be one of {DATASETS}, got {dataset!r}")
