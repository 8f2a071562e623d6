"""The benchmark tables in the docs are the benches' JSON rendered (zkfl_dapp.experiments.bench.docs), never retyped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zkfl_dapp.experiments.bench import docs as bench_docs

SWEEP = {
    "threads": 2,
    "cpus": 2,
    "points": [
        {"chunk": 1024, "cols": 1, "base_bits": 12, "legs": 3, "logrows": 15, "cpu_s_per_1000_values": 4.73,
         "prove_wall_s": 5.1, "prove_peak_rss_mb": 307, "setup_peak_rss_mb": 442, "pk_mb": 120.0,
         "proof_bytes": 2496, "load_average": 1.0},
        {"chunk": 2048, "cols": 2, "base_bits": 9, "legs": 4, "error": "ezkl failed", "load_average": 1.0},
    ],
}  # fmt: skip


def _doc(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text(f"# Page\n\nbefore\n<!-- bench:chunk-sweep -->\n{body}<!-- /bench:chunk-sweep -->\nafter\n")
    return path


def test_blocks_are_rendered_from_their_json(tmp_path: Path) -> None:
    (tmp_path / "chunk-sweep.json").write_text(json.dumps(SWEEP))
    page = _doc(tmp_path, "old figures\n")
    text = bench_docs.render_document(page.read_text(), tmp_path)
    assert "| 1,024 | 1 | 2^12 x 3 | 15 | 4.73 | n/a |" in text
    assert "| 2048 | 2 | 2^9 x 4 | failed |" in text
    assert "old figures" not in text and text.startswith("# Page\n\nbefore\n") and text.endswith("after\n")
    assert bench_docs.render_document(text, tmp_path) == text  # idempotent


def test_a_retyped_figure_is_stale(tmp_path: Path) -> None:
    (tmp_path / "chunk-sweep.json").write_text(json.dumps(SWEEP))
    page = _doc(tmp_path, "")
    page.write_text(bench_docs.render_document(page.read_text(), tmp_path))
    assert bench_docs.stale_blocks((page,), tmp_path) == []
    page.write_text(page.read_text().replace("4.73", "3.90"))
    assert bench_docs.stale_blocks((page,), tmp_path) == [f"{page}: chunk-sweep"]


def test_missing_data_or_unknown_block_is_an_error(tmp_path: Path) -> None:
    page = _doc(tmp_path, "")
    with pytest.raises(bench_docs.StaleDocs, match="needs .*chunk-sweep.json"):
        bench_docs.render_document(page.read_text(), tmp_path)
    with pytest.raises(bench_docs.StaleDocs, match="no renderer"):
        bench_docs.render_document("<!-- bench:nope -->\n<!-- /bench:nope -->\n", tmp_path)


def test_the_checkout_docs_match_their_json() -> None:
    assert bench_docs.stale_blocks() == []


def test_sweep_ratios_are_against_the_baseline_of_the_same_sweep(tmp_path: Path) -> None:
    baseline = {**SWEEP["points"][0], **bench_docs.SWEEP_BASELINE, "cpu_s_per_1000_values": 9.46}  # type: ignore[dict-item]
    (tmp_path / "chunk-sweep.json").write_text(json.dumps({**SWEEP, "points": [*SWEEP["points"], baseline]}))
    text = bench_docs.render_document(_doc(tmp_path, "").read_text(), tmp_path)
    assert "| 1,024 | 1 | 2^12 x 3 | 15 | 4.73 | 2.00x |" in text
    assert "| 4,096 | 8 | 2^9 x 4 | 15 | 9.46 | 1.00x |" in text
