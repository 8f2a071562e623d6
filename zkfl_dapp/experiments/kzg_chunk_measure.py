"""Measure chunked norm proofs (zkfl_dapp.circuits.kzg_chunk_norm) for one model size.

Builds the chunk circuit (``--chunk``, ``--inner-cols``), then for a random update near a random previous
aggregate of ``--model-size`` parameters: ``kzg.commit`` of every padded chunk (the hospital's and the
aggregate's), ``prove_chunks`` of the first ``--prove`` chunks (default: all) with ``--workers``
processes, the peak RSS of the whole process tree (sampled from /proc every 0.2 s) and of the largest
single process, and an off-chain verification of every proof (``ss_c`` against the Python reference).
Verifier sizes and ``verifyProof`` gas: ``tests/contracts/test_kzg_chunk_norm.py`` with
``ZKFL_CHUNK_SPEC=large`` (ape + anvil).

    nice python -m zkfl_dapp.experiments.kzg_chunk_measure --chunk 4096 --inner-cols 8 [--prove 4]

Prints one JSON object. Nothing imports this file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
WEIGHTS = (1000, 2000, 3000, 1192, 1000)


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    out = [int(k) for k in kids]
    for k in list(out):
        out += _children(k)
    return out


class RssSampler(threading.Thread):
    """Peak RSS of this process plus its descendants (sum), and of the largest single one."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.tree_kb = 0
        self.single_kb = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            pids = [os.getpid(), *_children(os.getpid())]
            sizes = [_rss_kb(p) for p in pids]
            self.tree_kb = max(self.tree_kb, sum(sizes))
            self.single_kb = max(self.single_kb, max(sizes))
            time.sleep(0.2)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def _inputs(model_size: int, spec: Any, rng: random.Random) -> tuple[list[list[int]], list[tuple[int, ...]]]:
    """Padded chunks of an update and of the previous aggregate of 5 hospitals (weights summing to 2**13)."""
    from zkfl_dapp.circuits import chunks as model_chunks

    base = [rng.randint(-(2**12), 2**12) for _ in range(model_size)]
    hospitals = [
        model_chunks.pad_chunks(
            model_chunks.split_chunks([b + rng.randint(-40, 40) for b in base], spec.chunk), spec, rng
        )
        for _ in WEIGHTS
    ]
    prev = model_chunks.aggregate_chunks(hospitals, WEIGHTS)
    update = model_chunks.pad_chunks(
        model_chunks.split_chunks([b + rng.randint(-40, 40) for b in base], spec.chunk), spec, rng
    )
    return update, prev


def main() -> int:
    from zkfl_dapp.circuits import chunk_prover
    from zkfl_dapp.circuits import chunks as model_chunks
    from zkfl_dapp.circuits import kzg_chunk_norm as kc
    from zkfl_dapp.circuits.proving import verify_offchain

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-size", type=int, default=108_801)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--inner-cols", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--prove", type=int, default=0, help="prove only the first N chunks (0: all)")
    args = parser.parse_args()

    spec = kc.KzgChunkNormSpec(chunk=args.chunk, inner_cols=args.inner_cols)
    t0 = time.perf_counter()
    art = kc.ensure_kzg_chunk_norm_artifacts(spec, ROOT / "build" / "circuits", progress=print)
    build_now = time.perf_counter() - t0
    manifest = json.loads(art.manifest.read_text())
    basis = art.basis()
    update, prev = _inputs(args.model_size, spec, random.Random(args.model_size))
    n = len(update)
    t0 = time.perf_counter()
    model_chunks.commit_chunks(update, basis)
    commit_s = time.perf_counter() - t0
    count = args.prove or n
    workdir = ROOT / "build" / "kzg-chunk-measure" / spec.name
    sampler = RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sums = [kc.chunk_sum_of_squares(spec, update[c], prev[c]) for c in range(count)]
    proofs = chunk_prover.prove_chunks(
        art, update[:count], prev[:count], sums, ADDRESS, workdir, workers=args.workers, progress=print
    )  # each chunk's budget its exact sum of squares: the tightest statement
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # the pool's workers, reaped at its shutdown
    worker_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    sampler.stop()
    # prove_chunks numbers chunks 0..count-1 of count; the real count is n (instances differ only there)
    ok = all(verify_offchain(art, p.path) for p in proofs)
    exact = all(p.flag and p.budget == sums[c] for c, p in enumerate(proofs))
    seconds = [p.prove_seconds for p in proofs]
    print(
        json.dumps(
            {
                "model_size": args.model_size,
                "chunk": spec.chunk,
                "inner_cols": spec.inner_cols,
                "chunks": n,
                "logrows": art.logrows,
                "num_rows": json.loads(art.settings.read_text())["num_rows"],
                "unusable_rows": basis.unusable_rows,
                "setup_s": manifest["setup_seconds"],
                "build_s": manifest["build_seconds"],
                "build_now_s": round(build_now, 1),
                "commit_all_chunks_s": round(commit_s, 2),
                "proved_chunks": count,
                "workers": args.workers,
                "prove_s_per_chunk": [round(s, 1) for s in seconds],
                "prove_s_mean": round(sum(seconds) / len(seconds), 2),
                "wall_s": round(wall, 1),
                "worker_cpu_s_per_chunk": round(worker_cpu / count, 1),
                "wall_s_on_2_free_cores_estimate": round(worker_cpu / count * n / 2, 1),
                "wall_s_extrapolated_all_chunks": round(wall * n / count, 1),
                "peak_rss_tree_mb": round(sampler.tree_kb / 1024),
                "peak_rss_single_process_mb": round(sampler.single_kb / 1024),
                "pk_bytes": art.pk.stat().st_size,
                "proof_bytes": len(proofs[0].proof),
                "wrapper_source_bytes": art.verifier_sol.stat().st_size,
                "all_verified": ok,
                "within_exact_budgets": exact,
                "sum_ss": sum(sums),
                "load_average": os.getloadavg()[0],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
