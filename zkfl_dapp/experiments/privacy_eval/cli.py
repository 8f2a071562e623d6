"""``python -m zkfl_dapp.experiments.privacy_eval [--quick] [--json PATH] [--report PATH] [--render-only]``.

Runs every measurement of :mod:`.measures`, writes their JSON output, then the Markdown report generated from
that JSON alone (:mod:`.report`): no figure in the report is typed by hand. Deterministic: every noise draw is
seeded here (the parties draw theirs from the operating system).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.experiments.privacy_eval import measures
from zkfl_dapp.experiments.privacy_eval.report import render

FULL: dict[str, Any] = {"seeds": [0, 1, 2], "rounds": 10, "multipliers": [0.0, 0.5, 1.0, 2.0], "receipts": 30}
QUICK: dict[str, Any] = {"seeds": [0], "rounds": 2, "multipliers": [0.0, 1.0], "receipts": 30}


def run(config: dict[str, Any], progress: Any = print) -> dict[str, Any]:
    """Every measurement under ``config``; returns the JSON-ready results."""
    seed, rounds, zs = config["seeds"][0], config["rounds"], config["multipliers"]
    started = time.perf_counter()
    results: dict[str, Any] = {"config": config}
    steps = [
        ("small_shard", lambda: measures.small_shard(seed, patients=20 if rounds > 2 else 5)),
        ("differencing", lambda: measures.differencing(seed, min(rounds, 5), zs)),
        ("round_figures", lambda: measures.round_figures(seed, min(rounds, 5))),
        ("receipts", lambda: measures.receipts(seed, config["receipts"], patients=10 if rounds > 2 else 2)),
        ("membership", lambda: measures.membership(seed, rounds, [zs[0], zs[-1]] if len(zs) > 1 else zs)),
        ("accuracy", lambda: measures.accuracy_cost(config["seeds"], rounds, zs)),
    ]
    for name, step in steps:
        t0 = time.perf_counter()
        results[name] = step()
        progress(f"privacy-eval: {name} done ({time.perf_counter() - t0:.1f} s)")
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny run (the tests'): 2 rounds, seed 0, z 0 and 1")
    parser.add_argument("--json", type=Path, default=REPO_ROOT / "build" / "privacy-eval" / "results.json")
    parser.add_argument("--report", type=Path, default=None, help="write the Markdown report here")
    parser.add_argument("--render-only", action="store_true", help="write the report from the existing --json")
    args = parser.parse_args(argv)
    config = dict(QUICK if args.quick else FULL)
    if args.render_only:
        results = json.loads(args.json.read_text())
    else:
        results = run(config)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
        print(f"privacy-eval: results in {args.json}")
    if args.report is not None:
        quick = results["config"] == QUICK
        command = "python -m zkfl_dapp.experiments.privacy_eval" + (" --quick" if quick else "")
        args.report.write_text(render(results, command))
        print(f"privacy-eval: report in {args.report}")
    return 0
