"""The attacks, each returning a JSON-ready dict (see docs/privacy-eval.md for what each shows)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score

from zkfl_dapp.circuits.kzg_inference import KzgInferenceCircuitSpec, quantize_features, reference_logit
from zkfl_dapp.config import Settings
from zkfl_dapp.core.dp import DpConfig, epsilon, round_multipliers
from zkfl_dapp.core.policy import NormBoundPolicy
from zkfl_dapp.core.privacy import check_shard_size, declared_sample_count
from zkfl_dapp.exceptions import ShardTooSmallError
from zkfl_dapp.experiments.attack_eval.simulate import SCALE_BITS
from zkfl_dapp.experiments.privacy_eval.federation import Federation, run_federation
from zkfl_dapp.ml.data import Dataset
from zkfl_dapp.ml.model import ModelSpec, accuracy, predict_proba
from zkfl_dapp.ml.training import TrainConfig, train_local


def _median_relative_error(estimate: NDArray[np.float64], truth: NDArray[np.float64]) -> float:
    return float(np.median(np.abs(estimate - truth) / np.maximum(np.abs(truth), 1e-3)))


def _reconstruct_features(delta: NDArray[np.float64]) -> NDArray[np.float64]:
    """A logistic regression's SGD steps on one patient move ``(w, b)`` along ``(x, 1)``: ``x = dw / db``."""
    return delta[:-1] / delta[-1] if abs(delta[-1]) > 1e-12 else np.full(delta.shape[0] - 1, np.inf)


def small_shard(seed: int, patients: int = 20, z: float = 1.0) -> dict[str, Any]:
    """What the aggregator reads from the update of a hospital of 1 patient (now refused) or of the minimum."""
    minimum = Settings().min_shard_samples
    try:
        check_shard_size(1, minimum, "a one-patient hospital")
        refusal = ""
    except ShardTooSmallError as exc:
        refusal = str(exc)
    fed = run_federation(seed, 1, 0.0)
    spec, g = fed.spec, fed.rounds[0].global_params
    pool = fed.split.shards[0]
    cfg = TrainConfig(seed=seed)
    dp = DpConfig(z, 3)
    rng = np.random.default_rng([seed, 3])
    rows: dict[str, list[float]] = {"one": [], "one_dp": [], "minimum": []}
    for p in range(patients):
        one = Dataset(pool.x[p : p + 1], pool.y[p : p + 1])
        trained = train_local(spec, g, one, cfg, round_id=1)
        truth = pool.x[p].astype(np.float64)
        rows["one"].append(_median_relative_error(_reconstruct_features(trained - g), truth))
        noised = dp.privatize(g, trained, NormBoundPolicy().initial, rng)
        rows["one_dp"].append(_median_relative_error(_reconstruct_features(noised - g), truth))
        start = (p * minimum) % max(1, pool.num_samples - minimum)
        group = Dataset(pool.x[start : start + minimum], pool.y[start : start + minimum])
        estimate = _reconstruct_features(train_local(spec, g, group, cfg, round_id=1) - g)
        rows["minimum"].append(min(_median_relative_error(estimate, r.astype(np.float64)) for r in group.x))
    return {
        "minimum": minimum,
        "one_patient_refused": bool(refusal),
        "refusal": refusal,
        "patients": patients,
        "dp_noise_multiplier": z,
        "error_one_patient": float(np.median(rows["one"])),
        "error_one_patient_dp": float(np.median(rows["one_dp"])),
        "error_minimum_best_match": float(np.median(rows["minimum"])),
    }


def _recover(fed: Federation, round_index: int, victim: int) -> tuple[float, bool]:
    """n - 1 colluders subtract their own committed updates from the aggregate: the victim's relative error
    against its training delta, and whether they got its committed update exactly."""
    r = fed.rounds[round_index]
    others = sum(r.weights[i] * np.asarray(q, dtype=object) for i, q in enumerate(r.padded) if i != victim and q)
    rest = np.asarray(r.aggregate, dtype=object) - others
    exact = [int(v) // r.weights[victim] for v in rest]
    committed = r.padded[victim]
    d = r.true_deltas[victim].shape[0]
    estimate = np.asarray(exact[:d], dtype=np.float64) / 2**SCALE_BITS - r.global_params
    truth = r.true_deltas[victim]
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth)), committed is not None and tuple(
        exact
    ) == tuple(committed)


def differencing(seed: int, rounds: int, multipliers: list[float]) -> dict[str, Any]:
    """n - 1 colluding hospitals recover the n-th update from the model file, with DP off and on."""
    out: list[dict[str, Any]] = []
    for n in (5, 2):
        for z in multipliers:
            fed = run_federation(seed, rounds, z, hospitals=n, honest=min(3, n))
            errors, exact = zip(*(_recover(fed, k, n - 1) for k in range(rounds)), strict=True)
            out.append({
                "hospitals": n, "z": z, "median_relative_error": float(np.median(errors)),
                "exact_recoveries": int(sum(exact)), "rounds": rounds,
            })  # fmt: skip
    return {"rows": out}


def round_figures(seed: int, rounds: int) -> dict[str, Any]:
    """Does any published figure equal one hospital's own? The old statistic (the exact median norm) against
    the published noised count; exact against declared sample counts."""
    fed = run_federation(seed, rounds, 0.0)
    median_hits = count_hits = 0
    for r in fed.rounds:
        median = float(np.median(r.norms))
        median_hits += any(abs(median - n) < 1e-6 for n in r.norms)
        count_hits += any(abs(r.statistic.noised_within - n) < 1e-6 for n in r.norms)
        count_hits += float(r.statistic.noised_within).is_integer()  # the exact count would be an integer
    sizes = fed.split.shard_sizes()
    policy = NormBoundPolicy()
    return {
        "rounds": rounds,
        "old_median_equals_a_hospitals_norm": int(median_hits),
        "published_count_equals_a_norm_or_the_exact_count": int(count_hits),
        "count_epsilon_per_round": epsilon([[policy.count_noise]], 1e-5),
        "shard_sizes": list(sizes),
        "declared_counts": [declared_sample_count(n, 10) for n in sizes],
        "exact_counts_published": sum(declared_sample_count(n, 10) == n for n in sizes),
    }


def receipts(seed: int, rounds: int, patients: int = 10) -> dict[str, Any]:
    """One patient's receipts under successive rounds' models: each exact logit is one linear equation in its
    30 features (the inference circuit's reference logit, as PredictionRegistry records it)."""
    fed = run_federation(seed, rounds, 0.0)
    spec = KzgInferenceCircuitSpec()
    test = fed.split.test
    errors = []
    for p in range(patients):
        x = test.x[p].astype(np.float64)
        xq = quantize_features(spec, x.tolist())
        rows, logits = [], []
        for r in fed.rounds:
            agg = r.aggregate
            logit = reference_logit(spec, agg, xq)
            w = np.asarray(agg[: spec.num_features + 1], dtype=np.float64) / 2 ** (2 * SCALE_BITS)
            rows.append(w[:-1])
            logits.append(logit / 2 ** (2 * SCALE_BITS) - w[-1])
        solution, *_ = np.linalg.lstsq(np.asarray(rows), np.asarray(logits), rcond=None)
        errors.append(_median_relative_error(solution, x))
    return {"receipts": rounds, "patients": patients, "median_relative_error": float(np.median(errors))}


def _auc_ci(members: NDArray[np.float64], others: NDArray[np.float64], seed: int) -> tuple[float, float, float]:
    labels = np.r_[np.ones(len(members)), np.zeros(len(others))]
    scores = np.r_[members, others]
    auc = float(roc_auc_score(labels, scores))
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(1000):
        m = rng.choice(members, len(members))
        o = rng.choice(others, len(others))
        boot.append(roc_auc_score(labels, np.r_[m, o]))
    low, high = np.percentile(boot, [2.5, 97.5])
    return auc, float(low), float(high)


def _losses(spec: ModelSpec, params: NDArray[np.float64], data: Dataset) -> NDArray[np.float64]:
    p = np.clip(predict_proba(spec, params, data.x), 1e-12, 1 - 1e-12)
    y = data.y.astype(np.float64)
    return np.asarray(-(y * np.log(p) + (1 - y) * np.log(1 - p)))


def membership(seed: int, rounds: int, multipliers: list[float]) -> dict[str, Any]:
    """Loss-threshold membership inference (score: minus the loss) on the final global model: the federation's
    training records against the held-out ones; AUC with a 95% bootstrap interval."""
    out = []
    for z in multipliers:
        fed = run_federation(seed, rounds, z)
        params = fed.final_params
        members = np.concatenate([-_losses(fed.spec, params, s) for s in fed.split.shards])
        others = -_losses(fed.spec, params, fed.split.test)
        auc, low, high = _auc_ci(members, others, seed)
        out.append({"z": z, "auc": auc, "ci_low": low, "ci_high": high, "members": len(members), "others": len(others)})
    return {"rounds": rounds, "rows": out}


def accuracy_cost(seeds: list[int], rounds: int, multipliers: list[float], honest: int = 3) -> dict[str, Any]:
    """Test accuracy after ``rounds`` rounds against the noise multiplier, and each hospital's epsilon (update
    and the bound policy's count, composed over the rounds, RDP at delta 1e-5, from the rounds' weights)."""
    policy = NormBoundPolicy()
    out = []
    for z in multipliers:
        accs, eps = [], []
        for seed in seeds:
            fed = run_federation(seed, rounds, z, honest=honest)
            accs.append(accuracy(fed.spec, fed.final_params, fed.split.test))
            mechanisms = []
            for r in fed.rounds:
                weights = [w / 2**SCALE_BITS for w in r.weights]
                update = round_multipliers(z, honest, weights)[0] if z > 0 else 0.0
                mechanisms.append([update, policy.count_noise])
            eps.append(epsilon(mechanisms, 1e-5))
        out.append({
            "z": z, "accuracy_mean": float(np.mean(accs)), "accuracy_min": float(np.min(accs)),
            "epsilon": None if math.isinf(max(eps)) else float(max(eps)),
        })  # fmt: skip
    return {"rounds": rounds, "seeds": seeds, "honest_hospitals": honest, "rows": out}
