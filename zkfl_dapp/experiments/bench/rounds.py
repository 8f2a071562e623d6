"""One model's figures: a real consortium on anvil, proven rounds with hospitals one after another and in
parallel processes, the plain FedAvg baseline from the same global models, and the norm prover's memory.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from zkfl_dapp.apps.session import build_circuits, say, session
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.config import REPO_ROOT, Settings
from zkfl_dapp.core.fixedpoint import dequantize
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.core.norms import bound_from_quantized
from zkfl_dapp.experiments.bench.measure import (
    BenchError,
    init_worker,
    mean,
    measure_norm_prover,
    worker_prepare,
    worker_warmup,
)
from zkfl_dapp.ml.model import accuracy
from zkfl_dapp.ml.training import TrainConfig, fedavg_float, train_local
from zkfl_dapp.protocol.hospital import PreparedUpdate, fetch_enclave_key, fetch_global_model

#: Settings that shape the figures, recorded in the results file.
_SETTINGS_KEPT = {"local_epochs", "batch_size", "learning_rate", "scale_bits", "split", "seed", "quorum", "mlp_hidden"}

#: How often the (sub-second) plain FedAvg round is repeated per round; the median of all is reported.
PLAIN_REPEATS = 5

#: prepare(round_id, global model, enclave key, bound) -> every hospital's prepared update, in order
Prepare = Callable[[int, ModelFile, bytes, int], list[PreparedUpdate]]


def _proven_round(consortium: Any, prepare: Prepare) -> dict[str, Any]:
    """One norm-bounded FedAvg round on the real stack, timed from opening to the finalize receipt.

    The admin opens the round (the consortium's bound policy); the hospitals fetch and check the global
    model, and each trains, quantizes, pads, commits, proves its norm bound, encrypts and stores its update
    (``prepare``: in this process one after another, or in one process per hospital); the parent sends
    the submissions (one account each, so one after another on one chain); the enclave decrypts, checks
    each update opens its commitment, aggregates exactly, checks the aggregate opens the commitment the
    contract derives, publishes the model and finalizes.
    """
    rm = consortium.deployment.round_manager
    t0 = time.perf_counter()
    round_id = consortium._open_round(None, None)
    info = read_round(rm, round_id)
    suite = consortium.enclave.circuits
    model = fetch_global_model(
        consortium.storage, consortium.spec, info.prev_model_commitment, info.prev_model_cid, suite=suite
    )
    key = fetch_enclave_key(consortium.storage, consortium.deployment.registry)
    t1 = time.perf_counter()
    updates = prepare(round_id, model, key, info.norm_bound_sq)
    t2 = time.perf_counter()
    submit_gas = [int(h.submit(rm, u).gas_used) for h, u in zip(consortium.hospitals, updates, strict=True)]
    t3 = time.perf_counter()
    final = consortium.enclave.finalize(rm, round_id)
    wall = time.perf_counter() - t0
    consortium.checkpoint()
    excluded = [o.reason for o in final.outcomes if not o.included]
    if excluded:
        raise BenchError(f"round {round_id}: the enclave excluded updates: {excluded}")
    # the bound policy continues from this round, as RoundDriver does
    consortium._last_bound = bound_from_quantized(info.norm_bound_sq, suite.scale_bits)
    consortium._last_statistic = final.norm_statistic
    proven = dequantize(final.model.training_values(), suite.scale_bits)
    return {
        "round_id": round_id,
        "norm_bound": consortium._last_bound,
        "wall_seconds": wall,
        "clients_seconds": t2 - t1,
        "submit_seconds": t3 - t2,
        "train_seconds": [u.train_seconds for u in updates],
        "commit_seconds": [u.commit_seconds for u in updates],
        "encrypt_seconds": [u.encrypt_seconds for u in updates],
        "norm_prove_seconds": [u.prove_seconds for u in updates if u.chunk_proofs],
        "submit_gas": submit_gas,
        "finalize_gas": final.gas_used,
        "round_gas": sum(submit_gas) + final.gas_used,
        "aggregate_seconds": final.aggregate_seconds,
        "accuracy": accuracy(consortium.spec, proven, consortium.split.test),
        "start": dequantize(model.training_values(), suite.scale_bits),
    }


def _plain_round(consortium: Any, start: np.ndarray, round_id: int) -> list[float]:
    """Wall times of a plain float FedAvg round from ``start``: the same hospitals train, then
    ``fedavg_float``; no quantization, commitment, proof, encryption, storage or chain."""
    times = []
    for _ in range(PLAIN_REPEATS):
        p0 = time.perf_counter()
        local = [
            train_local(consortium.spec, start, h.shard, h.train_config, round_id=round_id)
            for h in consortium.hospitals
        ]
        fedavg_float(local, [h.shard.num_samples for h in consortium.hospitals])
        times.append(time.perf_counter() - p0)
    return times


def bench_model(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Every figure for one model kind."""
    bench_dir = REPO_ROOT / "build" / "bench" / kind
    settings = Settings(
        model=kind, workdir=bench_dir, anvil_port=args.anvil_port, hospitals=args.hospitals, rounds=args.rounds
    )
    if bench_dir.exists():
        shutil.rmtree(bench_dir)  # a new consortium every time, like the demo
    suite = build_circuits(settings)  # installs this model's KzgNormVerifier into contracts/generated/
    d = suite.model_size
    say(
        f"[{kind}] {settings.hospitals} hospitals, d = {d}; "
        f"norm circuit {suite.norm.spec.name}, logrows {suite.norm.logrows}"
    )
    # ape 0.8 can pair a swapped verifier source with bytecode it compiled earlier: recompile in a fresh process
    recompile_verifier()

    say(f"[{kind}] one norm proof of the same shape in a child process (its seconds and peak RSS)")
    prover = measure_norm_prover(d, settings.artifacts_dir, bench_dir / "scratch")
    say(
        f"[{kind}] norm prover child: {prover['seconds']:.2f} s (CPU {prover['cpu_seconds']:.2f} s), "
        f"peak RSS {prover['peak_rss_mb']:.0f} MB"
    )

    rows: list[dict[str, Any]] = []
    with session(settings, None) as s:
        consortium = s.bootstrap()
        # torch's first training call in a process pays a one-off start-up cost: not hospital 0's
        train_local(
            consortium.spec, consortium.spec.initial_params(0), consortium.split.shards[0], TrainConfig(local_epochs=1)
        )
        baseline: np.ndarray | None = None

        def sequential(round_id: int, model: ModelFile, key: bytes, bound_sq: int) -> list[PreparedUpdate]:
            return [h.prepare_update(round_id, model, key, norm_bound_sq=bound_sq) for h in consortium.hospitals]

        def record(mode: str, row: dict[str, Any]) -> None:
            nonlocal baseline
            start = row.pop("start")
            if baseline is None:
                baseline = start
            participants = consortium.hospitals
            local = [
                train_local(consortium.spec, baseline, h.shard, h.train_config, round_id=row["round_id"])
                for h in participants
            ]
            baseline = fedavg_float(local, [h.shard.num_samples for h in participants])
            row["mode"] = mode
            row["plain_accuracy"] = accuracy(consortium.spec, baseline, consortium.split.test)
            row["plain_round_samples_seconds"] = _plain_round(consortium, start, row["round_id"])
            row["plain_round_seconds"] = statistics.median(row["plain_round_samples_seconds"])
            rows.append(row)
            say(
                f"[{kind}] round {row['round_id']} ({mode}): wall {row['wall_seconds']:.2f} s "
                f"(clients {row['clients_seconds']:.2f} s), norm proofs {mean(row['norm_prove_seconds']):.2f} s each, "
                f"aggregate {row['aggregate_seconds']:.3f} s, finalize gas {row['finalize_gas']:,}, "
                f"accuracy {row['accuracy']:.2%} (plain {row['plain_accuracy']:.2%})"
            )

        for _ in range(args.rounds):
            record("sequential", _proven_round(consortium, sequential))

        if args.parallel_rounds:
            addresses = [h.address for h in consortium.hospitals]
            ctx = multiprocessing.get_context("spawn")
            say(
                f"[{kind}] starting {len(addresses)} hospital processes (spawn; circuits, data, torch warmed up; "
                f"{args.worker_threads} prover thread(s) each, {os.cpu_count()} CPUs)"
            )
            # the prover's thread pool (rayon) sizes itself from RAYON_NUM_THREADS when a process starts
            saved = os.environ.get("RAYON_NUM_THREADS")
            if args.worker_threads > 0:
                os.environ["RAYON_NUM_THREADS"] = str(args.worker_threads)
            pool = ProcessPoolExecutor(
                max_workers=len(addresses),
                mp_context=ctx,
                initializer=init_worker,
                initargs=(settings.model_dump_json(), addresses, args.torch_threads),
            )
            try:
                try:
                    pids = set(pool.map(worker_warmup, range(len(addresses))))
                finally:
                    if saved is None:
                        os.environ.pop("RAYON_NUM_THREADS", None)
                    else:
                        os.environ["RAYON_NUM_THREADS"] = saved
                say(f"[{kind}] {len(pids)} hospital processes ready")

                def parallel(round_id: int, model: ModelFile, key: bytes, bound_sq: int) -> list[PreparedUpdate]:
                    futures = [
                        pool.submit(worker_prepare, i, round_id, model, key, bound_sq) for i in range(len(addresses))
                    ]
                    return [f.result() for f in futures]

                for _ in range(args.parallel_rounds):
                    record("parallel", _proven_round(consortium, parallel))
            finally:
                # ezkl's native code can hang an interpreter at exit: end the workers (ours) by their pids
                workers = list(getattr(pool, "_processes", {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                for proc in workers:
                    proc.terminate()
                for proc in workers:
                    proc.join(timeout=10)

    seq = [r for r in rows if r["mode"] == "sequential"]
    par = [r for r in rows if r["mode"] == "parallel"]
    plain = statistics.median([t for r in rows for t in r["plain_round_samples_seconds"]])

    def flat(rs: list[dict[str, Any]], key: str) -> list[float]:
        return [v for r in rs for v in r[key]]

    seq_wall = mean([r["wall_seconds"] for r in seq])
    par_wall = mean([r["wall_seconds"] for r in par]) if par else None
    return {
        "model": kind,
        "hospitals": settings.hospitals,
        "parameters": d,
        "rows": suite.rows,
        "norm_logrows": suite.norm.logrows,
        "norm_inner_cols": suite.norm.spec.inner_cols,
        "summary": {
            "train_seconds_per_hospital": mean(flat(seq, "train_seconds")),
            "commit_seconds_per_hospital": mean(flat(seq, "commit_seconds")),
            "encrypt_seconds_per_hospital": mean(flat(seq, "encrypt_seconds")),
            "norm_prove_seconds": mean(flat(seq, "norm_prove_seconds")),
            "norm_prove_seconds_parallel": mean(flat(par, "norm_prove_seconds")) if par else None,
            "norm_prove_child_seconds": prover["seconds"],
            "norm_prove_child_cpu_seconds": prover["cpu_seconds"],
            "norm_prove_peak_rss_mb": prover["peak_rss_mb"],
            "norm_prove_rss_before_mb": prover["before_prove_rss_mb"],
            "aggregate_seconds": mean([r["aggregate_seconds"] for r in rows]),
            "aggregate_seconds_max": max(r["aggregate_seconds"] for r in rows),
            "submit_gas": mean(flat(rows, "submit_gas")),
            "finalize_gas": mean([r["finalize_gas"] for r in rows]),
            "finalize_gas_max": max(r["finalize_gas"] for r in rows),
            "round_gas": mean([r["round_gas"] for r in rows]),
            "sequential_round_seconds": seq_wall,
            "parallel_round_seconds": par_wall,
            "plain_round_seconds": plain,
            "ratio_sequential": seq_wall / plain,
            "ratio_parallel": par_wall / plain if par_wall is not None else None,
            "rounds_sequential": len(seq),
            "rounds_parallel": len(par),
            "accuracy_after_sequential": seq[-1]["accuracy"],
            "plain_accuracy_after_sequential": seq[-1]["plain_accuracy"],
        },
        "rounds": rows,
    }


def recompile_verifier() -> None:
    """Force ape to recompile the installed generated verifiers, in a fresh process.

    Needed after swapping verifiers: ape (0.8) records a contract's new bytecode next to the source text
    it read first, so a swapped-back source whose checksum matches would deploy the other model's
    verifier until something forces a recompile.
    """
    ape_cli = Path(sys.executable).with_name("ape")
    sources = sorted((Settings().contracts_dir / "generated").glob("*.sol"))
    say("recompiling the generated verifiers so ape's cache matches them")
    proc = subprocess.run(
        [str(ape_cli if ape_cli.exists() else "ape"), "compile", "--force", *map(str, sources)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BenchError(
            f"`ape compile --force` of the verifiers failed; run `ape compile --force`:\n{proc.stderr[-2000:]}"
        )
