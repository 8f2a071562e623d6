"""The GBSG2 example (examples/gbsg2): the data set loaded from SurvSet and pinned, its split written at run time,
the committed schema reading all three hospitals' files (2 CSV, 1 Parquet), their statistics contributions, and the
baselines the party run is compared with. The party run itself is `make gbsg2` (minutes; not part of `make test`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zkfl_dapp.exceptions import DataError
from zkfl_dapp.experiments.gbsg2.data import (
    EXAMPLE,
    HOSPITAL_FILES,
    SCHEMA_FILE,
    TEST_FILE,
    central_params,
    fedavg_params,
    labelled_rows,
    load_raw,
    schema,
    scores,
    standardized,
    write_split,
)
from zkfl_dapp.ml.contributions import combine_contributions, contribution_of
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.ml.records import read_records
from zkfl_dapp.ml.schema import load_schema
from zkfl_dapp.ml.statistics import check_local_statistics
from zkfl_dapp.ml.training import TrainConfig

HOSPITALS = ["hospital-0", "hospital-1", "hospital-2"]


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("gbsg2")
    sizes = write_split(directory)
    assert sizes == {TEST_FILE: 112, "hospital-0.csv": 149, "hospital-1.csv": 148, "hospital-2.parquet": 148}
    return directory


def test_survsets_gbsg2_gives_557_women_with_a_known_three_year_status():
    raw = load_raw()
    assert len(raw) == 686 and {"event", "time", "fac_horTh", "num_age"} <= set(raw.columns)
    rows = labelled_rows(raw)
    assert len(rows) == 557 and list(rows.columns[1:-1]) == list(schema().feature_names)
    assert (rows["recurrence_3y"] == "yes").sum() == 224
    assert set(rows["tumour_grade"]) == {1, 2, 3} and set(rows["hormone_therapy"]) == {0, 1}
    changed = raw.copy()
    changed.loc[0, "num_age"] = 71  # one value differs from the pinned data set
    with pytest.raises(DataError, match="not SurvSet 0.2.11's GBSG2"):
        labelled_rows(changed)


def test_the_split_is_deterministic_and_the_committed_schema_is_the_codes(split: Path, tmp_path: Path):
    assert write_split(tmp_path) == write_split(tmp_path / "again")
    for name in [TEST_FILE, *HOSPITAL_FILES[:2]]:
        assert (tmp_path / name).read_bytes() == (split / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / HOSPITAL_FILES[2]), pd.read_parquet(split / HOSPITAL_FILES[2])
    )
    assert load_schema(SCHEMA_FILE) == schema()
    assert sorted(p.name for p in EXAMPLE.iterdir()) == ["README.md", "schema.json"]  # no data in the repository


def test_the_hospitals_files_contribute_statistics_and_the_baselines_learn(split: Path):
    s = load_schema(SCHEMA_FILE)
    records = [read_records(split / f, s) for f in HOSPITAL_FILES]
    parts = [contribution_of(r, h) for r, h in zip(records, HOSPITALS, strict=True)]
    statistics = combine_contributions(s, parts, HOSPITALS)
    assert statistics.count == 445 and statistics.contributions == 3
    for r in records:  # each hospital's own means are close to the consortium's
        assert np.max(np.abs(check_local_statistics(statistics, s, r.x).shifts)) < 0.5
    shards = [standardized(r, statistics) for r in records]
    test = standardized(read_records(split / TEST_FILE, s), statistics)
    spec, cfg = ModelSpec(num_features=8), TrainConfig()
    assert spec.num_params == 9
    central = scores(spec, central_params(spec, shards, cfg, 5), test)
    fedavg = scores(spec, fedavg_params(spec, shards, cfg, 5), test)
    for figures in (central, fedavg):
        assert figures["auc"] > 0.7 and figures["accuracy"] > 0.65  # better than the 60% majority class
