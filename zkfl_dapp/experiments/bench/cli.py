"""`make bench` (= ``python -m zkfl_dapp.experiments.bench``): what a proven round costs, per model size.

For every model asked for (default: logistic regression, d = 31, and the MLP 30-16-1, d = 513) it

1. builds or reuses the aggregation circuit (``ensure_aggregation_artifacts``, same cache as the demo)
   and times a fresh ``ezkl.setup`` on the compiled circuit in a child process (seconds and the child's
   peak RSS; ``--skip-setup`` reports the build-time figure from the circuit's manifest instead);
2. runs a real consortium for ``--rounds`` rounds exactly as ``ape run demo`` does
   (:func:`zkfl_dapp.apps.session.session`: its own anvil on ``--anvil-port``, workdir ``build/bench/<model>``)
   and collects every :class:`~zkfl_dapp.protocol.reports.RoundReport`, plus the verifier contract's own gas
   (``verifyProof`` gas estimate on the round's real proof);
3. times the baseline, a plain FedAvg round (the same hospitals train from the same global model, then
   ``fedavg_float``: no quantization, crypto, chain or proof; repeated, median reported), and reports
   ``ratio = proven round wall time / plain round wall time``. Torch runs single-threaded for all
   training, proven and plain alike (``--torch-threads``), which is both faster for these small
   models and far less sensitive to other load on a small shared machine;
4. re-proves the last round's witness in a child process to measure the prover's peak RSS.

It prints one table (a row per metric, a column per model) on stdout, progress on stderr, and writes
every figure, per round too, to ``build/bench/results.json`` (``--json``).

Every round is norm-bounded (each hospital proves its norm, as in the demo), and one extra round per
model runs under the median rule. Several models are benchmarked one child process each.

Side effect: each model's generated verifiers (aggregation, median, norm) are installed into
``contracts/generated/`` and force-recompiled in a fresh process before its consortium is deployed; a
non-default model replaces the demo's verifiers there. At the end (also after a failure) the bench
re-installs the default ones with ``build_circuits(Settings())`` and recompiles them (see
:func:`recompile_verifier`), so ``make test`` and ``make demo`` keep working. Do not run the bench at
the same time as the test suite or the demo.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zkfl_dapp.apps.session import build_circuits, say
from zkfl_dapp.config import REPO_ROOT, Settings
from zkfl_dapp.exceptions import ZkflError
from zkfl_dapp.experiments.bench.measure import BenchError
from zkfl_dapp.experiments.bench.rounds import _SETTINGS_KEPT, bench_model, recompile_verifier
from zkfl_dapp.experiments.bench.table import format_inference, format_table
from zkfl_dapp.ml.model import MODEL_KINDS

DEFAULT_JSON = REPO_ROOT / "build" / "bench" / "results.json"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m zkfl_dapp.experiments.bench",
        description="Benchmark proven FedAvg rounds (circuit setup, proving, verification, gas, memory) "
        "against plain FedAvg, for one or more model sizes.",
    )
    parser.add_argument("--rounds", type=int, default=2, help="proven rounds per model (default 2)")
    parser.add_argument(
        "--models",
        default="logreg,mlp",
        help=f"comma-separated model kinds from {', '.join(MODEL_KINDS)} (default logreg,mlp)",
    )
    parser.add_argument("--hospitals", type=int, default=5, help="consortium size N (default 5)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"results file (default {DEFAULT_JSON})")
    parser.add_argument("--anvil-port", type=int, default=8555, help="port of the bench's own anvil (default 8555)")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch threads for all local training, proven and plain alike (default 1; 0 keeps torch's default)",
    )
    parser.add_argument(
        "--skip-setup",
        action="store_true",
        help="do not time a fresh ezkl.setup; report the manifest's build-time figure instead",
    )
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODEL_KINDS]
    if not models or bad:
        parser.error(f"--models: unknown model kind(s) {bad or models}; choose from {', '.join(MODEL_KINDS)}")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    args.model_list = models
    return args


def _bench_in_children(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One child process per model, so that each compiles and deploys only its own verifiers (ape 0.8
    keeps contract types it loaded earlier in a process); returns their results in order."""
    results: list[dict[str, Any]] = []
    for kind in args.model_list:
        child_json = args.json.with_name(f"results-{kind}.json")
        cmd = [sys.executable, "-m", "zkfl_dapp.experiments.bench", "--models", kind, "--json", str(child_json)]
        cmd += ["--rounds", str(args.rounds), "--hospitals", str(args.hospitals)]
        cmd += ["--anvil-port", str(args.anvil_port), "--torch-threads", str(args.torch_threads)]
        cmd += ["--skip-setup"] if args.skip_setup else []
        say(f"[{kind}] benchmarking in a child process: {' '.join(cmd[1:])}")
        if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode != 0:  # progress (stderr) passes through
            raise BenchError(f"the {kind} benchmark failed (see above)")
        results.extend(json.loads(child_json.read_text())["results"])
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(REPO_ROOT)  # ape's project (contracts, ape-config.yaml) is the current directory's
    if args.torch_threads > 0:
        # The models are tiny: one thread trains them faster than two, and two threads on a shared
        # 2-core machine made training times jump by 10-30x whenever anything else ran.
        import torch

        torch.set_num_threads(args.torch_threads)
    began = time.perf_counter()
    results: list[dict[str, Any]] = []
    default_kind = Settings().model
    failure: str | None = None
    try:
        if len(args.model_list) > 1:
            results = _bench_in_children(args)
        else:
            results.append(bench_model(args.model_list[0], args))
    except KeyboardInterrupt:
        failure = "interrupted"
    except Exception as exc:
        if not isinstance(exc, ZkflError | BenchError):  # the package's own errors say enough
            traceback.print_exc(file=sys.stderr)
        failure = f"{type(exc).__name__}: {exc}"
    finally:
        if len(args.model_list) == 1 and args.model_list[0] != default_kind:
            say(f"re-installing the default ({default_kind}) verifier in contracts/generated/")
            try:
                art, _ = build_circuits(Settings())
                recompile_verifier(art)
            except Exception as exc:
                failure = failure or f"could not re-install the default verifier: {exc}"
    elapsed = time.perf_counter() - began
    if failure is not None:
        print(f"bench failed: {failure}", file=sys.stderr)
        return 1
    doc = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": "python -m zkfl_dapp.experiments.bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        },
        "bench_seconds": elapsed,
        "torch_threads": args.torch_threads or "default",
        "settings": Settings().model_dump(mode="json", include=_SETTINGS_KEPT),
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2, default=str))
    print(format_table(results))
    for result in results:
        if result.get("inference"):
            print()
            print(format_inference(result["inference"]))
    print(
        f"\n{len(results)} model(s), {args.rounds} proven round(s) each, {os.cpu_count()} CPUs; "
        f"bench took {elapsed:.0f} s; details in {args.json}"
    )
    return 0

