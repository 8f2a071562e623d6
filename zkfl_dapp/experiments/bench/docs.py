"""The benchmark figures in docs/benchmarks.md and README.md, written from the benches' JSON output (one script).

Every generated table sits between two markers in a Markdown file::

    <!-- bench:NAME -->
    ...written by this script, never by hand...
    <!-- /bench:NAME -->

and is rendered from a JSON file kept in ``docs/bench/`` (the measured data, committed with the docs it
feeds): ``results.json`` from ``make bench``, ``large.json`` from ``make bench-large``, ``chunk-sweep.json``
from ``make chunk-sweep`` (``chunk-sweep-explore.json``: the wider sweep the choice was made from). Each
bench's make target copies its fresh JSON there and runs this script, so a figure in the docs is always one
of a run's figures; ``--check`` (run by the unit tests) fails when a block differs from what its JSON
renders, i.e. when a figure was retyped or a JSON file changed without the docs.

    python -m zkfl_dapp.experiments.bench.docs                     # rewrite every block from docs/bench/*.json
    python -m zkfl_dapp.experiments.bench.docs --from build/bench/results.json   # take a fresh run, then rewrite
    python -m zkfl_dapp.experiments.bench.docs --check             # exit 1 and name the stale blocks
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "docs" / "bench"
DOCUMENTS = (ROOT / "docs" / "benchmarks.md", ROOT / "README.md")
BLOCK = re.compile(r"(<!-- bench:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /bench:(?P=name) -->)", re.S)


def _provenance(doc: dict[str, Any]) -> str:
    m = doc.get("machine", {})
    load = doc.get("load_average")
    load_text = f", load average {load[0]:.2f} at the end" if isinstance(load, list | tuple) and load else ""
    return (
        f"Measured {doc.get('date', '?')} by `{doc.get('command', '?')}` on {m.get('cpus', '?')} CPUs, "
        f"{m.get('memory_gb', '?')} GB{load_text}; the bench took {doc.get('bench_seconds', 0):.0f} s."
    )


def _small_table(doc: dict[str, Any]) -> str:
    from zkfl_dapp.experiments.bench.table import format_table

    return _provenance(doc) + "\n\n" + format_table(doc["results"])


def _small_targets(doc: dict[str, Any]) -> str:
    from zkfl_dapp.experiments.bench.table import format_targets

    return format_targets(doc["results"])


def _readme(doc: dict[str, Any]) -> str:
    """The README's one-screen summary: per model, the figures a newcomer asks for first."""
    rows = [
        "| model | submission gas | finalize gas | round, 5 hospital processes | accuracy proven / plain |",
        "|---|--:|--:|--:|--:|",
    ]
    for r in doc["results"]:
        s = r["summary"]
        par = s.get("parallel_round_seconds")
        rows.append(
            f"| d = {r['parameters']} | {s['submit_gas']:,.0f} | {s['finalize_gas']:,.0f} | "
            f"{'n/a' if par is None else f'{par:.2f} s'} | "
            f"{s['accuracy_after_sequential']:.2%} / {s['plain_accuracy_after_sequential']:.2%} |"
        )
    return "\n".join(rows) + f"\n\n{_provenance(doc)}"


def _large(doc: dict[str, Any]) -> str:
    from zkfl_dapp.experiments.bench.large import format_summary

    return format_summary(doc)


#: The chunk circuit shipped before the sweep (4,096 values, 8 inner columns, range checks 2^9 x 4): the
#: sweep's ratios are against this point, measured in the same sweep.
SWEEP_BASELINE = {"chunk": 4096, "cols": 8, "base_bits": 9, "legs": 4}
#: The point the large model uses (zkfl_dapp.circuits.kzg_chunk_norm.LARGE_CHUNK_SPEC) and its size.
SWEEP_CHOSEN = {"chunk": 4096, "cols": 1, "base_bits": 12, "legs": 3}
LARGE_MODEL = 114_177


def _point(points: list[dict[str, Any]], spec: dict[str, int]) -> dict[str, Any] | None:
    """The first measured (not failed) sweep point with ``spec``'s chunk, columns and decomposition."""
    return next((p for p in points if "error" not in p and all(p[k] == v for k, v in spec.items())), None)


def _sweep(doc: dict[str, Any]) -> str:
    points = doc["points"]
    base = _point(points, SWEEP_BASELINE)
    rows = [
        f"{doc.get('cpus', '?')} CPUs, {doc.get('threads', '?')} prover threads per point; "
        "`python -m zkfl_dapp.experiments.chunk_sweep` (every decomposition keeps the 2^36 range). "
        "Ratio: the baseline's CPU-s per 1,000 values (4,096 values, 8 columns, 2^9 x 4, the circuit shipped "
        "before this sweep, measured in the same sweep) over the point's."
        + (f" Runs: {doc['runs']}." if doc.get("runs") else ""),
        "",
        "| values per chunk | inner columns | range check | logrows | prove CPU-s / 1,000 values | ratio to baseline "
        "| prove wall s | prover peak MB | setup peak MB | proving key MB | proof bytes | load |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for p in points:
        decomp = f"2^{p['base_bits']} x {p['legs']}"
        if "error" in p:
            rows.append(f"| {p['chunk']} | {p['cols']} | {decomp} | failed | | | | | | | | |")
            continue
        cpu = p["cpu_s_per_1000_values"]
        ratio = f"{base['cpu_s_per_1000_values'] / cpu:.2f}x" if base else "n/a"
        rows.append(
            f"| {p['chunk']:,} | {p['cols']} | {decomp} | {p['logrows']} | {cpu:.2f} | {ratio} | "
            f"{p['prove_wall_s']:.1f} | {p['prove_peak_rss_mb']:,} | {p['setup_peak_rss_mb']:,} | {p['pk_mb']:,.0f} | "
            f"{p['proof_bytes']:,} | {p['load_average']:.2f} |"
        )
    chosen = _point(points, SWEEP_CHOSEN)
    if chosen is not None:
        chunks = -(-LARGE_MODEL // chosen["chunk"])
        cpu = chosen["prove_cpu_s"] * chunks
        gb = chosen["prove_peak_rss_mb"] / 1024
        rows += [
            "",
            f"At the chosen point ({chosen['chunk']:,} values, {chosen['cols']} column, "
            f"2^{chosen['base_bits']} x {chosen['legs']}), the {LARGE_MODEL:,}-parameter model's {chunks} chunks "
            f"take {cpu:,.0f} CPU-s of proving: about {cpu / 2 / 60:.1f} min on 2 idle cores (2 provers, "
            f"{2 * gb:.1f} GB), {cpu / 16:.0f} s on 16 cores with 16 provers ({16 * gb:.1f} GB): computed from "
            "this table's CPU-s and peak memory, not a timed run.",
        ]
    return "\n".join(rows)


#: block name -> (the JSON file it is rendered from, the renderer)
RENDERERS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "small-table": ("results.json", _small_table),
    "small-targets": ("results.json", _small_targets),
    "readme-summary": ("results.json", _readme),
    "large": ("large.json", _large),
    "chunk-sweep": ("chunk-sweep.json", _sweep),
    "chunk-sweep-explore": ("chunk-sweep-explore.json", _sweep),
}


class StaleDocs(Exception):
    """A block that names no renderer, or whose JSON file is missing."""


def render_document(text: str, data: Path = DATA) -> str:
    """``text`` with every marked block rewritten from its JSON file in ``data``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in RENDERERS:
            raise StaleDocs(f"block {name!r} has no renderer (known: {', '.join(RENDERERS)})")
        file, render = RENDERERS[name]
        path = data / file
        if not path.is_file():
            raise StaleDocs(f"block {name!r} needs {path}: run its bench (see docs/benchmarks.md)")
        return match.group(1) + render(json.loads(path.read_text())).rstrip("\n") + "\n" + match.group(4)

    return BLOCK.sub(replace, text)


def stale_blocks(documents: tuple[Path, ...] = DOCUMENTS, data: Path = DATA) -> list[str]:
    """``file: block`` for every block whose text is not what its JSON renders."""
    stale = []
    for doc in documents:
        text = doc.read_text()
        fresh = render_document(text, data)
        old = {m.group("name"): m.group("body") for m in BLOCK.finditer(text)}
        new = {m.group("name"): m.group("body") for m in BLOCK.finditer(fresh)}
        shown = doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc
        stale += [f"{shown}: {name}" for name in old if old[name] != new[name]]
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--from",
        dest="fresh",
        type=Path,
        action="append",
        default=[],
        help="a bench's fresh JSON output, copied into docs/bench/ first (by its file name)",
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a block is stale")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = stale_blocks()
            for item in stale:
                print(f"stale: {item} (regenerate: python -m zkfl_dapp.experiments.bench.docs)", file=sys.stderr)
            return 1 if stale else 0
        for fresh in args.fresh:
            known = sorted({file for file, _ in RENDERERS.values()})  # the data files the blocks are rendered from
            if fresh.name not in known:
                parser.error(f"{fresh}: expected one of {', '.join(known)}")
            DATA.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(fresh, DATA / fresh.name)
        for doc in DOCUMENTS:
            doc.write_text(render_document(doc.read_text()))
            print(f"wrote {doc.relative_to(ROOT)}")
    except (StaleDocs, OSError, ValueError, KeyError) as exc:
        print(f"bench docs: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
