"""Tests for the SUPPORT2 data set (zkfl_dapp.ml.data) and the mlp-large preset (zkfl_dapp.ml.model)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.model_selection import train_test_split

from zkfl_dapp.config import Settings
from zkfl_dapp.core.fixedpoint import MAX_QUANTIZED, quantize
from zkfl_dapp.exceptions import ConfigError, DataError, ModelFileError
from zkfl_dapp.ml.data import Dataset, FederatedSplit, load_federated, training_statistics
from zkfl_dapp.ml.datasets import SUPPORT2_HORIZON_DAYS, raw_dataset
from zkfl_dapp.ml.model import (
    MLP,
    MLP_LARGE_HIDDEN,
    DeepMLP,
    ModelSpec,
    flatten_params,
    load_params,
    predict_proba,
    spec_for_preset,
)
from zkfl_dapp.ml.training import TrainConfig, train_local

N_PATIENTS = 9105
N_FEATURES = 59
N_TEST = 1821  # ceil(0.2 * 9105)
LEAKY = ("surv2m", "surv6m", "sfdm2", "dnr", "event", "time", "pid", "hospdead", "slos", "dzclass")


@pytest.fixture(scope="module")
def split() -> FederatedSplit:
    return load_federated(5, dataset="support2", seed=0)


def test_shape_labels_and_no_nan(split: FederatedSplit) -> None:
    assert split.num_features == N_FEATURES
    assert split.test.num_samples == N_TEST
    assert sum(split.shard_sizes()) == N_PATIENTS - N_TEST
    for ds in (*split.shards, split.test):
        assert np.all(np.isfinite(ds.x))
    # the label is death within 180 days; no patient is censored before the horizon in SurvSet 0.2.11
    from SurvSet.data import SurvLoader

    frame = SurvLoader().load_dataset("support2")["df"]
    assert SUPPORT2_HORIZON_DAYS == 180
    assert not ((frame["event"] == 0) & (frame["time"] < 180)).any()
    expected_positives = int(((frame["event"] == 1) & (frame["time"] <= 180)).sum())
    positives = sum(float(ds.y.sum()) for ds in (*split.shards, split.test))
    assert positives == expected_positives == 4265


def test_no_leakage_columns(split: FederatedSplit) -> None:
    for name in split.feature_names:
        base = name.split("=")[0].removesuffix("_missing")
        assert base not in LEAKY, name
    assert "age" in split.feature_names and "dzgroup=CHF" in split.feature_names
    assert len(set(split.feature_names)) == N_FEATURES
    # no single feature separates the classes (an outcome-derived column would)
    x = np.concatenate([s.x for s in split.shards])
    y = np.concatenate([s.y for s in split.shards])
    corr = [abs(np.corrcoef(x[:, j], y)[0, 1]) for j in range(N_FEATURES) if x[:, j].std() > 0]
    assert max(corr) < 0.4


def test_imputation_and_standardization_use_training_rows_only(split: FederatedSplit) -> None:
    x_all, y_all, _ = raw_dataset("support2")
    assert np.isnan(x_all).any()  # there is something to impute
    raw_train, raw_test, _, _ = train_test_split(x_all, y_all, test_size=0.2, stratify=y_all, random_state=0)
    fill = np.nanmedian(raw_train, axis=0)
    imputed = np.where(np.isnan(raw_train), fill, raw_train)
    stats = training_statistics(dataset="support2", seed=0)
    assert stats.feature_names == split.feature_names
    assert stats.fill is not None
    np.testing.assert_allclose(stats.fill, fill)
    np.testing.assert_allclose(stats.mean, imputed.mean(axis=0))
    np.testing.assert_allclose(stats.std, imputed.std(axis=0))
    # the test rows, NaN and all, are transformed with those statistics (not their own)
    np.testing.assert_allclose(split.test.x, stats.standardize(raw_test), atol=1e-5)
    all_imputed = np.where(np.isnan(x_all), np.nanmedian(x_all, axis=0), x_all)
    assert not np.allclose(stats.mean, all_imputed.mean(axis=0))
    train = np.concatenate([s.x for s in split.shards])
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-4)
    assert abs(float(split.test.x.mean(axis=0)[0])) > 1e-3


@pytest.mark.parametrize("kind", ["iid", "dirichlet"])
@pytest.mark.parametrize("hospitals", [3, 7])
def test_splits_are_deterministic_by_seed(kind: str, hospitals: int) -> None:
    a = load_federated(hospitals, dataset="support2", split=kind, seed=3)  # type: ignore[arg-type]
    b = load_federated(hospitals, dataset="support2", split=kind, seed=3)  # type: ignore[arg-type]
    c = load_federated(hospitals, dataset="support2", split=kind, seed=4)  # type: ignore[arg-type]
    assert len(a.shards) == hospitals and min(a.shard_sizes()) >= 10
    assert sum(a.shard_sizes()) == N_PATIENTS - N_TEST
    for sa, sb in zip(a.shards, b.shards, strict=True):
        np.testing.assert_array_equal(sa.x, sb.x)
        np.testing.assert_array_equal(sa.y, sb.y)
    assert not np.array_equal(a.shards[0].x, c.shards[0].x)


def test_unknown_dataset_is_rejected() -> None:
    with pytest.raises(DataError, match="dataset"):
        load_federated(5, dataset="mnist")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="dataset"):
        training_statistics(dataset="mnist")  # type: ignore[arg-type]


def test_settings_select_dataset_and_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).dataset == "breast-cancer"  # type: ignore[call-arg]
    monkeypatch.setenv("ZKFL_DATASET", "support2")
    monkeypatch.setenv("ZKFL_MODEL", "mlp-large")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.dataset, settings.model) == ("support2", "mlp-large")


def test_mlp_large_preset_size_and_layout() -> None:
    spec = spec_for_preset("mlp-large", N_FEATURES)
    assert spec == ModelSpec(num_features=N_FEATURES, kind="mlp", hidden=MLP_LARGE_HIDDEN)
    assert spec.hidden_layers == (256, 256, 128)
    assert spec.num_params == 114_177 == 59 * 256 + 256 + 256 * 256 + 256 + 256 * 128 + 128 + 128 + 1
    assert spec_for_preset("mlp-large", 38).num_params == 108_801
    model = spec.build()
    assert isinstance(model, DeepMLP)
    assert [n for n, _ in model.named_parameters()] == [
        "hidden_layers.0.weight",
        "hidden_layers.0.bias",
        "hidden_layers.1.weight",
        "hidden_layers.1.bias",
        "hidden_layers.2.weight",
        "hidden_layers.2.bias",
        "output.weight",
        "output.bias",
    ]
    init = spec.initial_params(0)
    assert init.shape == flatten_params(model).shape == (spec.num_params,)
    assert np.max(np.abs(init[: 59 * 256])) <= 1 / np.sqrt(59)
    np.testing.assert_array_equal(init[59 * 256 : 59 * 256 + 256], 0.0)  # first hidden bias
    load_params(model, init)
    np.testing.assert_array_equal(flatten_params(model), init.astype(np.float32))
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["hidden"] == [256, 256, 128]


def test_presets_keep_the_one_layer_mlp() -> None:
    assert spec_for_preset("logreg", 30) == ModelSpec(num_features=30)
    one = spec_for_preset("mlp", 30, mlp_hidden=16)
    assert one == ModelSpec(num_features=30, kind="mlp", hidden=(16,))
    assert one.hidden == 16 and isinstance(one.build(), MLP) and one.num_params == 513
    # the one-layer genesis is unchanged by the generalization
    rng = np.random.default_rng(np.random.SeedSequence([0, 30, 16]))
    w1 = rng.uniform(-1.0, 1.0, size=480) / np.sqrt(30)
    w2 = rng.uniform(-1.0, 1.0, size=16) / np.sqrt(16)
    np.testing.assert_array_equal(one.initial_params(0), np.concatenate([w1, np.zeros(16), w2, np.zeros(1)]))
    with pytest.raises(ModelFileError, match="preset"):
        spec_for_preset("cnn", 30)
    for bad in ((), (16, 0), (16, True), (1.5,)):
        with pytest.raises(ModelFileError):
            ModelSpec(num_features=30, kind="mlp", hidden=bad)  # type: ignore[arg-type]
    with pytest.raises(ModelFileError):
        ModelSpec(num_features=30, kind="logreg", hidden=(16, 8))


def test_deep_mlp_forward_matches_manual_computation() -> None:
    spec = ModelSpec(num_features=3, kind="mlp", hidden=(4, 2))
    assert spec.num_params == 3 * 4 + 4 + 4 * 2 + 2 + 2 + 1
    vec = np.random.default_rng(1).normal(size=spec.num_params)
    x = np.random.default_rng(2).normal(size=(5, 3))
    w1, b1 = vec[:12].reshape(4, 3), vec[12:16]
    w2, b2 = vec[16:24].reshape(2, 4), vec[24:26]
    w3, b3 = vec[26:28], vec[28]
    logits = np.maximum(np.maximum(x @ w1.T + b1, 0) @ w2.T + b2, 0) @ w3 + b3
    np.testing.assert_allclose(predict_proba(spec, vec, x), 1 / (1 + np.exp(-logits)), rtol=1e-4)


def test_one_short_local_training_step_runs(split: FederatedSplit) -> None:
    spec = spec_for_preset("mlp-large", split.num_features)
    shard = Dataset(x=split.shards[0].x[:256], y=split.shards[0].y[:256])
    start = spec.initial_params(0)
    torch_state = torch.get_rng_state()
    cfg = TrainConfig(local_epochs=1, weight_decay=0.01)
    update = train_local(spec, start, shard, cfg)
    assert torch.equal(torch_state, torch.get_rng_state())  # no dropout: global RNG untouched
    assert update.shape == start.shape and np.all(np.isfinite(update))
    assert not np.array_equal(update, start)
    np.testing.assert_array_equal(update, train_local(spec, start, shard, cfg))  # deterministic
    assert not np.array_equal(update, train_local(spec, start, shard, TrainConfig(local_epochs=1)))  # decay applies
    # far inside the circuit's range (|x| < 2^23 / 2^13 = 1024)
    assert np.max(np.abs(update)) < 2.0 < MAX_QUANTIZED / 2**13
    assert len(quantize(update, 13)) == spec.num_params


def test_weight_decay_is_validated() -> None:
    with pytest.raises(ConfigError, match="weight_decay"):
        TrainConfig(weight_decay=-0.1)
    with pytest.raises(ConfigError, match="weight_decay"):
        TrainConfig(weight_decay=float("nan"))
