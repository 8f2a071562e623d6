"""Benchmarking one model: its circuits, a real consortium's proven rounds, the plain FedAvg baseline,
the median round and proven predictions.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from zkfl_dapp.apps.session import build_circuits, say, session
from zkfl_dapp.circuits.aggregation import AggregationArtifacts, ensure_aggregation_artifacts
from zkfl_dapp.circuits.artifacts import load_proof
from zkfl_dapp.config import REPO_ROOT, Settings
from zkfl_dapp.core.fixedpoint import dequantize
from zkfl_dapp.experiments.bench.measure import (
    BenchError,
    _mean,
    _self_peak_mb,
    measure_prove,
    measure_setup,
    synthetic_witness,
)
from zkfl_dapp.ml.training import TrainConfig, fedavg_float, train_local
from zkfl_dapp.protocol.consortium import circuit_spec_for, load_split, model_spec_for
from zkfl_dapp.protocol.reports import RoundReport

#: Settings that shape the figures, recorded in the results file.
_SETTINGS_KEPT = {"local_epochs", "batch_size", "learning_rate", "scale_bits", "split", "seed", "quorum", "mlp_hidden"}


#: How often the (sub-second) plain FedAvg round is repeated per round; the median of all is reported.
PLAIN_REPEATS = 5


def bench_inference(settings: Settings, s: Any, consortium: Any) -> dict[str, Any]:
    """One proven private prediction on the consortium's latest model: the inference circuit's cost."""
    from zkfl_dapp.circuits.kzg_inference import build_inference_circuit
    from zkfl_dapp.ml.data import training_statistics
    from zkfl_dapp.prediction.flow import aggregate_from_storage, predict_for_round
    from zkfl_dapp.prediction.patient import PatientRecord

    art = build_inference_circuit(settings, progress=say)
    manifest = json.loads(art.manifest.read_text())
    stats = training_statistics(seed=settings.seed)
    record = PatientRecord.load(REPO_ROOT / "examples" / "patient.json", stats.feature_names)
    say("[inference] proving one private prediction (examples/patient.json) and recording it on-chain")
    report = predict_for_round(
        project=s.project,
        chain=s.chain,
        round_manager=consortium.deployment.round_manager,
        artifacts=art,
        record=record,
        stats=stats,
        load_aggregate=aggregate_from_storage(s.storage),
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
    witness = synthetic_witness(art, bench_dir / "scratch")
    say(f"[{kind}] proving an aggregation of the same shape in a child process to measure its peak RSS")
    child_prove = measure_prove(art, witness, bench_dir / "scratch")

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


def recompile_verifier(art: AggregationArtifacts) -> None:
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
