"""`make bench` (= ``python -m zkfl_dapp.experiments.bench``): what a round of the protocol over KZG
commitments costs, per model size, against a plain FedAvg round and the previous design's recorded figures.

For every model asked for (default: logistic regression, d = 31, and the MLP 30-16-1, d = 513) it

1. builds or reuses the consortium's norm circuit (``build_circuits``, the demo's cache; at d = 513
   ``KzgNormCircuitSpec(513, inner_cols=3)``, logrows 13), installs its ``KzgNormVerifier`` and
   recompiles it in a fresh process;
2. proves one norm statement of the consortium's shape in a child process: its seconds and the child's
   peak RSS (VmHWM);
3. runs a real consortium on its own anvil (``--anvil-port``, workdir ``build/bench/<model>``) exactly as
   the protocol says: ``--rounds`` norm-bounded FedAvg rounds with the hospitals preparing their updates
   one after another in this process, then ``--parallel-rounds`` with one process per hospital
   (``spawn``, started and warmed up before the round; on a 2-core machine 5 processes share 2 cores).
   Each round is timed from ``openRound`` to the finalize receipt; per hospital it records the
   commitment (quantize, pad, ``kzg.commit``), norm proof and encryption times, and per round the
   ``submitUpdate`` (its norm proof verified in it) and ``finalizeRound`` gas and the enclave's aggregation
   time (exact aggregate plus the check that it opens the commitment the contract derives; no prover);
4. times a plain FedAvg round from the same global model (the same hospitals train, then
   ``fedavg_float``: no quantization, commitment, proof, encryption, storage or chain; median of 5) and
   follows a plain float FedAvg trajectory beside the proven one for the accuracy comparison.

Torch runs single-threaded (``--torch-threads``) for all training, proven and plain alike. It prints a
table (new figures beside those recorded for the previous design at commit 6ecabea) and the targets met
or not on stdout, progress on stderr, and writes every figure, per round too, to
``build/bench/results.json`` (``--json``).

Side effect: each model's ``KzgNormVerifier`` is installed into ``contracts/generated/`` and recompiled;
at the end (also after a failure) the bench re-installs the default model's and recompiles it, so
``make test`` and ``make demo`` keep working. Do not run the bench at the same time as the tests or the demo.
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
from zkfl_dapp.experiments.bench.table import format_table, format_targets
from zkfl_dapp.ml.model import MODEL_KINDS

DEFAULT_JSON = REPO_ROOT / "build" / "bench" / "results.json"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m zkfl_dapp.experiments.bench",
        description="Benchmark rounds over KZG commitments (commitments, norm proofs, aggregation, gas, "
        "memory, wall time) against plain FedAvg, for one or more model sizes.",
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds with hospitals one after another, per model (default 5)"
    )
    parser.add_argument(
        "--parallel-rounds",
        type=int,
        default=2,
        help="then rounds with one process per hospital (default 2; 0 skips them)",
    )
    parser.add_argument(
        "--worker-threads",
        type=int,
        default=1,
        help="prover threads per hospital process in the parallel rounds (RAYON_NUM_THREADS; default 1; "
        "0 keeps the prover's default, one per CPU)",
    )
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
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in models if m not in MODEL_KINDS]
    if not models or bad:
        parser.error(f"--models: unknown model kind(s) {bad or models}; choose from {', '.join(MODEL_KINDS)}")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if args.parallel_rounds < 0:
        parser.error("--parallel-rounds must be >= 0")
    args.model_list = models
    return args


def _bench_in_children(args: argparse.Namespace) -> list[dict[str, Any]]:
    """One child process per model, so that each compiles and deploys only its own verifiers (ape 0.8
    keeps contract types it loaded earlier in a process); returns their results in order."""
    results: list[dict[str, Any]] = []
    for kind in args.model_list:
        child_json = args.json.with_name(f"results-{kind}.json")
        cmd = [sys.executable, "-m", "zkfl_dapp.experiments.bench", "--models", kind, "--json", str(child_json)]
        cmd += ["--rounds", str(args.rounds), "--parallel-rounds", str(args.parallel_rounds)]
        cmd += ["--worker-threads", str(args.worker_threads)]
        cmd += ["--hospitals", str(args.hospitals)]
        cmd += ["--anvil-port", str(args.anvil_port), "--torch-threads", str(args.torch_threads)]
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
                build_circuits(Settings())
                recompile_verifier()
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
        "worker_threads": args.worker_threads or "default",
        "load_average": os.getloadavg(),
        "settings": Settings().model_dump(mode="json", include=_SETTINGS_KEPT),
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2, default=str))
    print(format_table(results))
    print()
    print(format_targets(results))
    print(
        f"\n{len(results)} model(s), {args.rounds} sequential + {args.parallel_rounds} parallel round(s) each, "
        f"{os.cpu_count()} CPUs (the parallel rounds run {args.hospitals} hospital processes on them); "
        f"bench took {elapsed:.0f} s; details in {args.json}"
    )
    return 0
