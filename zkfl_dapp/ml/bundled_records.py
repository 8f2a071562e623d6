"""The bundled data sets seen as records files: their schemas, published statistics, and the example files.

``examples/hospital-data/`` is regenerated from these (:func:`write_hospital_example`); the consortium's
bootstrap publishes :func:`bundled_statistics` when it trains on a bundled data set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import numpy as np

from zkfl_dapp.exceptions import StatisticsError
from zkfl_dapp.ml.data import FederatedSplit, load_federated
from zkfl_dapp.ml.datasets import SUPPORT2_NUMERIC, DatasetName, feature_names
from zkfl_dapp.ml.schema import FeatureSpec, OutcomeSpec, RecordSchema
from zkfl_dapp.ml.statistics import PublishedStatistics, combine_statistics

#: Units of the Wisconsin breast-cancer features. The measurements come from digitized images of fine-needle
#: aspirates; the source does not state a physical length scale, so lengths are in "image units".
_BREAST_CANCER_UNITS: Final = {
    "radius": "image units",
    "texture": "gray levels",
    "perimeter": "image units",
    "area": "image units^2",
}
#: Units of SUPPORT2's numeric features (Vanderbilt's data dictionary); encoded columns are "1".
_SUPPORT2_UNITS: Final = {
    "age": "years", "num_co": "count", "edu": "years", "scoma": "score", "hday": "days", "sps": "score",
    "meanbp": "mmHg", "wblc": "10^9/L", "hrt": "beats/min", "resp": "breaths/min", "temp": "degC",
    "pafi": "mmHg", "alb": "g/dL", "bili": "mg/dL", "crea": "mg/dL", "sod": "mmol/L", "ph": "1",
    "glucose": "mg/dL", "bun": "mg/dL", "urine": "mL", "adlp": "index", "adls": "index",
}  # fmt: skip


def bundled_schema(dataset: DatasetName = "breast-cancer") -> RecordSchema:
    """The schema of a bundled data set as records: its features (all non-negative except SUPPORT2's
    encoded ones), with units; breast cancer's outcome column ``diagnosis`` (``benign`` = 1, the bundled
    label) and id column ``patient_id``; SUPPORT2's ``death_180d`` (``1``/``0``)."""
    names = feature_names(dataset)
    if dataset == "support2":
        features = tuple(
            FeatureSpec(name=n, unit=_SUPPORT2_UNITS.get(n, "1")) if n in SUPPORT2_NUMERIC else
            FeatureSpec(name=n, unit="1", min=0.0, max=1.0)
            for n in names
        )  # fmt: skip
        return RecordSchema(
            features=features, outcome=OutcomeSpec(column="death_180d", positive=("1",), negative=("0",))
        )
    features = tuple(FeatureSpec(name=n, unit=_BREAST_CANCER_UNITS.get(n.split()[-1], "1"), min=0.0) for n in names)
    return RecordSchema(
        features=features,
        outcome=OutcomeSpec(column="diagnosis", positive=("benign",), negative=("malignant",)),
        id_column="patient_id",
    )


def bundled_statistics(dataset: DatasetName, split: FederatedSplit) -> PublishedStatistics:
    """The published statistics of a bundled data set's split: combined from each hospital's sums (the
    split's ``contributions``) for the data set's :func:`bundled_schema`; what the consortium publishes.

    Raises:
        StatisticsError: When the split carries no contributions (a split built by hand).
    """
    if not split.contributions:
        raise StatisticsError("the split carries no per-hospital contributions to combine")
    return combine_statistics(
        bundled_schema(dataset),
        split.contributions,
        note=f"bundled {dataset} data set: {len(split.contributions)} hospitals' training shards",
    )


def write_hospital_example(directory: Path, *, hospital: int = 0, num_hospitals: int = 5, seed: int = 0) -> None:
    """Write ``examples/hospital-data/``: ``schema.json`` (:func:`bundled_schema`), ``records.csv`` (hospital
    ``hospital``'s raw breast-cancer shard of ``load_federated(num_hospitals, seed=seed)``, with patient ids
    and the labels as text) and ``statistics.json`` (what that consortium publishes, :func:`bundled_statistics`).
    """
    schema = bundled_schema("breast-cancer")
    split = load_federated(num_hospitals, seed=seed, raw=True)
    shard = split.shards[hospital]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "schema.json").write_text(schema.to_pretty_json())
    lines = [",".join([_csv_cell(schema.id_column or "id"), *map(_csv_cell, schema.feature_names), "diagnosis"])]
    for i, (row, label) in enumerate(zip(shard.x.astype(np.float64), shard.y, strict=True)):
        # the float32 shard values, written as the shortest decimal that reads back to the same float32
        cells = [np.format_float_positional(np.float32(v), trim="-") for v in row]
        diagnosis = schema.outcome.positive[0] if label == 1 else schema.outcome.negative[0]
        lines.append(",".join([f"hospital-{hospital}-{i + 1:04d}", *cells, diagnosis]))
    (directory / "records.csv").write_text("\n".join(lines) + "\n")
    (directory / "statistics.json").write_bytes(bundled_statistics("breast-cancer", split).to_bytes() + b"\n")


def _csv_cell(text: str) -> str:
    return f'"{text}"' if ("," in text or '"' in text) else text
