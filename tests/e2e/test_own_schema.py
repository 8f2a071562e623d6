"""A consortium on its own schema (issue 21): the hospitals' statistics contributions, `deploy` with the schema,
the model and the statistics published through the circuit manifest, hospitals training on their own files,
one proven round, a clean audit; and the errors a hospital gets when its schema or file does not fit.

The schema has 30 features (the default circuits' d = 31 logistic regression, so the session's verifier fits)
under names, units and outcome labels none of the bundled schemas has.
"""

from __future__ import annotations

import json

import ape
import numpy as np
import pytest

from zkfl_dapp.apps.parties import Connection, aggregator_service, deploy, hospital_agent, open_round
from zkfl_dapp.apps.parties.reports import publish_missing_reports
from zkfl_dapp.audit.auditor import audit
from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import ConfigError, RecordsError, StatisticsError
from zkfl_dapp.ml.contributions import contribution_of
from zkfl_dapp.ml.data import load_federated
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.ml.records import read_records
from zkfl_dapp.ml.schema import FeatureSpec, OutcomeSpec, RecordSchema, load_schema
from zkfl_dapp.ml.statistics import SufficientStatistics, combined_mean_std
from zkfl_dapp.protocol.publication import CircuitManifest
from zkfl_dapp.protocol.standardization import deployment_definition, deployment_statistics, manifest_definition
from zkfl_dapp.storage.embedded import EmbeddedStore

pytestmark = pytest.mark.e2e

SCHEMA = RecordSchema(
    features=tuple(FeatureSpec(name=f"marker {j:02d}", unit="ng/mL", min=0.0) for j in range(30)),
    outcome=OutcomeSpec(column="relapse", positive=("no relapse",), negative=("relapse",)),
    id_column="mrn",
)


def _write_records(tmp_path) -> list:
    """Five hospitals' own CSV files in SCHEMA's columns (the rows: a raw 5-way split of a public data set)."""
    split = load_federated(5, seed=3, raw=True)
    files = []
    for i, shard in enumerate(split.shards):
        lines = ["mrn," + ",".join(SCHEMA.feature_names) + ",relapse"]
        for r, (row, label) in enumerate(zip(shard.x.astype(np.float64), shard.y, strict=True)):
            cells = ",".join(np.format_float_positional(np.float32(v), trim="-") for v in row)
            lines.append(f"h{i}-{r},{cells},{'no relapse' if label == 1 else 'relapse'}")
        path = tmp_path / f"hospital-{i}.csv"
        path.write_text("\n".join(lines) + "\n")
        files.append(path)
    return files


@pytest.fixture
def own(tmp_path, suite, admin, aggregator, hospitals):
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(SCHEMA.to_pretty_json())
    files = _write_records(tmp_path)
    contributions = [contribution_of(read_records(f, SCHEMA), f"hospital-{i}") for i, f in enumerate(files)]
    settings = Settings(workdir=tmp_path / "w", hospitals=5, round_seconds=600, records_schema=schema_file)
    storage = EmbeddedStore(settings.store_dir)
    conn = Connection(ape.chain, ape.project, local=True)
    members = {"aggregator": aggregator.address, **{f"hospital-{i}": hospitals[i].address for i in range(5)}}
    deployment = deploy(settings, conn, admin, storage, members, contributions=contributions)
    return settings, conn, storage, deployment, files, contributions


def test_a_consortium_on_its_own_schema_trains_a_proven_round_and_audits_clean(own, admin, aggregator, hospitals):
    settings, conn, storage, deployment, files, contributions = own
    rm = deployment.round_manager
    spec, schema = deployment_definition(rm, storage)
    assert (spec.kind, spec.num_features, spec.num_params) == ("logreg", 30, 31)
    assert schema == SCHEMA
    # the published statistics are the pooled rows' (combined from the sums), made for this schema
    published = deployment_statistics(rm, storage)
    assert published.schema_digest == SCHEMA.digest() and published.contributions == 5
    pooled = np.concatenate([read_records(f, SCHEMA).x for f in files])
    _, mean, std = combined_mean_std([SufficientStatistics.of(pooled)])
    assert np.allclose(published.mean, mean) and np.allclose(published.std, std)
    # each hospital's agreed sample cap is its contribution's row count
    caps = [int(deployment.registry.sampleCapOf(hospitals[i].address)) for i in range(5)]
    assert caps == [c.count for c in contributions]

    service = aggregator_service(settings, conn, aggregator, storage)
    service.ensure_key_registered()
    round_id = open_round(settings, conn, deployment, admin)
    for i, path in enumerate(files):
        mine = settings.model_copy(update={"records": path})
        agent = hospital_agent(mine, conn, hospitals[i], storage, i)
        assert agent.client.shard.num_samples == contributions[i].count
        assert "submitted" in (agent.step() or "")
    assert "finalized" in (service.step() or "")
    assert read_round(rm, round_id).phase == Phase.FINALIZED
    # the admin's report (as `open-round` publishes it): no held-out records of this schema, so no accuracy (null,
    # "n/a" in the UI) rather than 0.0, and no baseline in the party flow
    assert publish_missing_reports(settings, conn, deployment, admin, storage) == [round_id]
    published = json.loads((settings.reports_dir / f"round-{round_id}.json").read_text())
    assert published["accuracy"] is None and published["baseline_accuracy"] is None
    report = audit(rm, storage, chain=ape.chain, project=ape.project, workdir=settings.workdir / "audit")
    assert report.passed, [f.line() for f in report.errors]


def test_a_hospital_whose_schema_or_file_does_not_fit_is_told_why(own, tmp_path, hospitals):
    settings, conn, storage, _deployment, files, _ = own
    with pytest.raises(ConfigError, match="deployed on its own schema: set ZKFL_RECORDS"):
        hospital_agent(settings, conn, hospitals[0], storage, 0)  # no records file: no bundled shard either
    other = tmp_path / "other.json"
    doc = json.loads(SCHEMA.to_pretty_json())
    doc["features"][3]["unit"] = "mg/L"
    other.write_text(json.dumps(doc))
    mismatched = settings.model_copy(update={"records": files[0], "records_schema": other})
    with pytest.raises(ConfigError, match="is not the schema this consortium was deployed with"):
        hospital_agent(mismatched, conn, hospitals[0], storage, 0)
    missing = tmp_path / "missing.csv"
    text = files[0].read_text().splitlines()
    missing.write_text("\n".join(",".join(line.split(",")[:-2] + line.split(",")[-1:]) for line in text) + "\n")
    with pytest.raises(RecordsError, match="marker 29"):
        hospital_agent(settings.model_copy(update={"records": missing}), conn, hospitals[0], storage, 0)


def test_deploy_refuses_an_own_schema_without_every_hospitals_contribution(
    tmp_path, suite, admin, aggregator, hospitals
):
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(SCHEMA.to_pretty_json())
    files = _write_records(tmp_path)
    settings = Settings(workdir=tmp_path / "w", hospitals=5, records_schema=schema_file)
    storage = EmbeddedStore(settings.store_dir)
    conn = Connection(ape.chain, ape.project, local=True)
    members = {"aggregator": aggregator.address, **{f"hospital-{i}": hospitals[i].address for i in range(5)}}
    with pytest.raises(ConfigError, match="contribute-statistics"):
        deploy(settings, conn, admin, storage, members)
    schema = load_schema(schema_file)
    four = [contribution_of(read_records(f, schema), f"hospital-{i}") for i, f in enumerate(files[:4])]
    with pytest.raises(StatisticsError, match="no statistics contribution from hospital-4"):
        deploy(settings, conn, admin, storage, members, contributions=four)


class _NamesAnotherManifest:
    """The deployed RoundManager, except that circuitCid() names ``cid`` (a manifest nobody deployed)."""

    def __init__(self, rm, cid: str) -> None:
        self._rm, self._cid = rm, cid

    def circuitCid(self) -> str:  # the contract's name
        return self._cid

    def __getattr__(self, name: str):
        return getattr(self._rm, name)


def test_the_audit_checks_the_published_model_and_schema_against_the_deployment(own, tmp_path):
    settings, _conn, storage, deployment, _files, _ = own
    rm = deployment.round_manager
    manifest = CircuitManifest.parse(storage.get(str(rm.circuitCid())))
    assert manifest_definition(manifest, storage) == (ModelSpec(num_features=30), SCHEMA)
    wrong_size = manifest.model_copy(update={"model": {"kind": "mlp", "num_features": 30, "hidden": 2}})
    no_schema = manifest.model_copy(update={"records_schema": None})
    for bad, why in [(wrong_size, "does not fit its 31-parameter commitments"), (no_schema, "without a schema")]:
        with pytest.raises(StatisticsError, match=why):
            manifest_definition(bad, storage)
        cid = str(storage.put(bad.to_bytes()))
        report = audit(_NamesAnotherManifest(rm, cid), storage, chain=ape.chain, project=ape.project,
                       workdir=tmp_path / cid[-8:])  # fmt: skip
        found = [f.line() for f in report.errors if f.item == "circuit manifest / model and schema"]
        assert found and why in found[0], [f.line() for f in report.errors]
