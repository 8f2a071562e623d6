"""The bench's printed tables (a row per metric, a column per model).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zkfl_dapp.experiments.bench.measure import _ROWS


def format_inference(inference: dict[str, Any]) -> str:
    rows = [
        ("circuit logrows", str(inference["logrows"])),
        ("setup (keygen), s (at build)", _fmt(inference["setup_seconds"], ".1f")),
        ("proving key, MB", _fmt(inference["pk_bytes"] / 1e6, ",.1f")),
        ("proving, s", _fmt(inference["prove_seconds"], ".1f")),
        ("verification off-chain, s", _fmt(inference["verify_offchain_seconds"], ".3f")),
        ("proof size, bytes", _fmt(inference["proof_bytes"], ",")),
        ("recordPrediction gas (tx)", _fmt(inference["record_prediction_gas"], ",")),
        ("risk: circuit / float model", f"{inference['probability']:.4f} / {inference['float_probability']:.4f}"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"| {'proven prediction (logreg)':<{width}} | {'value':>12} |", f"|{'-' * (width + 2)}|{'-' * 13}:|"]
    lines += [f"| {name:<{width}} | {value:>12} |" for name, value in rows]
    return "\n".join(lines)


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    return format(value, spec)


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """The figures as a Markdown table: one row per metric, one column per model."""
    headers = ["metric"] + [f"{r['model']} (d={r['parameters']})" for r in results]
    body: list[list[str]] = []
    for label, get, spec in _ROWS:
        if get is None:
            cells = [
                f"{r['summary']['final_accuracy']:.2%} / {r['summary']['final_baseline_accuracy']:.2%}" for r in results
            ]
        else:
            cells = [_fmt(get(r), spec) for r in results]
        body.append([label, *cells])
    widths = [max(len(row[i]) for row in [headers, *body]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "| " + " | ".join([first, *rest]) + " |"

    sep = "|" + "|".join(["-" * (widths[0] + 2)] + ["-" * (w + 1) + ":" for w in widths[1:]]) + "|"
    return "\n".join([line(headers), sep, *(line(row) for row in body)])

