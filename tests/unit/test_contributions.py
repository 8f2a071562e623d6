"""A hospital's statistics contribution (zkfl-stats-contribution/v1), what `zkfl hospital --contribute-statistics`
writes, how the admin combines them, and the model a consortium's own schema sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from zkfl_dapp.apps.parties.admin import own_definition
from zkfl_dapp.apps.zkfl import main
from zkfl_dapp.config import REPO_ROOT, Settings
from zkfl_dapp.exceptions import ConfigError, StatisticsError
from zkfl_dapp.ml.contributions import StatisticsContribution, combine_contributions, contribution_of
from zkfl_dapp.ml.records import read_records
from zkfl_dapp.ml.schema import FeatureSpec, OutcomeSpec, RecordSchema
from zkfl_dapp.ml.statistics import SufficientStatistics, combined_mean_std
from zkfl_dapp.protocol.wiring import load_split, model_spec_for

SCHEMA = RecordSchema(
    features=(FeatureSpec(name="age", unit="years"), FeatureSpec(name="size", unit="mm", min=0.0)),
    outcome=OutcomeSpec(column="event", positive=("yes",), negative=("no",)),
)


def _csv(path, rows):
    path.write_text("age,size,event\n" + "".join(f"{a},{s},{e}\n" for a, s, e in rows))
    return path


def test_contributions_combine_to_the_pooled_rows_statistics(tmp_path):
    a = _csv(tmp_path / "a.csv", [(50, 10, "yes"), (61, 22, "no"), (47, 15, "no")])
    b = _csv(tmp_path / "b.csv", [(70, 30, "yes"), (39, 8, "no")])
    parts = [contribution_of(read_records(p, SCHEMA), f"hospital-{i}") for i, p in enumerate([a, b])]
    again = [StatisticsContribution.parse(c.to_bytes()) for c in parts]
    assert again == parts  # floats round-trip exactly
    published = combine_contributions(SCHEMA, again, ["hospital-0", "hospital-1"])
    pooled = np.array([[50, 10], [61, 22], [47, 15], [70, 30], [39, 8]], dtype=np.float64)
    _, mean, std = combined_mean_std([SufficientStatistics.of(pooled)])
    assert np.allclose(published.mean, mean) and np.allclose(published.std, std)
    assert published.count == 5 and published.contributions == 2 and published.schema_digest == SCHEMA.digest()


def test_combining_refuses_another_schema_a_stranger_a_repeat_and_a_missing_hospital(tmp_path):
    rows = [(50, 10, "yes"), (61, 22, "no")]
    c0 = contribution_of(read_records(_csv(tmp_path / "a.csv", rows), SCHEMA), "hospital-0")
    c1 = c0.model_copy(update={"hospital": "hospital-1"})
    other = SCHEMA.model_copy(update={"features": (FeatureSpec(name="age", unit="months"), SCHEMA.features[1])})
    with pytest.raises(StatisticsError, match="made with schema"):
        combine_contributions(other, [c0, c1], ["hospital-0", "hospital-1"])
    with pytest.raises(StatisticsError, match="not one of hospital-0"):
        combine_contributions(SCHEMA, [c0, c1], ["hospital-0"])
    with pytest.raises(StatisticsError, match="two contributions from hospital-0"):
        combine_contributions(SCHEMA, [c0, c0], ["hospital-0", "hospital-1"])
    with pytest.raises(StatisticsError, match="no statistics contribution from hospital-1"):
        combine_contributions(SCHEMA, [c0], ["hospital-0", "hospital-1"])


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"format": "zkfl-stats/v1"}, "expected an object"),
        ({"count": 1}, "count"),
        ({"sum_sq": [1.0]}, "sum has 2 features, sum_sq 1"),
        ({"hospital": "admin"}, "hospital"),
    ],
)
def test_a_malformed_contribution_is_refused(tmp_path, change, match):
    c = contribution_of(read_records(_csv(tmp_path / "a.csv", [(50, 10, "yes"), (61, 22, "no")]), SCHEMA), "hospital-0")
    doc = {**json.loads(c.to_bytes()), **change}
    with pytest.raises(StatisticsError, match=match):
        StatisticsContribution.parse(json.dumps(doc).encode())


def test_zkfl_hospital_writes_its_contribution_without_a_key_or_a_chain(tmp_path, monkeypatch):
    schema = tmp_path / "schema.json"
    schema.write_text(SCHEMA.to_pretty_json())
    records = _csv(tmp_path / "r.csv", [(50, 10, "yes"), (61, 22, "no"), (47, 15, "no")])
    out = tmp_path / "contribution.json"
    monkeypatch.setenv("ZKFL_RECORDS", str(records))
    monkeypatch.setenv("ZKFL_RECORDS_SCHEMA", str(schema))
    args = ["hospital", "--index", "2", "--contribute-statistics", str(out), "--workdir", str(tmp_path / "w")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    c = StatisticsContribution.load(out)
    assert (c.hospital, c.count, c.sum) == ("hospital-2", 3, (158.0, 47.0))
    monkeypatch.delenv("ZKFL_RECORDS")
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and "set ZKFL_RECORDS" in result.output


def test_an_own_schema_sizes_the_model_and_needs_contributions(tmp_path):
    schema = tmp_path / "schema.yaml"
    schema.write_text(SCHEMA.to_pretty_json())  # JSON is YAML
    settings = Settings(workdir=tmp_path, hospitals=3, records_schema=schema)
    split = load_split(settings)
    assert model_spec_for(settings, split).num_params == 3  # 2 features + the bias
    mlp = settings.model_copy(update={"model": "mlp", "mlp_hidden": 4})
    assert model_spec_for(mlp, split).num_params == 2 * 4 + 4 + 4 + 1
    with pytest.raises(ConfigError, match="contribute-statistics"):
        own_definition(settings, ["hospital-0"], [])
    with pytest.raises(ConfigError, match="give --schema"):
        own_definition(Settings(workdir=tmp_path), ["hospital-0"], [object()])  # type: ignore[list-item]
    bundled = REPO_ROOT / "examples" / "hospital-data" / "schema.json"  # own rows of the bundled columns
    assert own_definition(Settings(workdir=tmp_path, records_schema=bundled), ["hospital-0"], []) is None


def test_the_bundled_deploy_refuses_an_own_schema(tmp_path):
    from zkfl_dapp.protocol.consortium import deploy_consortium

    schema = tmp_path / "schema.json"
    schema.write_text(SCHEMA.to_pretty_json())
    settings = Settings(workdir=tmp_path, hospitals=3, records_schema=schema)
    with pytest.raises(ConfigError, match="zkfl admin deploy --schema"):
        deploy_consortium(settings, None, None, None, None, load_split(settings))  # type: ignore[arg-type]
