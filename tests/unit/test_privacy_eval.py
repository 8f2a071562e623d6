"""The leakage evaluation's small cases (`make privacy-eval` runs the full one): each remedy measured on, at or
near guessing, and each attack working where the remedy is off."""

from __future__ import annotations

from typing import Any

import pytest

from zkfl_dapp.experiments.privacy_eval import measures
from zkfl_dapp.experiments.privacy_eval.report import render


@pytest.fixture(scope="module")
def small() -> dict[str, Any]:
    return {
        "small_shard": measures.small_shard(0, patients=2),
        "differencing": measures.differencing(0, 1, [0.0, 1.0]),
        "round_figures": measures.round_figures(0, 2),
        "membership": measures.membership(0, 1, [0.0]),
        "accuracy": measures.accuracy_cost([0], 1, [0.0, 1.0]),
    }


def test_a_one_patient_update_is_refused_and_would_have_been_the_patients_record(small: dict[str, Any]) -> None:
    s = small["small_shard"]
    assert s["one_patient_refused"] and "minimum of 10" in s["refusal"]
    assert s["error_one_patient"] < 1e-4  # what the refusal prevents
    assert s["error_one_patient_dp"] > 1 and s["error_minimum_best_match"] > 0.5  # worse than guessing zero


def test_differencing_recovers_the_update_exactly_without_dp_and_only_noise_with_it(small: dict[str, Any]) -> None:
    rows = {(r["hospitals"], r["z"]): r for r in small["differencing"]["rows"]}
    for n in (5, 2):
        assert rows[(n, 0.0)]["median_relative_error"] < 1e-2 and rows[(n, 0.0)]["exact_recoveries"] == 1
        assert rows[(n, 1.0)]["median_relative_error"] > 1  # guessing zero scores 1


def test_no_published_round_figure_is_one_hospitals(small: dict[str, Any]) -> None:
    f = small["round_figures"]
    assert f["old_median_equals_a_hospitals_norm"] == f["rounds"]  # the review's finding, reproduced
    assert f["published_count_equals_a_norm_or_the_exact_count"] == 0
    assert f["exact_counts_published"] == 0 and all(d % 10 == 0 for d in f["declared_counts"])


def test_membership_is_near_guessing_and_the_report_renders_from_the_json(small: dict[str, Any]) -> None:
    (row,) = small["membership"]["rows"]
    assert row["ci_low"] < 0.5 < row["ci_high"]
    off, on = small["accuracy"]["rows"]
    assert off["epsilon"] is None and on["epsilon"] > 0
    results = {
        **small,
        "config": {"seeds": [0], "rounds": 1, "multipliers": [0.0, 1.0]},
        "receipts": {"receipts": 30, "patients": 1, "median_relative_error": 3e-5},
        "seconds": 1.0,
    }
    text = render(results, "python -m zkfl_dapp.experiments.privacy_eval")
    assert f"{on['accuracy_mean']:.2%}" in text and f"{small['small_shard']['error_one_patient']:.3g}" in text
