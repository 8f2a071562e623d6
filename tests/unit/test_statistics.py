"""Published standardisation statistics: combined from per-hospital sums, published through the circuit
manifest, checked by each hospital against its own data."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from zkfl_dapp.exceptions import DigestMismatchError, StatisticsError
from zkfl_dapp.ml.bundled_records import bundled_schema, bundled_statistics
from zkfl_dapp.ml.data import FeatureStatistics, load_federated, training_statistics
from zkfl_dapp.ml.schema import FeatureSpec, OutcomeSpec, RecordSchema
from zkfl_dapp.ml.statistics import (
    MAX_MEAN_SHIFT,
    WARN_MEAN_SHIFT,
    PublishedStatistics,
    SufficientStatistics,
    check_local_statistics,
    combine_statistics,
    combined_mean_std,
    reference_statistics,
)
from zkfl_dapp.protocol.publication import CircuitManifest, publish_circuit
from zkfl_dapp.protocol.standardization import deployment_statistics, fetch_statistics
from zkfl_dapp.storage.embedded import EmbeddedStore

SCHEMA = RecordSchema(
    features=(
        FeatureSpec(name="age", unit="years", min=0.0),
        FeatureSpec(name="sbp", unit="mmHg"),
        FeatureSpec(name="site", unit="1"),
    ),
    outcome=OutcomeSpec(column="died", positive=("yes",), negative=("no",)),
)


def rows(n: int, seed: int, shift: float = 0.0) -> np.ndarray:
    """``n`` rows of (age, sbp, site); site is a constant whose sums do not add up exactly in floating point."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.normal(60 + shift, 12, n), rng.normal(130, 20, n), np.full(n, 1234.567)])


# --- combining sums ---------------------------------------------------------------------------------


def test_combined_sums_give_the_pooled_mean_and_std_without_the_pooled_rows():
    shards = [rows(n, seed) for seed, n in enumerate((3, 40, 250, 17))]
    n, mean, std = combined_mean_std([SufficientStatistics.of(s) for s in shards])
    pooled = np.concatenate(shards)
    assert n == len(pooled)
    np.testing.assert_allclose(mean, pooled.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std[:2], pooled.std(axis=0)[:2], rtol=1e-9)
    assert std[2] == 0.0  # a constant feature: rounding of sum(x^2)/n - mean^2 is not mistaken for spread


def test_a_constant_feature_is_only_centred():
    stats = combine_statistics(SCHEMA, [SufficientStatistics.of(rows(10, 0)), SufficientStatistics.of(rows(5, 1))])
    assert stats.features[2].std == 0.0 and stats.divisor[2] == 1.0
    assert np.all(np.abs(stats.standardize(rows(4, 2))[:, 2]) < 1e-9)  # centred, not divided by a rounding error


def test_the_bundled_consortium_statistics_are_the_shards_sums_combined():
    split = load_federated(5, seed=0)
    published = bundled_statistics("breast-cancer", split)
    assert (published.method, published.contributions, published.count) == ("combined-sufficient-statistics", 5, 455)
    assert published.schema_digest == bundled_schema("breast-cancer").digest()
    pooled = training_statistics(seed=0)  # the reference computation over pooled rows
    np.testing.assert_allclose(published.mean, pooled.mean, rtol=1e-12)
    np.testing.assert_allclose(published.divisor, pooled.std, rtol=1e-9)
    assert split.statistics is not None
    np.testing.assert_array_equal(published.mean, split.statistics.mean)
    feature_stats = FeatureStatistics.from_published(published)  # what patient files are standardized with
    assert feature_stats.feature_names == split.feature_names and feature_stats.fill is None
    np.testing.assert_array_equal(feature_stats.standardize(split.test.x), published.standardize(split.test.x))
    raw = load_federated(5, seed=0, raw=True)  # raw shards are float32: standardized again, equal to ~1e-7
    for shard, raw_shard in zip(split.shards, raw.shards, strict=True):
        np.testing.assert_allclose(published.standardize(raw_shard.x), shard.x, atol=1e-6)


@pytest.mark.parametrize(
    ("parts", "fragment"),
    [
        ([], "no hospital contributed"),
        ([SufficientStatistics.of(rows(1, 0)), SufficientStatistics.of(rows(5, 1))], "fewer than 2 rows"),
        ([SufficientStatistics.of(rows(5, 0)), SufficientStatistics.of(rows(5, 1)[:, :2])], "different feature counts"),
        ([SufficientStatistics.of(rows(5, 0)[:, :2])], "the schema has 3 features"),
    ],
)
def test_combining_refuses_what_does_not_add_up(parts, fragment):
    with pytest.raises(StatisticsError, match=fragment):
        combine_statistics(SCHEMA, parts)


def test_sufficient_statistics_refuse_non_finite_or_negative_sums():
    with pytest.raises(StatisticsError, match="finite"):
        SufficientStatistics(3, np.array([np.nan]), np.array([1.0]))
    with pytest.raises(StatisticsError, match="negative"):
        SufficientStatistics(3, np.array([1.0]), np.array([-1.0]))


# --- the file ---------------------------------------------------------------------------------------


def published() -> PublishedStatistics:
    return combine_statistics(SCHEMA, [SufficientStatistics.of(rows(50, 0)), SufficientStatistics.of(rows(30, 1))])


def test_the_file_round_trips_canonically():
    stats = published()
    assert PublishedStatistics.parse(stats.to_bytes()) == stats
    assert json.loads(stats.to_bytes())["format"] == "zkfl-stats/v1"
    reference = reference_statistics(SCHEMA, rows(20, 3), note="consortium reference cohort 2026")
    assert reference.method == "reference-data" and reference.contributions is None
    assert PublishedStatistics.parse(reference.to_bytes()) == reference


def mutate(change: dict[str, object]) -> bytes:
    raw = json.loads(published().to_bytes()) | change
    return json.dumps({k: v for k, v in raw.items() if v is not None}).encode()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (mutate({"format": None}), 'expected an object with "format"'),
        (mutate({"format": "zkfl-stats/v0"}), 'expected an object with "format"'),
        (mutate({"extra": 1}), "invalid at 'extra'"),
        (mutate({"schema_digest": "ab"}), "invalid at 'schema_digest'"),
        (mutate({"contributions": None}), "contributions is set exactly when"),
        (mutate({"count": 1}), "invalid at 'count'"),
        (mutate({"features": [{"name": "a", "unit": "1", "mean": 0.0, "std": -1.0}]}), "features.0.std"),
        (
            mutate({"features": [{"name": "a", "unit": "1", "mean": 0.0, "std": 1.0}] * 2}),
            "feature names repeat",
        ),
        (mutate({}).replace(b'"mean":', b'"mean":NaN,"x":', 1), "NaN is not a valid value"),
        (b'{"format":"zkfl-stats/v1","format":"zkfl-stats/v1"}', "duplicate key 'format'"),
        (b"[1, 2", "not valid JSON"),
    ],
)
def test_a_malformed_statistics_file_is_refused(data, fragment):
    with pytest.raises(StatisticsError, match=None) as info:
        PublishedStatistics.parse(data, where="stats.json")
    assert fragment in str(info.value)


# --- a hospital's check -------------------------------------------------------------------------------


def test_data_like_the_consortiums_passes_the_check():
    check = check_local_statistics(published(), SCHEMA, rows(40, 9))
    assert np.all(np.abs(check.shifts) < WARN_MEAN_SHIFT) and check.warnings == ()


def test_another_schema_is_refused():
    other = SCHEMA.model_copy(update={"outcome": OutcomeSpec(column="died", positive=("1",), negative=("0",))})
    with pytest.raises(StatisticsError, match="made for schema"):
        check_local_statistics(published(), other, rows(40, 9))


def test_a_file_whose_features_contradict_its_schema_digest_is_refused():
    stats = published()
    renamed = stats.model_copy(update={"features": (stats.features[1], stats.features[0], stats.features[2])})
    with pytest.raises(StatisticsError, match=r"feature 0: the published statistics have \('sbp', 'mmHg'\)"):
        check_local_statistics(renamed, SCHEMA, rows(40, 9))
    shorter = stats.model_copy(update={"features": stats.features[:2]})
    with pytest.raises(StatisticsError, match="feature 2: .* nothing"):
        check_local_statistics(shorter, SCHEMA, rows(40, 9))


def test_a_local_mean_far_from_the_published_one_is_refused_and_a_moderate_one_warned():
    stats = published()
    far = rows(40, 9, shift=12 * (MAX_MEAN_SHIFT + 0.5))  # age in another unit or another column
    with pytest.raises(StatisticsError, match="feature 'age' \\(years\\): local mean .* published stds"):
        check_local_statistics(stats, SCHEMA, far)
    assert len(check_local_statistics(stats, SCHEMA, far, max_shift=10).shifts) == 3
    moderate = rows(40, 9, shift=12 * 2.0)
    check = check_local_statistics(stats, SCHEMA, moderate)
    assert len(check.warnings) == 1 and check.warnings[0].startswith("feature 'age'")


def test_case_mix_differences_of_skewed_splits_stay_well_inside_the_limit():
    """Dirichlet(0.5) label skew over 10 seeds moves a hospital's standardized feature means by at most ~1.1
    std (1.6 at alpha = 0.1): legitimate differences pass; a unit error (x10) does not (test_records)."""
    worst = 0.0
    for seed in range(10):
        split = load_federated(5, split="dirichlet", alpha=0.5, seed=seed)
        worst = max(worst, max(float(np.abs(s.x.mean(axis=0)).max()) for s in split.shards))
    assert 0.5 < worst < WARN_MEAN_SHIFT < MAX_MEAN_SHIFT


# --- published through the circuit manifest ----------------------------------------------------------


def test_the_statistics_are_published_with_the_circuit_manifest_and_fetched_back(suite, tmp_path):
    store = EmbeddedStore(tmp_path / "store")
    stats = bundled_statistics("breast-cancer", load_federated(5, seed=0))
    circuit_cid = publish_circuit(suite, store, statistics=stats.to_bytes())
    manifest = CircuitManifest.parse(store.get(circuit_cid))
    assert manifest.statistics is not None
    assert manifest.statistics.sha256 == hashlib.sha256(stats.to_bytes()).hexdigest()
    assert fetch_statistics(store, circuit_cid) == stats

    class RoundManager:
        def circuitCid(self) -> str:  # the contract's getter
            return circuit_cid

    assert deployment_statistics(RoundManager(), store) == stats


def test_a_manifest_without_statistics_or_with_a_swapped_file_is_refused(suite, tmp_path):
    store = EmbeddedStore(tmp_path / "store")
    with pytest.raises(StatisticsError, match="publishes no standardisation statistics"):
        fetch_statistics(store, publish_circuit(suite, store))
    manifest = CircuitManifest.parse(store.get(publish_circuit(suite, store, statistics=published().to_bytes())))
    other = published().model_copy(update={"note": "another file"}).to_bytes()
    lying = manifest.model_copy(
        update={"statistics": manifest.statistics.model_copy(update={"cid": str(store.put(other))})}
    )
    with pytest.raises(DigestMismatchError, match="does not match the manifest's SHA-256"):
        fetch_statistics(store, str(store.put(lying.to_bytes())))
