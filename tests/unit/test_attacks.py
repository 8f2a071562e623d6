"""Tests of zkfl_dapp.attacks (the malicious hospitals) and zkfl_dapp.experiments.attack_eval (the harness)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from zkfl_dapp.circuits.suite import PAD_ROWS
from zkfl_dapp.core.aggregation import aggregate, normalized_weights, scaled_update, training_values
from zkfl_dapp.core.fixedpoint import dequantize, quantize
from zkfl_dapp.core.median import fill_slots, median_quantized
from zkfl_dapp.core.norms import bound_sq_quantized, within_bound
from zkfl_dapp.core.policy import NormBoundPolicy
from zkfl_dapp.exceptions import ConfigError
from zkfl_dapp.experiments.attack_eval.cli import main
from zkfl_dapp.experiments.attack_eval.simulate import (
    NO_ATTACK,
    NUM_HOSPITALS,
    SCALE_BITS,
    SYSTEMS,
    Scenario,
    _norm_check,
    _step_bounded,
    _Trajectory,
    run_scenario,
)
from zkfl_dapp.experiments.attack_eval.summary import summarize
from zkfl_dapp.experiments.attacks import (
    ATTACKS,
    BENIGN_LABEL,
    MALIGNANT_LABEL,
    Boosted,
    GaussianNoise,
    SignFlip,
    TargetedLowNorm,
    flip_labels,
    get_attack,
    honest_update,
    relabel,
)
from zkfl_dapp.ml.data import FederatedSplit, SplitKind, load_federated
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.ml.training import TrainConfig, TrainingContext

INITIAL_BOUND = NormBoundPolicy().initial


@pytest.fixture(scope="module")
def splits() -> dict[SplitKind, FederatedSplit]:
    return {s: load_federated(NUM_HOSPITALS, split=s, seed=0) for s in ("iid", "dirichlet")}


@pytest.fixture(scope="module")
def spec(splits: dict[SplitKind, FederatedSplit]) -> ModelSpec:
    return ModelSpec(num_features=splits["iid"].num_features)


def context(
    spec: ModelSpec, split: FederatedSplit, hospital: int = 4, *, bound: float | None = None, round_id: int = 1
) -> TrainingContext:
    g = spec.initial_params(0)
    return TrainingContext(spec, g, split.shards[hospital], TrainConfig(seed=0), round_id, hospital, bound)


def padded(values: np.ndarray, pad: int = 0) -> tuple[int, ...]:
    """``values`` quantized at 2^13 with PAD_ROWS pad rows of value ``pad``."""
    return (*quantize(values, SCALE_BITS), *(pad,) * PAD_ROWS)


def in_bound(u: np.ndarray, g: np.ndarray, bound: float) -> bool:
    """The norm circuit's flag for ``u`` against the aggregate ``S = 2^13 q(g)`` (a genesis-like model)
    under the L2 bound ``bound``."""
    s = scaled_update(padded(g), SCALE_BITS)
    return within_bound(padded(u, 12345), s, bound_sq_quantized(bound, SCALE_BITS), SCALE_BITS, g.shape[0])


# --- attacks ------------------------------------------------------------------------------------


def test_malignant_label_matches_the_data_set() -> None:
    names = list(load_breast_cancer().target_names)
    assert names[MALIGNANT_LABEL] == "malignant"
    assert names[BENIGN_LABEL] == "benign"


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_returns_a_model_vector_deterministically(
    name: str, spec: ModelSpec, splits: dict[SplitKind, FederatedSplit]
) -> None:
    ctx = context(spec, splits["iid"], bound=INITIAL_BOUND)
    u = get_attack(name).craft(ctx)
    assert u.dtype == np.float64
    assert u.shape == (spec.num_params,)
    assert np.all(np.isfinite(u))
    np.testing.assert_array_equal(u, get_attack(name).craft(ctx))
    assert not np.array_equal(u, honest_update(ctx))


@pytest.mark.parametrize("split", ["iid", "dirichlet"])
@pytest.mark.parametrize("name", ["boosted", "sign_flip", "gaussian"])
def test_blatant_attacks_exceed_the_initial_bound(
    name: str, split: SplitKind, spec: ModelSpec, splits: dict[SplitKind, FederatedSplit]
) -> None:
    for hospital in range(NUM_HOSPITALS):
        ctx = context(spec, splits[split], hospital, bound=INITIAL_BOUND)
        u = get_attack(name).craft(ctx)
        assert np.linalg.norm(u - ctx.global_params) > INITIAL_BOUND
        assert not in_bound(u, ctx.global_params, INITIAL_BOUND)


@pytest.mark.parametrize("split", ["iid", "dirichlet"])
def test_honest_round_one_updates_are_within_the_initial_bound(
    split: SplitKind, spec: ModelSpec, splits: dict[SplitKind, FederatedSplit]
) -> None:
    for hospital in range(NUM_HOSPITALS):
        ctx = context(spec, splits[split], hospital, bound=INITIAL_BOUND)
        assert in_bound(honest_update(ctx), ctx.global_params, INITIAL_BOUND)


def test_scaling_attacks_scale_the_honest_delta(spec: ModelSpec, splits: dict[SplitKind, FederatedSplit]) -> None:
    ctx = context(spec, splits["iid"])
    delta = honest_update(ctx) - ctx.global_params
    np.testing.assert_allclose(Boosted(factor=3.0).craft(ctx) - ctx.global_params, 3.0 * delta)
    np.testing.assert_allclose(SignFlip(factor=2.0).craft(ctx) - ctx.global_params, -2.0 * delta)


def test_gaussian_noise_depends_on_seed_round_and_hospital(
    spec: ModelSpec, splits: dict[SplitKind, FederatedSplit]
) -> None:
    attack = GaussianNoise()
    base = attack.craft(context(spec, splits["iid"], 3))
    assert not np.array_equal(base, attack.craft(context(spec, splits["iid"], 4)))
    assert not np.array_equal(base, attack.craft(context(spec, splits["iid"], 3, round_id=2)))
    np.testing.assert_allclose(np.std(GaussianNoise(sigma=0.5).craft(context(spec, splits["iid"], 3))), 0.5, rtol=0.5)


@pytest.mark.parametrize("bound", [INITIAL_BOUND, 0.7, 0.3, 0.05])
@pytest.mark.parametrize("split", ["iid", "dirichlet"])
def test_targeted_attack_stays_under_the_bound_it_is_given(
    bound: float, split: SplitKind, spec: ModelSpec, splits: dict[SplitKind, FederatedSplit]
) -> None:
    for hospital in (3, 4):
        ctx = context(spec, splits[split], hospital, bound=bound)
        u = TargetedLowNorm().craft(ctx)
        assert in_bound(u, ctx.global_params, bound)
        np.testing.assert_allclose(np.linalg.norm(u - ctx.global_params), 0.95 * bound)


def test_targeted_attack_without_a_bound_boosts_the_relabelled_delta(
    spec: ModelSpec, splits: dict[SplitKind, FederatedSplit]
) -> None:
    ctx = context(spec, splits["iid"])
    relabelled = ctx.train(relabel(ctx.shard, MALIGNANT_LABEL, BENIGN_LABEL))
    u = TargetedLowNorm(unbounded_boost=5.0).craft(ctx)
    np.testing.assert_allclose(u - ctx.global_params, 5.0 * (relabelled - ctx.global_params))


def test_relabelling_helpers(splits: dict[SplitKind, FederatedSplit]) -> None:
    shard = splits["dirichlet"].shards[0]
    np.testing.assert_array_equal(flip_labels(shard).y, 1 - shard.y)
    benign_only = relabel(shard, MALIGNANT_LABEL, BENIGN_LABEL)
    assert np.all(benign_only.y == BENIGN_LABEL)
    np.testing.assert_array_equal(benign_only.x, shard.x)


def test_attack_parameters_are_validated() -> None:
    with pytest.raises(ConfigError):
        Boosted(factor=0.0)
    with pytest.raises(ConfigError):
        GaussianNoise(sigma=float("nan"))
    with pytest.raises(ConfigError):
        TargetedLowNorm(fraction=1.0)
    with pytest.raises(ConfigError, match="unknown attack"):
        get_attack("backdoor")


# --- harness ------------------------------------------------------------------------------------


def test_scenario_validation() -> None:
    assert Scenario("boosted", 2, "iid").malicious_set == frozenset({3, 4})
    assert Scenario(NO_ATTACK, 0, "iid").malicious_set == frozenset()
    with pytest.raises(ConfigError):
        Scenario("boosted", 0, "iid")
    with pytest.raises(ConfigError):
        Scenario(NO_ATTACK, 1, "iid")
    with pytest.raises(ConfigError):
        Scenario("nonsense", 1, "iid")


def test_run_scenario_is_deterministic() -> None:
    sc = Scenario("gaussian", 1, "dirichlet")
    assert run_scenario(sc, seed=1, rounds=2) == run_scenario(sc, seed=1, rounds=2)


def test_without_attack_all_systems_see_the_same_round_one_updates() -> None:
    run = run_scenario(Scenario(NO_ATTACK, 0, "iid"), seed=0, rounds=1)
    norms = {run.systems[s][0].norms for s in SYSTEMS}
    assert len(norms) == 1
    for s in ("norm", "median"):
        assert run.systems[s][0].violations == ()
        assert summarize([run], s).honest_false_rejection_rate == 0.0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("attack-eval")
    docs = tmp_path_factory.mktemp("docs")
    assert main(["--quick", "--out", str(out), "--report-dir", str(docs), "--torch-threads", "0"]) == 0
    return out, docs, json.loads((out / "results.json").read_text())


def _run(results: dict[str, Any], attack: str) -> dict[str, Any]:
    (run,) = [r for r in results["runs"] if r["scenario"]["attack"] == attack]
    return run


def test_quick_run_writes_results_report_and_plots(quick_run: tuple[Path, Path, dict[str, Any]]) -> None:
    out, docs, results = quick_run
    report = (out / "report.md").read_text()
    assert "quantized reference semantics" in report
    assert "| boosted | 2 | iid |" in report
    assert "| sign_flip | 2 | iid |" in report
    for name in ("none.png", "boosted.png", "sign_flip.png"):
        for folder in (out, docs / "attack-eval"):
            data = (folder / name).read_bytes()
            assert data.startswith(b"\x89PNG") and len(data) < 200_000
    assert "(boosted.png)" in report
    assert "(attack-eval/boosted.png)" in (docs / "attack-eval.md").read_text()
    assert {r["scenario"]["attack"] for r in results["runs"]} == {NO_ATTACK, "boosted", "sign_flip"}


def test_quick_run_counts_are_consistent(quick_run: tuple[Path, Path, dict[str, Any]]) -> None:
    _, _, results = quick_run
    for run in results["runs"]:
        bad = set(range(NUM_HOSPITALS - run["scenario"]["malicious"], NUM_HOSPITALS))
        assert set(run["systems"]) == set(SYSTEMS)
        for system, records in run["systems"].items():
            assert len(records) == run["rounds"]
            for rec in records:
                rejected = set(rec["rejected"])
                assert rec["malicious_rejected"] == len(rejected & bad)
                assert rec["honest_rejected"] == len(rejected - bad)
                assert 0.0 <= rec["accuracy"] <= 1.0 and 0.0 <= rec["malignant_recall"] <= 1.0
                if system in ("norm", "median"):
                    assert rejected <= set(rec["violations"])  # counts: rejected <= violations
                    assert rec["bound"] <= NormBoundPolicy().initial
                    assert rec["honest_rejected"] == 0
                else:
                    assert rec["violations"] is None and rec["bound"] is None


def test_quick_run_defences_stop_the_blatant_attacks(quick_run: tuple[Path, Path, dict[str, Any]]) -> None:
    _, _, results = quick_run
    for system in ("norm", "median"):
        first = _run(results, "boosted")["systems"][system][0]
        assert sorted(first["rejected"]) == [3, 4]  # 10x the honest delta is far above the initial bound
        first = _run(results, "sign_flip")["systems"][system][0]
        assert sorted(first["rejected"]) == [3, 4]
    sign_flip = _run(results, "sign_flip")["systems"]
    for system in ("norm", "median", "median_only"):
        assert sign_flip["fedavg"][-1]["accuracy"] < sign_flip[system][-1]["accuracy"] - 0.3
    summary = {s["scenario"]["attack"]: s["systems"] for s in results["summary"]}
    for attack in ("boosted", "sign_flip"):
        for system in ("norm", "median"):
            assert summary[attack][system]["violation_rejection_rate"] == 1.0
            assert summary[attack][system]["honest_false_rejection_rate"] == 0.0


# --- the protocol's semantics -------------------------------------------------------------------


def _aggregate_state(d: int) -> tuple[int, ...]:
    """An aggregate off the 2^13 grid (a real S after some round: each value 4095 / 2^13 past a multiple, so
    the model hospitals train from is rounded down by almost half a unit), with non-zero pad rows."""
    rng = np.random.default_rng(7)
    return tuple(int(k) * (1 << SCALE_BITS) + 4095 for k in rng.integers(-(2**12), 2**12, d + PAD_ROWS))


def test_norm_check_measures_against_the_previous_aggregate_not_the_rounded_model() -> None:
    d = 31
    s = _aggregate_state(d)
    model = training_values(s, d, SCALE_BITS)
    u = (*model, *(0,) * PAD_ROWS)  # exactly the rounded model hospitals train from
    # its distance to S is the rounding residue, not 0: a bound between the two tells them apart
    residue = sum(((1 << SCALE_BITS) * m - v) ** 2 for m, v in zip(model, s[:d], strict=False))
    assert residue > 0
    tiny = 2.0**-SCALE_BITS  # b = 1; the residue is rescale(31 * 4095^2, 26) = 8
    slots, violations = _norm_check([u], s, tiny, d)
    assert violations == (0,) and slots == [None]
    slots, violations = _norm_check([u], s, 1.0, d)
    assert violations == () and slots == [u]


def test_bounded_step_aggregates_exactly_and_trains_from_training_values() -> None:
    d = 31
    prev = _aggregate_state(d)
    model = training_values(prev, d, SCALE_BITS)
    rng = np.random.default_rng(3)
    subs = [
        (*(m + int(rng.integers(-50, 50)) for m in model), *(int(x) for x in rng.integers(0, 2**22, PAD_ROWS)))
        for _ in range(5)
    ]
    counts = [80, 90, 100, 70, 115]
    state = _Trajectory(dequantize(model, SCALE_BITS), prev, 1.0)
    step = _step_bounded("norm", state, list(subs), counts, NormBoundPolicy(), d)
    expected = aggregate(subs, normalized_weights(counts, SCALE_BITS))
    assert step.aggregate == expected  # exact, every row, pad rows too
    np.testing.assert_array_equal(step.params, dequantize(training_values(expected, d, SCALE_BITS), SCALE_BITS))
    step = _step_bounded("median", state, [*subs[:4], None], counts, NormBoundPolicy(), d)
    assert step.aggregate == median_quantized(fill_slots([*subs[:4], None], prev, SCALE_BITS))
    assert step.violations == (4,)
