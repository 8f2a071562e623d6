"""The GBSG2 example (examples/gbsg2): the vendored file, its regenerated split, the schema reading all three
hospitals' files (2 CSV, 1 Parquet), their statistics contributions, and the baselines the party run is compared
with. The party run itself is `make gbsg2` (minutes; not part of `make test`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zkfl_dapp.exceptions import DataError
from zkfl_dapp.experiments.gbsg2.data import (
    EXAMPLE,
    HOSPITAL_FILES,
    TEST_FILE,
    central_params,
    fedavg_params,
    labelled_rows,
    schema,
    scores,
    standardized,
    write_example,
)
from zkfl_dapp.ml.contributions import combine_contributions, contribution_of
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.ml.records import read_records
from zkfl_dapp.ml.schema import load_schema
from zkfl_dapp.ml.statistics import check_local_statistics
from zkfl_dapp.ml.training import TrainConfig

HOSPITALS = ["hospital-0", "hospital-1", "hospital-2"]


def test_the_vendored_file_gives_557_women_with_a_known_three_year_status(tmp_path):
    rows = labelled_rows()
    assert len(rows) == 557 and list(rows.columns[1:-1]) == list(schema().feature_names)
    assert (rows["recurrence_3y"] == "yes").sum() == 224
    changed = tmp_path / "gbsg2.csv"
    changed.write_bytes((EXAMPLE / "gbsg2.csv").read_bytes().replace(b"no,70,Post", b"no,71,Post", 1))
    with pytest.raises(DataError, match="not lifelines' gbsg2.csv"):
        labelled_rows(changed)


def test_the_checked_in_example_files_are_the_regenerated_ones(tmp_path):
    (tmp_path / "gbsg2.csv").write_bytes((EXAMPLE / "gbsg2.csv").read_bytes())
    sizes = write_example(tmp_path)
    assert sizes == {TEST_FILE: 112, "hospital-0.csv": 149, "hospital-1.csv": 148, "hospital-2.parquet": 148}
    for name in ["schema.json", TEST_FILE, *HOSPITAL_FILES[:2]]:
        assert (tmp_path / name).read_bytes() == (EXAMPLE / name).read_bytes(), name
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / HOSPITAL_FILES[2]), pd.read_parquet(EXAMPLE / HOSPITAL_FILES[2])
    )
    assert load_schema(EXAMPLE / "schema.json") == schema()


def test_the_hospitals_files_contribute_statistics_and_the_baselines_learn():
    s = load_schema(EXAMPLE / "schema.json")
    records = [read_records(EXAMPLE / f, s) for f in HOSPITAL_FILES]
    parts = [contribution_of(r, h) for r, h in zip(records, HOSPITALS, strict=True)]
    statistics = combine_contributions(s, parts, HOSPITALS)
    assert statistics.count == 445 and statistics.contributions == 3
    for r in records:  # each hospital's own means are close to the consortium's
        assert np.max(np.abs(check_local_statistics(statistics, s, r.x).shifts)) < 0.5
    shards = [standardized(r, statistics) for r in records]
    test = standardized(read_records(EXAMPLE / TEST_FILE, s), statistics)
    spec, cfg = ModelSpec(num_features=8), TrainConfig()
    assert spec.num_params == 9
    central = scores(spec, central_params(spec, shards, cfg, 5), test)
    fedavg = scores(spec, fedavg_params(spec, shards, cfg, 5), test)
    for figures in (central, fedavg):
        assert figures["auc"] > 0.7 and figures["accuracy"] > 0.65  # better than the 60% majority class
