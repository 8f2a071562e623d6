"""Sweep the chunk norm circuit's parameters: CPU-s per 1,000 values, peak memory per prover, proof size.

Each point is one chunk circuit (:mod:`zkfl_dapp.circuits.kzg_chunk_norm`) with ezkl run arguments varied
around the project's: values per chunk (``--chunks``), ezkl's ``num_inner_cols`` (``--cols``) and the range
check's decomposition (``--decomps``, ``base^legs``). Every decomposition swept keeps ``base**legs = 2**36``,
the range the ``sqrt(-1)`` no-wrap argument rests on (the module docstring of ``kzg_chunk_norm``): so
every point is as sound as the shipped circuit, and the scale stays ``2**13`` (the range analysis assumes it).

For each point, two child processes (so each one's CPU time and peak RSS are its own):

* **build**: ONNX, settings at the smallest logrows, compile, a development SRS, ``ezkl.setup``;
* **prove**: one chunk of a random update near a random 5-hospital aggregate: witness, ``ezkl.prove``,
  ``ezkl.verify``; its CPU seconds (all threads), wall seconds and peak RSS.

    nice python -m zkfl_dapp.experiments.chunk_sweep --chunks 1024,2048 --cols 2,4,8 --decomps 9x4,12x3
    nice python -m zkfl_dapp.experiments.chunk_sweep --chunks 32 --cols 1 --append   # more points, same file
    python -m zkfl_dapp.experiments.chunk_sweep    # every default point

Prints one table row per point as it finishes (stdout) and writes every figure to ``--json``. Artifacts go
to ``build/chunk-sweep/`` (removed per point unless ``--keep``). CPU-s per 1,000 values is what scales to
other hardware: a hospital with ``k`` free cores and enough memory for ``k / threads`` provers proves ``d``
values in about ``d / 1000 * cpu_per_1000 / k`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
WEIGHTS = (1000, 2000, 3000, 1192, 1000)


def _spec(point: dict[str, Any]) -> Any:
    from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkNormSpec

    return KzgChunkNormSpec(chunk=point["chunk"], inner_cols=point["cols"], decomp_bits=point["base_bits"])


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _build(point: dict[str, Any], art_dir: Path) -> dict[str, Any]:
    import ezkl

    from zkfl_dapp.circuits.kzg_chunk_norm import export_kzg_chunk_norm_onnx
    from zkfl_dapp.circuits.kzg_distance import settle

    spec = _spec(point)
    art_dir.mkdir(parents=True, exist_ok=True)
    export_kzg_chunk_norm_onnx(spec, art_dir / "network.onnx")
    logrows = settle(spec, art_dir)  # the shipped circuit's run arguments and margin
    settings = json.loads((art_dir / "settings.json").read_text())
    ezkl.compile_circuit(str(art_dir / "network.onnx"), str(art_dir / "network.ezkl"), str(art_dir / "settings.json"))
    ezkl.gen_srs(str(art_dir / "kzg.srs"), logrows)
    cpu, t0 = time.process_time(), time.perf_counter()
    ok = ezkl.setup(
        str(art_dir / "network.ezkl"), str(art_dir / "vk.key"), str(art_dir / "pk.key"), str(art_dir / "kzg.srs")
    )
    if not ok:
        raise RuntimeError("ezkl.setup failed")
    return {
        "logrows": logrows,
        "num_rows": int(settings["num_rows"]),
        "setup_cpu_s": round(time.process_time() - cpu, 2),
        "setup_wall_s": round(time.perf_counter() - t0, 2),
        "setup_peak_rss_mb": round(_peak_rss_mb()),
        "pk_mb": round((art_dir / "pk.key").stat().st_size / 2**20, 1),
    }


def _prove(point: dict[str, Any], art_dir: Path) -> dict[str, Any]:
    import ezkl

    from zkfl_dapp.circuits import chunks as model_chunks
    from zkfl_dapp.circuits.kzg_chunk_norm import chunk_sum_of_squares
    from zkfl_dapp.circuits.kzg_distance import address_limbs, scaled_update
    from zkfl_dapp.core.fixedpoint import felt_from_hex, felt_hex

    spec = _spec(point)
    rng = random.Random(point["chunk"])
    base = [rng.randint(-(2**12), 2**12) for _ in range(spec.chunk)]
    hospitals = [model_chunks.pad_chunks([[b + rng.randint(-40, 40) for b in base]], spec, rng) for _ in WEIGHTS]
    prev = model_chunks.aggregate_chunks(hospitals, WEIGHTS)[0]
    update = model_chunks.pad_chunks([[b + rng.randint(-40, 40) for b in base]], spec, rng)[0]
    budget = chunk_sum_of_squares(spec, update, prev) + 1  # within budget: the flag the contract requires
    rows = [scaled_update(spec, update), [int(s) for s in prev], [budget, 0, 1, *address_limbs(ADDRESS)]]
    inp, wit, proof = art_dir / "input.json", art_dir / "witness.json", art_dir / "proof.json"
    inp.write_text(json.dumps({"input_data": [[felt_hex(v) for v in row] for row in rows]}))
    paths = {
        k: str(art_dir / f) for k, f in (("c", "network.ezkl"), ("vk", "vk.key"), ("pk", "pk.key"), ("srs", "kzg.srs"))
    }
    ezkl.gen_witness(str(inp), paths["c"], str(wit), vk_path=paths["vk"], srs_path=paths["srs"])
    cpu, t0 = time.process_time(), time.perf_counter()
    ezkl.prove(str(wit), paths["c"], paths["pk"], str(proof), paths["srs"])
    prove_cpu, prove_wall = time.process_time() - cpu, time.perf_counter() - t0
    verified = bool(ezkl.verify(str(proof), str(art_dir / "settings.json"), paths["vk"], paths["srs"]))
    raw = json.loads(proof.read_text())
    return {
        "prove_cpu_s": round(prove_cpu, 2),
        "prove_wall_s": round(prove_wall, 2),
        "prove_peak_rss_mb": round(_peak_rss_mb()),
        "proof_bytes": len(bytes.fromhex(raw["hex_proof"].removeprefix("0x"))),
        "verified": verified,
        "within_budget": felt_from_hex(raw["instances"][0][0]) == 1 << spec.aggregate_scale_bits,
    }


def _child(stage: str, point: dict[str, Any], art_dir: Path, threads: int) -> dict[str, Any]:
    env = {**os.environ, "RAYON_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "zkfl_dapp.experiments.chunk_sweep", "--child", stage, json.dumps(point), str(art_dir)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{stage} of {point} failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def _decomps(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        bits, legs = (int(v) for v in item.split("x"))
        if bits * legs != 36:
            raise SystemExit(f"decomposition {item}: base 2^{bits} with {legs} legs is not 2^36 (unsound range)")
        out.append((bits, legs))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        stage, point, art_dir = argv[1], json.loads(argv[2]), Path(argv[3])
        result = _build(point, art_dir) if stage == "build" else _prove(point, art_dir)
        print(json.dumps(result))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", default="1024,2048,4096", help="values per chunk, comma-separated")
    parser.add_argument("--cols", default="2,4,8,16", help="ezkl num_inner_cols values")
    parser.add_argument("--decomps", default="9x4,12x3", help="range-check decompositions BITSxLEGS (2^36 each)")
    parser.add_argument("--threads", type=int, default=2, help="prover threads (RAYON_NUM_THREADS)")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "chunk-sweep" / "chunk-sweep.json")
    parser.add_argument("--keep", action="store_true", help="keep each point's artifacts")
    parser.add_argument("--append", action="store_true", help="add the points to those already in --json")
    args = parser.parse_args(argv)
    points = [
        {"chunk": c, "cols": x, "base_bits": b, "legs": legs}
        for c in _ints(args.chunks)
        for x in _ints(args.cols)
        for b, legs in _decomps(args.decomps)
    ]
    work = args.json.parent
    results: list[dict[str, Any]] = []
    if args.append and args.json.is_file():
        results = json.loads(args.json.read_text())["points"]
    names = ("chunk", "cols", "decomp", "logrows", "CPU-s/1k", "prove MB", "setup MB", "proof B")
    print(" ".join(f"{n:>8}" for n in names), flush=True)
    for i, point in enumerate(points, 1):
        art_dir = work / f"c{point['chunk']}-x{point['cols']}-d{point['base_bits']}x{point['legs']}"
        shutil.rmtree(art_dir, ignore_errors=True)
        print(f"[{i}/{len(points)}] {point}", file=sys.stderr, flush=True)
        try:
            row = {
                **point,
                **_child("build", point, art_dir, args.threads),
                **_child("prove", point, art_dir, args.threads),
            }
        except RuntimeError as exc:
            row = {**point, "error": str(exc)[-500:]}
            print(f"  failed: {row['error']}", file=sys.stderr, flush=True)
        else:
            row["cpu_s_per_1000_values"] = round(row["prove_cpu_s"] * 1000 / point["chunk"], 2)
            cells: tuple[Any, ...] = (
                point["chunk"],
                point["cols"],
                f"{point['base_bits']}x{point['legs']}",
                row["logrows"],
            )
            cells += (f"{row['cpu_s_per_1000_values']:.2f}", row["prove_peak_rss_mb"], row["setup_peak_rss_mb"])
            print(" ".join(f"{c:>8}" for c in (*cells, row["proof_bytes"])), flush=True)
        row["load_average"] = round(os.getloadavg()[0], 2)
        results.append(row)
        if not args.keep:
            shutil.rmtree(art_dir, ignore_errors=True)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"threads": args.threads, "cpus": os.cpu_count(), "points": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
