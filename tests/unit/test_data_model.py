"""Tests for zkfl_dapp.data, zkfl_dapp.model and zkfl_dapp.training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from zkfl_dapp.exceptions import ConfigError, DataError, ModelFileError
from zkfl_dapp.ml.data import Dataset, FederatedSplit, SplitKind, load_federated, standardize
from zkfl_dapp.ml.model import (
    MLP,
    LogisticRegression,
    ModelSpec,
    accuracy,
    flatten_params,
    load_params,
    num_params,
    predict_proba,
    zero_params,
)
from zkfl_dapp.ml.training import TrainConfig, fedavg_float, train_local

NUM_FEATURES = 30


@pytest.fixture(scope="module")
def iid() -> FederatedSplit:
    return load_federated(5, split="iid", seed=0)


@pytest.fixture(scope="module")
def dirichlet() -> FederatedSplit:
    return load_federated(5, split="dirichlet", alpha=0.5, seed=0)


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return ModelSpec(num_features=NUM_FEATURES)


def _train_rows(split: FederatedSplit) -> NDArray[np.float32]:
    return np.concatenate([s.x for s in split.shards])


# --- data ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["iid", "dirichlet"])
def test_shapes_and_sizes(name: str, request: pytest.FixtureRequest) -> None:
    split: FederatedSplit = request.getfixturevalue(name)
    assert len(split.shards) == 5
    assert len(split.feature_names) == NUM_FEATURES
    assert split.num_features == NUM_FEATURES
    assert split.test.num_samples == 114  # ceil(0.2 * 569)
    assert sum(split.shard_sizes()) == 569 - 114
    for ds in (*split.shards, split.test):
        assert ds.x.dtype == np.float32 and ds.y.dtype == np.float32
        assert ds.x.shape == (ds.num_samples, NUM_FEATURES)
        assert ds.y.shape == (ds.num_samples,)
        assert set(np.unique(ds.y)) <= {0.0, 1.0}
    # Shards and test set are disjoint and together hold every sample exactly once.
    rows = np.concatenate([_train_rows(split), split.test.x])
    assert np.unique(rows, axis=0).shape[0] == 569


def test_iid_sizes_equalish(iid: FederatedSplit) -> None:
    assert max(iid.shard_sizes()) - min(iid.shard_sizes()) <= 1


def test_test_split_is_stratified(iid: FederatedSplit) -> None:
    train_y = np.concatenate([s.y for s in iid.shards])
    assert abs(iid.test.positive_fraction() - float(train_y.mean())) < 0.01


@pytest.mark.parametrize("split_kind", ["iid", "dirichlet"])
def test_deterministic_for_seed(split_kind: SplitKind) -> None:
    a = load_federated(4, split=split_kind, seed=3)
    b = load_federated(4, split=split_kind, seed=3)
    c = load_federated(4, split=split_kind, seed=4)
    for sa, sb in zip(a.shards, b.shards, strict=True):
        np.testing.assert_array_equal(sa.x, sb.x)
        np.testing.assert_array_equal(sa.y, sb.y)
    np.testing.assert_array_equal(a.test.x, b.test.x)
    assert not np.array_equal(a.shards[0].x, c.shards[0].x)


def test_standardization_uses_train_stats_only(iid: FederatedSplit) -> None:
    train = _train_rows(iid).astype(np.float64)
    np.testing.assert_allclose(train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(train.std(axis=0), 1.0, atol=1e-5)
    # The test set is transformed with the training statistics, so it is not itself centred.
    test_means = iid.test.x.astype(np.float64).mean(axis=0)
    assert np.max(np.abs(test_means)) > 0.05
    # Exact check against an independent recomputation of the same stratified split.
    raw = load_breast_cancer()
    x_train, x_test, _, _ = train_test_split(raw.data, raw.target, test_size=0.2, stratify=raw.target, random_state=0)
    expected = (x_test - x_train.mean(axis=0)) / x_train.std(axis=0)
    np.testing.assert_allclose(iid.test.x, expected, rtol=1e-5, atol=1e-5)
    with_full_stats = (x_test - raw.data.mean(axis=0)) / raw.data.std(axis=0)
    assert not np.allclose(iid.test.x, with_full_stats, atol=1e-3)


def test_standardize_helper() -> None:
    train = np.array([[1.0, 5.0], [3.0, 5.0]])
    test = np.array([[5.0, 7.0]])
    train_z, test_z = standardize(train, test)
    np.testing.assert_allclose(train_z, [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(test_z, [[3.0, 2.0]])  # constant feature: centred only


def test_dirichlet_is_label_skewed(iid: FederatedSplit, dirichlet: FederatedSplit) -> None:
    iid_fracs = [s.positive_fraction() for s in iid.shards]
    dir_fracs = [s.positive_fraction() for s in dirichlet.shards]
    assert max(dir_fracs) - min(dir_fracs) > 0.4
    assert max(dir_fracs) - min(dir_fracs) > 2 * (max(iid_fracs) - min(iid_fracs))
    assert len(set(dirichlet.shard_sizes())) > 1


@pytest.mark.parametrize(("hospitals", "alpha"), [(5, 0.05), (20, 0.1), (40, 0.05)])
def test_dirichlet_min_size(hospitals: int, alpha: float) -> None:
    split = load_federated(hospitals, split="dirichlet", alpha=alpha, seed=1)
    assert min(split.shard_sizes()) >= 10
    assert sum(split.shard_sizes()) == 455
    bigger = load_federated(hospitals, split="dirichlet", alpha=alpha, seed=1, min_samples=11)
    assert min(bigger.shard_sizes()) >= 11


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_hospitals": 0},
        {"num_hospitals": 46},  # 455 training samples < 46 * 10
        {"num_hospitals": 3, "split": "pathological"},
        {"num_hospitals": 3, "alpha": 0.0},
        {"num_hospitals": 3, "alpha": float("nan")},
        {"num_hospitals": 3, "test_fraction": 0.0},
        {"num_hospitals": 3, "test_fraction": 1.0},
        {"num_hospitals": 3, "min_samples": 0},
    ],
)
def test_load_federated_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(DataError):
        load_federated(**kwargs)  # type: ignore[arg-type]


def test_dataset_validation() -> None:
    f32 = np.float32
    with pytest.raises(DataError):
        Dataset(x=np.zeros(3, f32), y=np.zeros(3, f32))
    with pytest.raises(DataError):
        Dataset(x=np.zeros((3, 2), f32), y=np.zeros(2, f32))
    with pytest.raises(DataError):
        Dataset(x=np.zeros((2, 2), f32), y=np.array([0.0, 2.0], f32))
    with pytest.raises(DataError):
        Dataset(x=np.array([[np.nan, 0.0]], f32), y=np.zeros(1, f32))
    ds = Dataset(x=np.ones((2, 3), dtype=np.float64), y=np.array([0, 1]))
    assert ds.x.dtype == np.float32 and ds.y.dtype == np.float32


# --- model --------------------------------------------------------------------------------------


def test_num_params_and_layout(spec: ModelSpec) -> None:
    assert num_params(spec) == NUM_FEATURES + 1
    model = spec.build()
    assert isinstance(model, LogisticRegression)
    with torch.no_grad():
        model.linear.weight.copy_(torch.arange(NUM_FEATURES, dtype=torch.float32).reshape(1, -1))
        model.linear.bias.fill_(-7.0)
    vec = flatten_params(model)
    assert vec.dtype == np.float64 and vec.shape == (NUM_FEATURES + 1,)
    np.testing.assert_array_equal(vec[:NUM_FEATURES], np.arange(NUM_FEATURES))
    assert vec[-1] == -7.0


def test_build_starts_at_zero_and_leaves_global_rng(spec: ModelSpec) -> None:
    state = torch.get_rng_state()
    np.testing.assert_array_equal(flatten_params(spec.build()), zero_params(spec))
    assert torch.equal(state, torch.get_rng_state())


def test_load_params_round_trip(spec: ModelSpec) -> None:
    vec = np.linspace(-1.0, 1.0, NUM_FEATURES + 1)
    model = spec.build()
    load_params(model, vec)
    np.testing.assert_allclose(flatten_params(model), vec, rtol=1e-7)
    x = np.random.default_rng(0).normal(size=(4, NUM_FEATURES)).astype(np.float32)
    expected = 1.0 / (1.0 + np.exp(-(x.astype(np.float64) @ vec[:-1] + vec[-1])))
    np.testing.assert_allclose(predict_proba(spec, vec, x), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "vec",
    [
        np.zeros(NUM_FEATURES),
        np.zeros(NUM_FEATURES + 2),
        np.zeros((1, NUM_FEATURES + 1)),
        np.r_[np.zeros(NUM_FEATURES), np.nan],
        np.r_[np.inf, np.zeros(NUM_FEATURES)],
        np.r_[-np.inf, np.zeros(NUM_FEATURES)],
    ],
    ids=["short", "long", "2d", "nan", "inf", "-inf"],
)
def test_load_params_rejects_bad_vectors(spec: ModelSpec, vec: NDArray[np.float64]) -> None:
    model = spec.build()
    with pytest.raises(ModelFileError):
        load_params(model, vec)
    np.testing.assert_array_equal(flatten_params(model), zero_params(spec))  # untouched


def test_model_spec_validation_and_dict(spec: ModelSpec) -> None:
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict() == {"kind": "logreg", "num_features": NUM_FEATURES}
    with pytest.raises(ModelFileError):
        ModelSpec(num_features=0)
    with pytest.raises(ModelFileError):
        ModelSpec(num_features=3, kind="cnn")  # type: ignore[arg-type]
    with pytest.raises(ModelFileError):
        ModelSpec(num_features=3, kind="mlp")  # an MLP needs hidden >= 1
    with pytest.raises(ModelFileError):
        ModelSpec(num_features=3, hidden=4)  # logreg has no hidden layer
    with pytest.raises(ModelFileError):
        ModelSpec.from_dict({"kind": "logreg"})
    with pytest.raises(ModelFileError):
        ModelSpec.from_dict({"kind": "logreg", "num_features": 3, "hidden": 0})
    np.testing.assert_array_equal(spec.initial_params(7), zero_params(spec))


def test_predict_rejects_wrong_feature_count(spec: ModelSpec) -> None:
    with pytest.raises(DataError):
        predict_proba(spec, zero_params(spec), np.zeros((2, NUM_FEATURES - 1)))


# --- training -----------------------------------------------------------------------------------


def test_fedavg_float_math() -> None:
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([3.0, 6.0, -1.0])
    np.testing.assert_allclose(fedavg_float([a, b], [1, 3]), [2.5, 5.0, 0.0])
    np.testing.assert_allclose(fedavg_float([a, b], [5, 5]), (a + b) / 2)
    np.testing.assert_array_equal(fedavg_float([a], [7]), a)
    np.testing.assert_array_equal(fedavg_float([a, b], [2, 0]), a)
    assert fedavg_float([a.astype(np.float32)], [1]).dtype == np.float64


@pytest.mark.parametrize(
    ("params", "weights"),
    [
        ([], []),
        ([np.zeros(3)], [0]),
        ([np.zeros(3), np.zeros(3)], [0, 0]),
        ([np.zeros(3), np.zeros(3)], [2, -1]),
        ([np.zeros(3)], [1, 1]),
        ([np.zeros(3), np.zeros(4)], [1, 1]),
        ([np.array([np.nan, 0.0, 0.0])], [1]),
    ],
    ids=["empty", "zero-weight", "all-zero", "negative", "count-mismatch", "shape-mismatch", "nan"],
)
def test_fedavg_float_rejects(params: list[NDArray[np.float64]], weights: list[int]) -> None:
    with pytest.raises(DataError):
        fedavg_float(params, weights)


def test_train_local_improves_over_zero_init(spec: ModelSpec, iid: FederatedSplit) -> None:
    shard = iid.shards[0]
    start = zero_params(spec)
    trained = train_local(spec, start, shard, TrainConfig())
    assert trained.shape == start.shape and trained.dtype == np.float64
    assert accuracy(spec, start, iid.test) < 0.7  # zeros predict P=0.5 -> everything class 1
    assert accuracy(spec, trained, shard) > 0.9
    assert accuracy(spec, trained, iid.test) > 0.9


def test_train_local_deterministic(spec: ModelSpec, iid: FederatedSplit) -> None:
    shard = iid.shards[1]
    start = zero_params(spec)
    cfg = TrainConfig(local_epochs=2, seed=5)
    torch.manual_seed(123)  # global state must not matter
    first = train_local(spec, start, shard, cfg, round_id=3)
    torch.manual_seed(999)
    again = train_local(spec, start, shard, cfg, round_id=3)
    np.testing.assert_array_equal(first, again)
    other_round = train_local(spec, start, shard, cfg, round_id=4)
    assert not np.array_equal(first, other_round)


def test_train_local_rejects_bad_input(spec: ModelSpec, iid: FederatedSplit) -> None:
    with pytest.raises(DataError):
        train_local(ModelSpec(num_features=3), zero_params(ModelSpec(3)), iid.shards[0], TrainConfig())
    with pytest.raises(DataError):
        empty = Dataset(x=np.zeros((0, NUM_FEATURES), np.float32), y=np.zeros(0, np.float32))
        train_local(spec, zero_params(spec), empty, TrainConfig())
    with pytest.raises(ModelFileError):
        train_local(spec, np.zeros(5), iid.shards[0], TrainConfig())
    with pytest.raises(ConfigError):
        train_local(spec, zero_params(spec), iid.shards[0], TrainConfig(), round_id=-1)


@pytest.mark.parametrize("kwargs", [{"local_epochs": 0}, {"batch_size": 0}, {"lr": 0.0}, {"lr": float("inf")}])
def test_train_config_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        TrainConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["iid", "dirichlet"])
def test_federated_averaging_reaches_90_percent(name: str, spec: ModelSpec, request: pytest.FixtureRequest) -> None:
    split: FederatedSplit = request.getfixturevalue(name)
    cfg = TrainConfig()
    global_params = zero_params(spec)
    for round_id in range(5):
        updates = [train_local(spec, global_params, s, cfg, round_id=round_id) for s in split.shards]
        global_params = fedavg_float(updates, split.shard_sizes())
    assert accuracy(spec, global_params, split.test) > 0.9


# --- MLP ----------------------------------------------------------------------------------------

HIDDEN = 16
MLP_PARAMS = NUM_FEATURES * HIDDEN + HIDDEN + HIDDEN + 1  # 513


@pytest.fixture(scope="module")
def mlp_spec() -> ModelSpec:
    return ModelSpec(num_features=NUM_FEATURES, kind="mlp", hidden=HIDDEN)


def test_mlp_shapes_and_layout(mlp_spec: ModelSpec) -> None:
    assert num_params(mlp_spec) == MLP_PARAMS == 513
    assert num_params(ModelSpec(num_features=3, kind="mlp", hidden=2)) == 3 * 2 + 2 + 2 + 1
    model = mlp_spec.build()
    assert isinstance(model, MLP)
    assert sum(p.numel() for p in model.parameters()) == MLP_PARAMS
    assert [name for name, _ in model.named_parameters()] == [
        "hidden.weight",
        "hidden.bias",
        "output.weight",
        "output.bias",
    ]
    with torch.no_grad():
        model.hidden.weight.copy_(torch.arange(HIDDEN * NUM_FEATURES, dtype=torch.float32).reshape(HIDDEN, -1))
        model.hidden.bias.fill_(-1.0)
        model.output.weight.fill_(-2.0)
        model.output.bias.fill_(-3.0)
    vec = flatten_params(model)
    assert vec.shape == (MLP_PARAMS,)
    f, h = NUM_FEATURES, HIDDEN
    np.testing.assert_array_equal(vec[: f * h], np.arange(f * h))  # W1 row by row
    assert vec[f] == f  # W1[1, 0] follows W1[0, f-1]
    np.testing.assert_array_equal(vec[f * h : f * h + h], -1.0)
    np.testing.assert_array_equal(vec[f * h + h : f * h + 2 * h], -2.0)
    assert vec[-1] == -3.0
    assert mlp_spec.to_dict() == {"kind": "mlp", "num_features": NUM_FEATURES, "hidden": HIDDEN}
    assert ModelSpec.from_dict(mlp_spec.to_dict()) == mlp_spec
    with pytest.raises(ModelFileError):
        ModelSpec.from_dict({"kind": "mlp", "num_features": NUM_FEATURES})


def test_mlp_round_trip_and_forward(mlp_spec: ModelSpec) -> None:
    vec = np.random.default_rng(1).normal(scale=0.3, size=MLP_PARAMS)
    model = mlp_spec.build()
    load_params(model, vec)
    np.testing.assert_allclose(flatten_params(model), vec, rtol=1e-6, atol=1e-7)
    f, h = NUM_FEATURES, HIDDEN
    w1 = vec[: f * h].reshape(h, f)
    b1 = vec[f * h : f * h + h]
    w2 = vec[f * h + h : f * h + 2 * h]
    b2 = vec[-1]
    x = np.random.default_rng(2).normal(size=(6, f)).astype(np.float32)
    logits = np.maximum(x.astype(np.float64) @ w1.T + b1, 0.0) @ w2 + b2
    np.testing.assert_allclose(predict_proba(mlp_spec, vec, x), 1.0 / (1.0 + np.exp(-logits)), rtol=1e-4)
    with pytest.raises(ModelFileError):
        load_params(model, np.zeros(NUM_FEATURES + 1))


def test_mlp_build_is_zero_and_initial_params_deterministic(mlp_spec: ModelSpec) -> None:
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # type: ignore[index]
    np.testing.assert_array_equal(flatten_params(mlp_spec.build()), zero_params(mlp_spec))
    init = mlp_spec.initial_params(0)
    assert torch.equal(torch_state, torch.get_rng_state())
    np.testing.assert_array_equal(np_state, np.random.get_state()[1])  # type: ignore[index]
    assert init.shape == (MLP_PARAMS,) and init.dtype == np.float64
    np.testing.assert_array_equal(init, mlp_spec.initial_params(0))
    assert not np.array_equal(init, mlp_spec.initial_params(1))
    f, h = NUM_FEATURES, HIDDEN
    w1 = init[: f * h].reshape(h, f)
    assert len({tuple(row) for row in w1}) == h  # no two hidden units alike (symmetry broken)
    assert np.all(init[f * h : f * h + h] == 0) and init[-1] == 0  # biases start at zero
    assert np.max(np.abs(w1)) <= 1.0 / np.sqrt(f)  # torch's default Linear range, per fan-in
    assert np.max(np.abs(init[f * h + h : f * h + 2 * h])) <= 1.0 / np.sqrt(h)
    assert np.all(init[f * h + h : f * h + 2 * h] != 0)


@pytest.mark.parametrize("name", ["iid", "dirichlet"])
def test_mlp_federated_averaging_reaches_90_percent(
    name: str, mlp_spec: ModelSpec, request: pytest.FixtureRequest
) -> None:
    split: FederatedSplit = request.getfixturevalue(name)
    cfg = TrainConfig()
    global_params = mlp_spec.initial_params(0)
    start_accuracy = accuracy(mlp_spec, global_params, split.test)
    for round_id in range(3):
        updates = [train_local(mlp_spec, global_params, s, cfg, round_id=round_id) for s in split.shards]
        global_params = fedavg_float(updates, split.shard_sizes())
    assert accuracy(mlp_spec, global_params, split.test) > 0.9
    assert accuracy(mlp_spec, global_params, split.test) > start_accuracy
