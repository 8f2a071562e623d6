"""Measuring ezkl steps in a child process: seconds and the child's own peak RSS.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zkfl_dapp.circuits.aggregation import AggregationArtifacts
from zkfl_dapp.core.aggregation import normalized_weights
from zkfl_dapp.core.fixedpoint import felt_hex, quantize

# A child process that imports only ezkl, runs one step and prints seconds and its own peak RSS.
# The peak is VmHWM from /proc/self/status, the high-water mark of the child's own address space.
# Not ru_maxrss: Linux carries the parent's RSS high-water mark over fork + exec into the child's
# ru_maxrss, so a child of a big parent would report at least the parent's size.
# ezkl's native code can crash the interpreter at exit, hence os._exit (as circuits.py does).
_CHILD = """
import json, os, sys, time
def hwm_kb():
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])
import ezkl
base = hwm_kb()
step, args = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
ok = getattr(ezkl, step)(*args)
seconds = time.perf_counter() - t0
print(json.dumps({"ok": bool(ok), "seconds": seconds, "peak_rss_kb": hwm_kb(), "import_rss_kb": base}))
sys.stdout.flush()
os._exit(0)
"""


class BenchError(RuntimeError):
    """The benchmark could not complete."""


def _self_peak_mb() -> float:
    """This process's peak RSS so far (``ru_maxrss``, a high-water mark: it never goes down)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ezkl_child(step: str, *args: str | Path) -> dict[str, Any]:
    """Run ``ezkl.<step>(*args)`` in a fresh interpreter; returns its seconds and peak RSS (KiB)."""
    proc = subprocess.run([sys.executable, "-c", _CHILD, step, *(str(a) for a in args)], capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise BenchError(f"ezkl.{step} in a child process failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    if not result["ok"]:
        raise BenchError(f"ezkl.{step} in a child process returned false")
    return result


def measure_setup(art: AggregationArtifacts, scratch: Path) -> dict[str, Any]:
    """A fresh ``ezkl.setup`` on the compiled circuit and its SRS, in a child; the keys are thrown away."""
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        return _ezkl_child("setup", art.compiled, Path(tmp) / "vk.key", Path(tmp) / "pk.key", art.srs)


def synthetic_witness(art: AggregationArtifacts, scratch: Path, seed: int = 0) -> Path:
    """A witness of the aggregation circuit from random updates of the real shape. The enclave deletes its
    plaintext witnesses after proving (they hold the hospitals' updates), so the bench makes its own."""
    import ezkl
    import numpy as np

    spec = art.spec
    rng = np.random.default_rng(seed)
    rows = [quantize(rng.normal(0.0, 0.5, spec.model_size), spec.scale_bits) for _ in range(spec.slots)]
    rows.append(normalized_weights([1] * spec.slots, spec.scale_bits))
    scratch.mkdir(parents=True, exist_ok=True)
    input_path, witness = scratch / "input.json", scratch / "witness.json"
    input_path.write_text(json.dumps({"input_data": [[felt_hex(v) for v in row] for row in rows]}))
    ezkl.gen_witness(str(input_path), str(art.compiled), str(witness))
    return witness


def measure_prove(art: AggregationArtifacts, witness: Path, scratch: Path) -> dict[str, Any]:
    """Re-prove an existing witness in a child process (the prover's peak RSS, one more timing)."""
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        return _ezkl_child("prove", witness, art.compiled, art.pk, Path(tmp) / "proof.json", art.srs)


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


#: (label, how to get it from a model's result, format)
_ROWS: list[tuple[str, Any, str]] = [
    ("hospitals N", lambda r: r["hospitals"], "d"),
    ("parameters d", lambda r: r["parameters"], "d"),
    ("circuit logrows", lambda r: r["circuit"]["logrows"], "d"),
    ("proven rounds run", lambda r: r["rounds_run"], "d"),
    ("local training, s / hospital", lambda r: r["summary"]["train_seconds_per_hospital"], ".3f"),
    ("commitment (Poseidon), s / hospital", lambda r: r["summary"]["commit_seconds_per_hospital"], ".4f"),
    ("encryption + store, s / hospital", lambda r: r["summary"]["encrypt_seconds_per_hospital"], ".4f"),
    ("norm proof (client), s / hospital", lambda r: r["summary"]["norm_prove_seconds_per_hospital"], ".2f"),
    ("submitBoundedUpdate gas (mean)", lambda r: r["summary"]["submit_gas"], ",.0f"),
    ("setup (keygen), s", lambda r: r["circuit"]["setup_seconds"], ".1f"),
    ("setup peak RSS (child), MB", lambda r: r["circuit"]["setup_peak_rss_mb"], ",.0f"),
    ("proving key, MB", lambda r: r["circuit"]["pk_bytes"] / 1e6, ",.1f"),
    ("verifying key, KB", lambda r: r["circuit"]["vk_bytes"] / 1e3, ",.1f"),
    ("proving, s (mean of rounds)", lambda r: r["summary"]["prove_seconds"], ".1f"),
    ("proving again in a clean child, s", lambda r: r["summary"]["prove_child_seconds"], ".1f"),
    ("proving peak RSS (child), MB", lambda r: r["summary"]["prove_peak_rss_mb"], ",.0f"),
    ("verification off-chain, s", lambda r: r["summary"]["verify_offchain_seconds"], ".3f"),
    ("proof size, bytes", lambda r: r["summary"]["proof_bytes"], ",d"),
    ("verifyProof gas (estimate)", lambda r: r["summary"]["verify_proof_gas_estimate"], ",.0f"),
    ("finalizeRound gas (tx)", lambda r: r["summary"]["finalize_gas"], ",.0f"),
    ("median round: proving, s", lambda r: (r.get("median") or {}).get("prove_seconds"), ".1f"),
    ("median round: finalizeRound gas", lambda r: (r.get("median") or {}).get("finalize_gas"), ",.0f"),
    ("bench process peak RSS, MB", lambda r: r["summary"]["process_peak_rss_after_proving_mb"], ",.0f"),
    ("proven round wall, s (mean of rounds)", lambda r: r["summary"]["proven_round_wall_seconds"], ".1f"),
    ("plain FedAvg round wall, s (median)", lambda r: r["summary"]["plain_round_wall_seconds"], ".3f"),
    ("ratio proven / plain", lambda r: r["summary"]["ratio"], ",.0f"),
    ("accuracy proven / plain", None, ""),
]


