"""`make bench` (= ``python -m zkfl_dapp.bench``): what a proven round costs, per model size.

For every model asked for (default: logistic regression, d = 31, and the MLP 30-16-1, d = 513) it

1. builds or reuses the aggregation circuit (``ensure_aggregation_artifacts``, same cache as the demo)
   and times a fresh ``ezkl.setup`` on the compiled circuit in a child process (seconds and the child's
   peak RSS; ``--skip-setup`` reports the build-time figure from the circuit's manifest instead);
2. runs a real consortium for ``--rounds`` rounds exactly as ``ape run demo`` does
   (:func:`zkfl_dapp.runner.session`: its own anvil on ``--anvil-port``, workdir ``build/bench/<model>``)
   and collects every :class:`~zkfl_dapp.consortium.RoundReport`, plus the verifier contract's own gas
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
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zkfl_dapp.circuits import CircuitArtifacts, ensure_aggregation_artifacts, load_proof
from zkfl_dapp.config import REPO_ROOT, Settings
from zkfl_dapp.consortium import RoundReport, circuit_spec_for, load_split, model_spec_for
from zkfl_dapp.exceptions import ZkflError
from zkfl_dapp.model import MODEL_KINDS
from zkfl_dapp.quantization import dequantize
from zkfl_dapp.runner import build_circuits, say, session
from zkfl_dapp.training import TrainConfig, fedavg_float, train_local

#: Settings that shape the figures, recorded in the results file.
_SETTINGS_KEPT = {"local_epochs", "batch_size", "learning_rate", "scale_bits", "split", "seed", "quorum", "mlp_hidden"}
DEFAULT_JSON = REPO_ROOT / "build" / "bench" / "results.json"
#: How often the (sub-second) plain FedAvg round is repeated per round; the median of all is reported.
PLAIN_REPEATS = 5

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


def measure_setup(art: CircuitArtifacts, scratch: Path) -> dict[str, Any]:
    """A fresh ``ezkl.setup`` on the compiled circuit and its SRS, in a child; the keys are thrown away."""
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        return _ezkl_child("setup", art.compiled, Path(tmp) / "vk.key", Path(tmp) / "pk.key", art.srs)


def measure_prove(art: CircuitArtifacts, witness: Path, scratch: Path) -> dict[str, Any]:
    """Re-prove an existing witness in a child process (the prover's peak RSS, one more timing)."""
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        return _ezkl_child("prove", witness, art.compiled, art.pk, Path(tmp) / "proof.json", art.srs)


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def bench_inference(settings: Settings, s: Any, consortium: Any) -> dict[str, Any]:
    """One proven private prediction (issue 5) on the consortium's latest model: the inference circuit's cost."""
    from zkfl_dapp.data import training_statistics
    from zkfl_dapp.inference import build_inference_circuit
    from zkfl_dapp.prediction import PatientRecord, predict_for_round

    art = build_inference_circuit(settings, progress=say)
    manifest = json.loads(art.manifest.read_text())
    stats = training_statistics(seed=settings.seed)
    record = PatientRecord.load(REPO_ROOT / "examples" / "patient.json", stats.feature_names)
    say("[inference] proving one private prediction (examples/patient.json) and recording it on-chain")
    report = predict_for_round(
        project=s.project,
        chain=s.chain,
        round_manager=consortium.deployment.round_manager,
        storage=s.storage,
        artifacts=art,
        record=record,
        stats=stats,
        workdir=settings.workdir / "prediction",
        sender=s.roles.admin,
    )
    return {
        "logrows": art.logrows,
        "setup_seconds": manifest.get("setup_seconds"),
        "setup_source": "manifest (in-process, when the circuit was built)",
        "pk_bytes": art.pk.stat().st_size,
        "prove_seconds": report.prove_seconds,
        "verify_offchain_seconds": report.verify_seconds,
        "proof_bytes": report.proof_bytes,
        "record_prediction_gas": report.receipt.gas_used,
        "probability": report.probability,
        "float_probability": report.float_probability,
    }


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


def bench_model(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    """Every figure for one model kind."""
    bench_dir = REPO_ROOT / "build" / "bench" / kind
    settings = Settings(
        model=kind,
        workdir=bench_dir,
        anvil_port=args.anvil_port,
        hospitals=args.hospitals,
        rounds=args.rounds,
    )
    split = load_split(settings)
    spec = model_spec_for(settings, split)
    cspec = circuit_spec_for(settings, spec)
    say(f"[{kind}] {settings.hospitals} hospitals, d = {cspec.model_size} parameters; circuit {cspec.name}")

    if bench_dir.exists():
        shutil.rmtree(bench_dir)  # a new consortium every time, like the demo
    # 1. circuit: build or reuse, then time a fresh setup.
    started = time.time()
    art = ensure_aggregation_artifacts(cspec, settings.artifacts_dir, ceremony_srs=settings.ceremony_srs, progress=say)
    manifest = json.loads(art.manifest.read_text())
    built_now = art.manifest.stat().st_mtime >= started
    circuit: dict[str, Any] = {
        "name": cspec.name,
        "directory": str(art.directory),
        "logrows": art.logrows,
        "srs_kind": art.srs_kind,
        "built_by_this_run": built_now,
        "manifest_setup_seconds": manifest.get("setup_seconds"),
        "manifest_build_seconds": manifest.get("build_seconds"),
        "pk_bytes": art.pk.stat().st_size,
        "vk_bytes": art.vk.stat().st_size,
        "srs_bytes": art.srs.stat().st_size,
        "num_instances": cspec.num_instances,
    }
    if args.skip_setup:
        circuit["setup_seconds"] = manifest.get("setup_seconds")
        circuit["setup_source"] = "manifest (in-process, when the circuit was built)"
        circuit["setup_peak_rss_mb"] = None
    else:
        say(f"[{kind}] timing a fresh ezkl.setup in a child process (logrows {art.logrows})")
        setup = measure_setup(art, bench_dir / "scratch")
        circuit["setup_seconds"] = setup["seconds"]
        circuit["setup_source"] = "fresh ezkl.setup in a child process"
        circuit["setup_peak_rss_mb"] = setup["peak_rss_kb"] / 1024
        circuit["child_import_rss_mb"] = setup["import_rss_kb"] / 1024
        say(f"[{kind}] setup {setup['seconds']:.1f} s, child peak RSS {setup['peak_rss_kb'] / 1024:.0f} MB")
    rss_after_setup = _self_peak_mb()

    # 2. + 3. a real consortium, and the plain FedAvg baseline from the same global models.
    # Warm torch up first: its first training call in a process pays a one-off ~1-2 s of
    # initialization that would otherwise land on hospital 0 of the first proven round.
    train_local(spec, spec.initial_params(settings.seed), split.shards[0], TrainConfig(local_epochs=1))
    rounds: list[dict[str, Any]] = []
    # Install this model's verifiers and have ape recompile them in a fresh process first: ape 0.8 can
    # otherwise pair a swapped verifier source with the bytecode it compiled earlier (see recompile_verifier).
    model_art, _ = build_circuits(settings)
    recompile_verifier(model_art)
    with session(settings, None) as s:
        consortium = s.bootstrap()
        verifier = consortium.deployment.verifier
        for _ in range(settings.rounds):
            global_model = consortium.current_model()
            start = dequantize(global_model.values, global_model.scale_bits)
            t0 = time.perf_counter()
            report: RoundReport = consortium.run_round()
            proven_wall = time.perf_counter() - t0
            rid = report.round_id

            plain_times: list[float] = []
            for _rep in range(PLAIN_REPEATS):
                p0 = time.perf_counter()
                local = [train_local(spec, start, h.shard, h.train_config, round_id=rid) for h in consortium.hospitals]
                fedavg_float(local, [h.shard.num_samples for h in consortium.hospitals])
                plain_times.append(time.perf_counter() - p0)
            plain_wall = statistics.median(plain_times)

            proof = load_proof(settings.workdir / "enclave" / "proofs" / f"round-{rid}" / "proof.json")
            try:
                verifier_gas: int | None = int(
                    verifier.verifyProof.estimate_gas_cost(proof.proof, list(proof.instances), sender=s.roles.admin)
                )
            except Exception as exc:  # the figure is a bonus; the round itself was verified on-chain
                say(f"[{kind}] round {rid}: could not estimate verifyProof gas: {exc}")
                verifier_gas = None
            n = len(report.participants)
            row = {
                "round_id": rid,
                "participants": n,
                "train_seconds_per_hospital": report.train_seconds / n,
                "commit_seconds_per_hospital": report.commit_seconds / n,
                "encrypt_seconds_per_hospital": report.encrypt_seconds / n,
                "norm_prove_seconds_per_hospital": report.norm_prove_seconds / n,
                "submit_gas": report.submit_gas_mean,
                "prove_seconds": report.prove_seconds,
                "verify_offchain_seconds": report.verify_seconds,
                "proof_bytes": report.proof_bytes,
                "instances": len(proof.instances),
                "finalize_gas": report.finalize_gas,
                "verify_proof_gas_estimate": verifier_gas,
                "proven_round_wall_seconds": proven_wall,
                "report_wall_seconds": report.wall_seconds,
                "plain_round_wall_seconds": plain_wall,
                "plain_round_samples_seconds": plain_times,
                "ratio": proven_wall / plain_wall,
                "accuracy": report.accuracy,
                "baseline_accuracy": report.baseline_accuracy,
            }
            rounds.append(row)
            say(
                f"[{kind}] round {rid}: prove {report.prove_seconds:.1f} s, wall {proven_wall:.1f} s, "
                f"plain {plain_wall * 1000:.0f} ms, gas {report.finalize_gas:,}, accuracy {report.accuracy:.2%}"
            )
        median = bench_median_round(kind, consortium)
        inference = bench_inference(settings, s, consortium) if kind == "logreg" else None
    rss_after_proving = _self_peak_mb()

    # 4. the prover's own peak memory, in a clean child process.
    last_witness = settings.workdir / "enclave" / "proofs" / f"round-{rounds[-1]['round_id']}" / "witness.json"
    say(f"[{kind}] re-proving round {rounds[-1]['round_id']} in a child process to measure its peak RSS")
    child_prove = measure_prove(art, last_witness, bench_dir / "scratch")

    def avg(key: str) -> float:
        return _mean([r[key] for r in rounds if r[key] is not None])

    proven = avg("proven_round_wall_seconds")
    plain = statistics.median([t for r in rounds for t in r["plain_round_samples_seconds"]])
    return {
        "model": kind,
        "model_spec": spec.to_dict(),
        "hospitals": settings.hospitals,
        "parameters": cspec.model_size,
        "rounds_run": len(rounds),
        "circuit": circuit,
        "summary": {
            "train_seconds_per_hospital": avg("train_seconds_per_hospital"),
            "commit_seconds_per_hospital": avg("commit_seconds_per_hospital"),
            "encrypt_seconds_per_hospital": avg("encrypt_seconds_per_hospital"),
            "norm_prove_seconds_per_hospital": avg("norm_prove_seconds_per_hospital"),
            "submit_gas": avg("submit_gas"),
            "prove_seconds": avg("prove_seconds"),
            "prove_child_seconds": child_prove["seconds"],
            "prove_peak_rss_mb": child_prove["peak_rss_kb"] / 1024,
            "verify_offchain_seconds": avg("verify_offchain_seconds"),
            "proof_bytes": rounds[-1]["proof_bytes"],
            "finalize_gas": avg("finalize_gas"),
            "verify_proof_gas_estimate": avg("verify_proof_gas_estimate"),
            "proven_round_wall_seconds": proven,
            "plain_round_wall_seconds": plain,
            "ratio": proven / plain,
            "process_peak_rss_after_setup_mb": rss_after_setup,
            "process_peak_rss_after_proving_mb": rss_after_proving,
            "final_accuracy": rounds[-1]["accuracy"],
            "final_baseline_accuracy": rounds[-1]["baseline_accuracy"],
        },
        "rounds": rounds,
        "median": median,
        "inference": inference,
    }


def bench_median_round(kind: str, consortium: Any) -> dict[str, Any] | None:
    """One extra round under the median rule (norm-bounded like the others): its proof time and gas."""
    if consortium.enclave.median_artifacts is None:
        return None
    report: RoundReport = consortium.run_round(rule="median")
    say(f"[{kind}] median round {report.round_id}: prove {report.prove_seconds:.1f} s, gas {report.finalize_gas:,}")
    return {
        "round_id": report.round_id,
        "prove_seconds": report.prove_seconds,
        "proof_bytes": report.proof_bytes,
        "finalize_gas": report.finalize_gas,
        "accuracy": report.accuracy,
        "logrows": consortium.enclave.median_artifacts.logrows,
    }


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "n/a"
    return format(value, spec)


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


def recompile_verifier(art: CircuitArtifacts) -> None:
    """Force ape to recompile the installed verifier, in a fresh process.

    Needed after swapping verifiers inside one process: ape (0.8) then records the contract's new
    bytecode in ``.build/__local__.json`` next to the source text it read first, so when the source is
    swapped back its checksum matches and every later run deploys the other model's verifier
    (``RoundManagerProofRejected``) until something forces a recompile.
    """
    ape_cli = Path(sys.executable).with_name("ape")
    sources = sorted((Settings().contracts_dir / "generated").glob("*.sol"))
    say(f"recompiling the generated verifiers ({art.spec.name} and its defence circuits) so ape's cache matches them")
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


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m zkfl_dapp.bench",
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
        cmd = [sys.executable, "-m", "zkfl_dapp.bench", "--models", kind, "--json", str(child_json)]
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
        "command": "python -m zkfl_dapp.bench " + " ".join(sys.argv[1:] if argv is None else argv),
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


if __name__ == "__main__":
    sys.exit(main())
