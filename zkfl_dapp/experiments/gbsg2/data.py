"""GBSG2 (German Breast Cancer Study Group 2, 686 women) as a consortium's own data: loaded from the SurvSet
package (a dependency, GPLv3), its schema, its split into three hospitals' files (2 CSV, 1 Parquet) and a held-out
test file, and the baselines a proven federation is compared with (a central model on the pooled training rows,
plain float FedAvg).

The outcome is recurrence (or death) within 3 years (1,095 days) of surgery: ``yes`` for an event before day
1,095, ``no`` for a woman followed up event-free to day 1,095 or later; the 129 women censored earlier have no
known 3-year status and are left out, which leaves 557. The 8 features are the study's covariates, the three
categorical ones coded as numbers (hormone therapy and postmenopausal 0/1, tumour grade 1-3).

The split files are written at run time by :func:`write_split` (into the run's work directory; nothing of the
data set is in the repository). ``examples/gbsg2/schema.json`` is :func:`schema` (a test checks it). Nothing
outside the experiments imports this module.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.exceptions import DataError
from zkfl_dapp.ml.data import Dataset
from zkfl_dapp.ml.model import ModelSpec, predict_proba
from zkfl_dapp.ml.schema import FeatureSpec, OutcomeSpec, RecordSchema
from zkfl_dapp.ml.statistics import PublishedStatistics
from zkfl_dapp.ml.training import TrainConfig, fedavg_float, train_local

EXAMPLE: Final = REPO_ROOT / "examples" / "gbsg2"
SCHEMA_FILE: Final = EXAMPLE / "schema.json"
#: SurvSet's name of the data set (``SurvLoader().load_dataset``).
SURVSET_NAME: Final = "GBSG2"
#: SHA-256 of the frame SurvSet 0.2.11 loads, written as ``frame.to_csv(index=False, lineterminator="\n")``
#: (columns pid, event, time, num_age, num_tsize, num_pnodes, num_progrec, num_estrec, fac_horTh, fac_menostat,
#: fac_tgrade): another SurvSet release that changes the rows is refused instead of silently changing the example.
RAW_SHA256: Final = "faa32bc98690986e6e872692fdad7254bce6b767fb46ce0d3101c6c77cae3e9a"
HORIZON_DAYS: Final = 1095
#: The three hospitals' files and the held-out test file, in order.
HOSPITAL_FILES: Final = ("hospital-0.csv", "hospital-1.csv", "hospital-2.parquet")
TEST_FILE: Final = "test.csv"
SPLIT_SEED: Final = 21


def frame_sha256(frame: pd.DataFrame) -> str:
    """The SHA-256 :data:`RAW_SHA256` pins: of the frame written as CSV (no index, ``\\n`` line ends)."""
    return hashlib.sha256(frame.to_csv(index=False, lineterminator="\n").encode()).hexdigest()


def load_raw() -> pd.DataFrame:
    """GBSG2 as SurvSet ships it (686 rows; ``event``/``time`` and ``num_``/``fac_`` covariates).

    Raises:
        DataError: SurvSet is missing or its GBSG2 is not the pinned one.
    """
    try:
        from SurvSet.data import SurvLoader
    except ImportError as exc:  # a dependency in requirements.txt
        raise DataError("the GBSG2 example needs the SurvSet package (requirements.txt: SurvSet==0.2.11)") from exc
    return check_raw(SurvLoader().load_dataset(SURVSET_NAME)["df"])


def check_raw(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` if it is the pinned GBSG2 (see :data:`RAW_SHA256`).

    Raises:
        DataError: it is not.
    """
    if frame_sha256(frame) != RAW_SHA256:
        raise DataError(f"this is not SurvSet 0.2.11's GBSG2 (SHA-256 {RAW_SHA256[:16]}... expected)")
    return frame


def schema() -> RecordSchema:
    """The consortium's schema: 8 features with units and plausible ranges, the 3-year outcome, a patient id."""
    features = (
        FeatureSpec(name="hormone_therapy", unit="1", min=0.0, max=1.0),
        FeatureSpec(name="age", unit="years", min=18.0, max=100.0),
        FeatureSpec(name="postmenopausal", unit="1", min=0.0, max=1.0),
        FeatureSpec(name="tumour_size", unit="mm", min=0.0, max=200.0),
        FeatureSpec(name="tumour_grade", unit="grade", min=1.0, max=3.0),
        FeatureSpec(name="positive_nodes", unit="count", min=0.0, max=100.0),
        FeatureSpec(name="progesterone_receptor", unit="fmol/mg", min=0.0),
        FeatureSpec(name="estrogen_receptor", unit="fmol/mg", min=0.0),
    )
    return RecordSchema(
        features=features,
        outcome=OutcomeSpec(column="recurrence_3y", positive=("yes",), negative=("no",)),
        id_column="patient_id",
    )


def labelled_rows(raw: pd.DataFrame | None = None) -> pd.DataFrame:
    """The 557 women with a known 3-year status, in the schema's columns (id, 8 features, outcome).

    Raises:
        DataError: ``raw`` (default: :func:`load_raw`) is not the pinned GBSG2.
    """
    d = load_raw() if raw is None else check_raw(raw)
    event = (d["event"] == 1) & (d["time"] < HORIZON_DAYS)
    known = event | (d["time"] >= HORIZON_DAYS)
    out = pd.DataFrame(
        {
            "patient_id": [f"gbsg2-{i + 1:03d}" for i in range(len(d))],
            "hormone_therapy": (d["fac_horTh"].astype(str) == "yes").astype(int),
            "age": d["num_age"],
            "postmenopausal": (d["fac_menostat"].astype(str) == "Post").astype(int),
            "tumour_size": d["num_tsize"],
            "tumour_grade": d["fac_tgrade"].astype(str).map({"I": 1, "II": 2, "III": 3}).astype(int),
            "positive_nodes": d["num_pnodes"],
            "progesterone_receptor": d["num_progrec"],
            "estrogen_receptor": d["num_estrec"],
            "recurrence_3y": np.where(event, "yes", "no"),
        }
    )
    return out[known].reset_index(drop=True)


def split_rows(rows: pd.DataFrame, seed: int = SPLIT_SEED) -> dict[str, pd.DataFrame]:
    """A stratified fifth held out as the test file, the rest stratified into three hospitals."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    train, test = train_test_split(rows, test_size=0.2, stratify=rows["recurrence_3y"], random_state=seed)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    parts = {TEST_FILE: test.sort_index()}
    for name, (_, idx) in zip(HOSPITAL_FILES, folds.split(train, train["recurrence_3y"]), strict=True):
        parts[name] = train.iloc[idx].sort_index()
    return parts


def write_split(directory: Path, raw: pd.DataFrame | None = None) -> dict[str, int]:
    """The three hospitals' files and ``test.csv`` in ``directory`` (made at run time, never committed); returns
    the rows per file."""
    directory.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, part in split_rows(labelled_rows(raw)).items():
        path = directory / name
        if name.endswith(".parquet"):
            part.to_parquet(path, index=False)
        else:
            part.to_csv(path, index=False, lineterminator="\n")
        sizes[name] = len(part)
    return sizes


# --- evaluation and baselines -------------------------------------------------------------------------------


def standardized(records: Any, statistics: PublishedStatistics) -> Dataset:
    """Raw records (:class:`~zkfl_dapp.ml.records.Records`) standardised with the consortium's statistics."""
    return Dataset(x=statistics.standardize(records.x).astype(np.float32), y=records.y)


def scores(spec: ModelSpec, params: NDArray[np.float64], test: Dataset) -> dict[str, float]:
    """Accuracy (threshold 0.5) and ROC AUC on the test set."""
    from sklearn.metrics import roc_auc_score

    p = predict_proba(spec, params, test.x)
    return {"accuracy": float(np.mean((p >= 0.5) == (test.y == 1))), "auc": float(roc_auc_score(test.y, p))}


def central_params(spec: ModelSpec, shards: Sequence[Dataset], cfg: TrainConfig, rounds: int) -> NDArray[np.float64]:
    """The central baseline: the same SGD on the pooled training rows, ``rounds x local_epochs`` epochs."""
    pooled = Dataset(x=np.concatenate([s.x for s in shards]), y=np.concatenate([s.y for s in shards]))
    central = TrainConfig(
        local_epochs=rounds * cfg.local_epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed
    )
    return train_local(spec, spec.initial_params(cfg.seed), pooled, central)


def fedavg_params(spec: ModelSpec, shards: Sequence[Dataset], cfg: TrainConfig, rounds: int) -> NDArray[np.float64]:
    """Plain floating-point FedAvg (weights = sample counts, no quantization, no proofs) on the same shards."""
    params = spec.initial_params(cfg.seed)
    for r in range(1, rounds + 1):
        local = [train_local(spec, params, s, cfg, round_id=r) for s in shards]
        params = fedavg_float(local, [s.num_samples for s in shards])
    return params
