"""Measurements in child processes: the norm prover's seconds and peak RSS, and the hospitals' parallel
workers (one process per hospital, as in a real consortium where each hospital proves on its own machine).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfl_dapp.config import Settings


class BenchError(RuntimeError):
    """The benchmark could not complete."""


# A child process that builds (reuses) the consortium's norm circuit, makes a padded update close to a
# padded aggregate of the real shape, proves it once and prints the seconds and its own peak RSS. The peak
# is VmHWM from /proc/self/status: not ru_maxrss, which Linux carries over fork + exec from the parent.
# ezkl's native code can crash the interpreter at exit, hence os._exit.
_PROVE_CHILD = """
import json, os, random, sys, time
from pathlib import Path
def hwm_mb():
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1]) / 1024
from zkfl_dapp.circuits.kzg import hiding_pad
from zkfl_dapp.circuits.kzg_chunk_norm import chunk_sum_of_squares, ensure_kzg_chunk_norm_artifacts, prove_chunk
from zkfl_dapp.circuits.kzg_distance import PAD_ENTRY_BITS
from zkfl_dapp.circuits.suite import norm_spec_for
d, root, workdir = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
spec = norm_spec_for(d)
art = ensure_kzg_chunk_norm_artifacts(spec, root)
rng = random.Random(d)
weights = (1000, 2000, 3000, 1192, 1000)
def pad(v):
    return hiding_pad(v, spec.pad_rows, rng, entry_bits=PAD_ENTRY_BITS)
ups = [pad([rng.randint(-2**13, 2**13) for _ in range(d)]) for _ in weights]
prev = [sum(w * u[j] for u, w in zip(ups, weights)) for j in range(spec.rows)]
model = [round(s / 2**13) + rng.randint(-50, 50) for s in prev[:d]]
update = list(pad(model))
bound = chunk_sum_of_squares(spec, update, prev) + 1
before = hwm_mb()
t0, c0 = time.perf_counter(), time.process_time()
proof = prove_chunk(art, 0, 1, bound, update, prev, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", workdir)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
out = {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": hwm_mb(), "before_prove_rss_mb": before}
print(json.dumps({**out, "flag": proof.instances[0] == 1 << spec.aggregate_scale_bits}))
sys.stdout.flush()
os._exit(0)
"""


def measure_norm_prover(model_size: int, artifacts_dir: Path, scratch: Path) -> dict[str, Any]:
    """One norm proof of the consortium's shape in a fresh interpreter: wall and CPU seconds (every thread of
    the child: less sensitive to other load than the wall time) and the child's peak RSS."""
    scratch.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-c", _PROVE_CHILD, str(model_size), str(artifacts_dir), str(scratch)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise BenchError(f"the norm prover child failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    if not result["flag"]:
        raise BenchError("the norm prover child's proof shows a violated bound")
    return result


@dataclass(frozen=True)
class WorkerAccount:
    """A hospital's address in a worker process (the worker signs nothing: the parent submits)."""

    address: str


_WORKER: dict[str, Any] = {}


def init_worker(settings_json: str, addresses: Sequence[str], torch_threads: int) -> None:
    """Per worker process: the consortium's circuits, data and storage, and one hospital client per index."""
    from zkfl_dapp.apps.session import make_storage
    from zkfl_dapp.protocol.hospital import HospitalClient
    from zkfl_dapp.protocol.wiring import circuits_for, load_split, model_spec_for

    if torch_threads > 0:
        import torch

        torch.set_num_threads(torch_threads)
    settings = Settings.model_validate_json(settings_json)
    split = load_split(settings)
    spec = model_spec_for(settings, split)
    suite = circuits_for(settings, spec)
    _ = suite.basis  # load the basis once, not in the first round
    from zkfl_dapp.ml.training import TrainConfig

    cfg = TrainConfig(
        local_epochs=settings.local_epochs,
        batch_size=settings.batch_size,
        lr=settings.learning_rate,
        seed=settings.seed,
    )
    storage = make_storage(settings)
    _WORKER["hospitals"] = [
        HospitalClient(f"hospital-{i}", WorkerAccount(a), shard, spec, cfg, storage, suite, settings.workdir, index=i)
        for i, (a, shard) in enumerate(zip(addresses, split.shards, strict=True))
    ]


def worker_warmup(index: int) -> int:
    """Train once (torch's one-off start-up cost) and return the worker's pid."""
    import os
    import time

    from zkfl_dapp.ml.training import train_local

    h = _WORKER["hospitals"][index]
    train_local(h.spec, h.spec.initial_params(0), h.shard, h.train_config)
    time.sleep(0.5)  # keep this worker busy so that the pool starts every worker
    return os.getpid()


def worker_prepare(index: int, round_id: int, model: Any, enclave_key: bytes, bound_sq: int) -> Any:
    """Hospital ``index``'s whole client side of a round: train, quantize, pad, commit, prove, encrypt, store."""
    return _WORKER["hospitals"][index].prepare_update(round_id, model, enclave_key, norm_bound_sq=bound_sq)


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")
