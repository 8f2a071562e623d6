"""The bench's printed tables: new figures beside the ones recorded for the previous design, and the targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Figures recorded in docs/benchmarks.md at commit 6ecabea (the previous design: Poseidon commitments, a
#: hashed norm circuit per submission, an aggregation proof per round), by model size. ``None``: not
#: measured then. The whole-round gas is computed from the recorded means (5 x submit + finalize); the
#: aggregation time then was the enclave's aggregation proof; its prover RSS the aggregation prover's.
RECORDED_6ECABEA: dict[int, dict[str, Any]] = {
    31: {
        "norm_logrows": 13,
        "commit_seconds_per_hospital": 0.0041,
        "norm_prove_seconds": 2.18,
        "norm_prove_peak_rss_mb": None,
        "aggregate_seconds": 2.3,
        "submit_gas": 968_358,
        "finalize_gas": 1_034_617,
        "round_gas": 5 * 968_358 + 1_034_617,
        "sequential_round_seconds": 14.8,
        "parallel_round_seconds": None,
        "plain_round_seconds": 0.019,
        "ratio_sequential": 769,
        "ratio_parallel": None,
        "accuracy": "92.98% / 92.98% (2 rounds)",
    },
    513: {
        "norm_logrows": 16,
        "commit_seconds_per_hospital": 0.0659,
        "norm_prove_seconds": 13.48,
        "norm_prove_peak_rss_mb": None,
        "aggregate_seconds": 29.7,
        "submit_gas": 1_426_588,
        "finalize_gas": 1_485_075,
        "round_gas": 5 * 1_426_588 + 1_485_075,
        "sequential_round_seconds": 100.7,
        "parallel_round_seconds": None,
        "plain_round_seconds": 0.026,
        "ratio_sequential": 3932,
        "ratio_parallel": None,
        "accuracy": "92.11% / 92.11% (2 rounds)",
    },
}

OLD_LABEL = "recorded, previous design (commit 6ecabea)"


def _mean_of(r: dict[str, Any], key: str, mode: str) -> float | None:
    values = [row[key] for row in r.get("rounds", []) if row.get("mode") == mode and key in row]
    return sum(values) / len(values) if values else None


def _accuracy(r: dict[str, Any]) -> str:
    s = r["summary"]
    proven, plain = s["accuracy_after_sequential"], s["plain_accuracy_after_sequential"]
    return f"{proven:.2%} / {plain:.2%} ({s['rounds_sequential']} rounds)"


#: (label, key in a result's summary (or a function of the result), key in RECORDED_6ECABEA, format)
_ROWS: list[tuple[str, Any, str | None, str]] = [
    ("norm circuit logrows", lambda r: r["norm_logrows"], "norm_logrows", "d"),
    ("local training, s / hospital", "train_seconds_per_hospital", None, ".3f"),
    ("commitment, s / hospital", "commit_seconds_per_hospital", "commit_seconds_per_hospital", ".4f"),
    ("encryption + store, s / hospital", "encrypt_seconds_per_hospital", None, ".4f"),
    ("norm proof, s / hospital (sequential)", "norm_prove_seconds", "norm_prove_seconds", ".2f"),
    ("norm proof, s / hospital (5 in parallel)", "norm_prove_seconds_parallel", None, ".2f"),
    ("norm proof in a clean child, s (wall)", "norm_prove_child_seconds", None, ".2f"),
    ("norm proof in a clean child, s (CPU)", "norm_prove_child_cpu_seconds", None, ".2f"),
    ("norm prover peak RSS (child), MB", "norm_prove_peak_rss_mb", "norm_prove_peak_rss_mb", ",.0f"),
    ("enclave aggregation, s (no prover)", "aggregate_seconds", "aggregate_seconds", ".3f"),
    ("submitUpdate gas (mean, norm proof verified)", "submit_gas", "submit_gas", ",.0f"),
    ("finalizeRound gas (mean)", "finalize_gas", "finalize_gas", ",.0f"),
    ("round gas (5 submissions + finalize)", "round_gas", "round_gas", ",.0f"),
    ("proven round wall, s (hospitals sequential)", "sequential_round_seconds", "sequential_round_seconds", ".2f"),
    ("proven round wall, s (hospitals parallel)", "parallel_round_seconds", "parallel_round_seconds", ".2f"),
    ("of it: 5 submissions sent, s (parallel rounds)", lambda r: _mean_of(r, "submit_seconds", "parallel"), None, ".3f"),  # noqa: E501
    ("plain FedAvg round wall, s (median)", "plain_round_seconds", "plain_round_seconds", ".3f"),
    ("ratio proven / plain (sequential)", "ratio_sequential", "ratio_sequential", ",.0f"),
    ("ratio proven / plain (parallel)", "ratio_parallel", "ratio_parallel", ",.0f"),
    ("accuracy proven / plain float", _accuracy, "accuracy", "s"),
]


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    if isinstance(value, str):
        return value
    return format(value, spec)


def _markdown(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in [headers, *body]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join([first, *rest]) + " |"

    sep = "|" + "|".join(["-" * (widths[0] + 2)] + ["-" * (w + 1) + ":" for w in widths[1:]]) + "|"
    return "\n".join([line(headers), sep, *(line(row) for row in body)])


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """One row per metric; per model a column of new figures and one of the recorded previous-design figures."""
    headers = ["metric"]
    for r in results:
        headers += [f"d={r['parameters']} new", f"d={r['parameters']} old (6ecabea)*"]
    body: list[list[str]] = []
    for label, key, old_key, spec in _ROWS:
        cells = [label]
        for r in results:
            new = key(r) if callable(key) else r["summary"].get(key)
            old = RECORDED_6ECABEA.get(r["parameters"], {}).get(old_key) if old_key else None
            cells += [_fmt(new, spec), _fmt(old, spec)]
        body.append(cells)
    return _markdown(headers, body) + f"\n\n* old: {OLD_LABEL}; n/a: not measured then."


#: (target, check) for the d = 31 consortium (finalize and aggregation also for d = 513)
def targets(results: Sequence[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """Each target: its statement, the measured figure, and whether it is met."""
    out: list[tuple[str, str, bool]] = []
    for r in results:
        s, d = r["summary"], r["parameters"]
        out.append(
            (
                f"d={d}: finalizeRound <= 150k gas",
                f"{s['finalize_gas_max']:,.0f} gas (max)",
                s["finalize_gas_max"] <= 150_000,
            )
        )
        out.append(
            (
                f"d={d}: aggregation <= 1 s",
                f"{s['aggregate_seconds_max']:.3f} s (max)",
                s["aggregate_seconds_max"] <= 1.0,
            )
        )
        proven, plain = s["accuracy_after_sequential"], s["plain_accuracy_after_sequential"]
        gap = abs(proven - plain) * 100
        out.append(
            (
                f"d={d}: accuracy after {s['rounds_sequential']} rounds within 1 point of plain float FedAvg",
                f"{proven:.2%} vs {plain:.2%} ({gap:.2f} points)",
                gap <= 1.0,
            )
        )
        if d == 31:
            par = s["parallel_round_seconds"]
            out.append(
                (
                    "d=31: proven round, 5 hospital processes, <= 1.5 s (2 idle cores)",
                    f"{par:.2f} s" if par is not None else "not measured",
                    par is not None and par <= 1.5,
                )
            )
            out.append(
                (
                    "d=31: norm proof <= 0.3 s",
                    f"{s['norm_prove_seconds']:.3f} s (sequential mean)",
                    s["norm_prove_seconds"] <= 0.3,
                )
            )
    return out


def format_targets(results: Sequence[dict[str, Any]]) -> str:
    rows = [[name, figure, "met" if ok else "NOT met"] for name, figure, ok in targets(results)]
    return _markdown(["target", "measured", "status"], rows)
