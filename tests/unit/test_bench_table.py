"""The bench's table and targets (zkfl_dapp.experiments.bench.table) on a made-up result."""

from __future__ import annotations

from typing import Any

from zkfl_dapp.experiments.bench.table import OLD_LABEL, RECORDED_6ECABEA, format_table, format_targets, targets


def _result(d: int, **summary: Any) -> dict[str, Any]:
    base = {
        "train_seconds_per_hospital": 0.01,
        "commit_seconds_per_hospital": 0.01,
        "encrypt_seconds_per_hospital": 0.002,
        "norm_prove_seconds": 0.25,
        "norm_prove_seconds_parallel": 0.5,
        "norm_prove_child_seconds": 0.3,
        "norm_prove_child_cpu_seconds": 0.2,
        "norm_prove_peak_rss_mb": 70.0,
        "aggregate_seconds": 0.01,
        "aggregate_seconds_max": 0.02,
        "submit_gas": 825_000.0,
        "finalize_gas": 148_844.0,
        "finalize_gas_max": 148_844,
        "round_gas": 4_275_000.0,
        "sequential_round_seconds": 3.0,
        "parallel_round_seconds": 1.5,
        "plain_round_seconds": 0.02,
        "ratio_sequential": 150.0,
        "ratio_parallel": 75.0,
        "rounds_sequential": 5,
        "rounds_parallel": 2,
        "accuracy_after_sequential": 0.9561,
        "plain_accuracy_after_sequential": 0.9474,
    }
    base.update(summary)
    return {"model": "logreg", "parameters": d, "norm_logrows": 10, "summary": base}


def _status(results: list[dict[str, Any]]) -> dict[str, bool]:
    return {name: ok for name, _, ok in targets(results)}


def test_every_target_met_on_a_result_inside_them() -> None:
    assert all(_status([_result(31)]).values())
    assert len(_status([_result(31)])) == 5  # finalize, aggregation, accuracy, parallel round, norm proof


def test_each_target_fails_past_its_threshold() -> None:
    cases = {
        "d=31: finalizeRound <= 150k gas": {"finalize_gas_max": 150_001},
        "d=31: aggregation <= 1 s": {"aggregate_seconds_max": 1.01},
        "d=31: accuracy after 5 rounds within 1 point of plain float FedAvg": {"plain_accuracy_after_sequential": 0.94},
        "d=31: proven round, 5 hospital processes, <= 1.5 s (2 idle cores)": {"parallel_round_seconds": 1.51},
        "d=31: norm proof <= 0.3 s": {"norm_prove_seconds": 0.31},
    }
    for name, change in cases.items():
        status = _status([_result(31, **change)])
        assert not status[name], name
        assert all(ok for other, ok in status.items() if other != name), name


def test_table_puts_the_recorded_previous_design_beside_the_new_figures() -> None:
    text = format_table([_result(31), _result(513)])
    assert OLD_LABEL in text and "d=31 old (6ecabea)*" in text and "d=513 new" in text
    assert f"{RECORDED_6ECABEA[31]['finalize_gas']:,}" in text and f"{RECORDED_6ECABEA[513]['submit_gas']:,}" in text
    assert "148,844" in text
    assert "NOT met" in format_targets([_result(31, norm_prove_seconds=1.0)])
