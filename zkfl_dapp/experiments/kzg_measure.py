"""Measure the norm circuit of a one-chunk model (zkfl_dapp.circuits.kzg_chunk_norm, chunk = d) at given sizes.

For each ``--model-size``: logrows and rows, setup seconds (from the build manifest: the first build's),
prove seconds (wall and CPU, 3 runs) and peak RSS of a prover child process, proof bytes, the verifier's
runtime bytecode size (EIP-170: 24,576) and ``verifyProof`` gas on an anvil that this script starts and
stops itself (hardfork shanghai, as ape-config.yaml). The generated verifier is compiled here with the
solc shim (``$SOLCX_BINARY_PATH``) and ape's settings (optimizer on, 200 runs, shanghai), because every
size's contract is named KzgNormVerifier.

    python -m zkfl_dapp.experiments.kzg_measure --model-size 31 --model-size 513 [--inner-cols 3]

Prints one JSON object per size. Nothing imports this file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def _inputs(model_size: int, inner_cols: int) -> tuple[list[int], list[int], int]:
    """A padded update close to a padded previous aggregate (5 hospitals, weights summing to 2**13)."""
    from zkfl_dapp.circuits.kzg import hiding_pad
    from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkNormSpec, chunk_sum_of_squares
    from zkfl_dapp.circuits.kzg_distance import PAD_ENTRY_BITS

    spec = KzgChunkNormSpec(chunk=model_size, inner_cols=inner_cols, reusable_verifier=False)
    rng = random.Random(model_size)
    weights = (1000, 2000, 3000, 1192, 1000)
    updates = [
        hiding_pad(
            [rng.randint(-(2**13), 2**13) for _ in range(model_size)], spec.pad_rows, rng, entry_bits=PAD_ENTRY_BITS
        )
        for _ in weights
    ]
    prev = [sum(w * u[j] for u, w in zip(updates, weights, strict=True)) for j in range(spec.rows)]
    model = [round(s / 2**13) + rng.randint(-50, 50) for s in prev[:model_size]]
    update = list(hiding_pad(model, spec.pad_rows, rng, entry_bits=PAD_ENTRY_BITS))
    return update, prev, chunk_sum_of_squares(spec, update, prev) + 1


def _peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries that over fork + exec from the parent."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _prove_child(model_size: int, inner_cols: int, workdir: Path) -> None:
    """Child process: prove 3 times; print timings and this process's peak RSS."""
    from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkNormSpec, ensure_kzg_chunk_norm_artifacts, prove_chunk

    spec = KzgChunkNormSpec(chunk=model_size, inner_cols=inner_cols, reusable_verifier=False)
    art = ensure_kzg_chunk_norm_artifacts(spec, ROOT / "build" / "circuits")
    update, prev, bound = _inputs(model_size, inner_cols)
    baseline_mb = _peak_rss_mb()  # python + ezkl + inputs
    walls, cpus = [], []
    for _ in range(3):
        c0 = time.process_time()
        proof = prove_chunk(art, 0, 1, bound, update, prev, ADDRESS, workdir)
        cpus.append(time.process_time() - c0)
        walls.append(proof.prove_seconds)
    peak_mb = _peak_rss_mb()
    print(
        json.dumps(
            {"walls": walls, "cpus": cpus, "peak_rss_mb": peak_mb, "baseline_mb": baseline_mb, "proof": str(proof.path)}
        )
    )


def _compile(source: Path) -> tuple[list, str, int]:
    import solcx

    binary = Path(os.environ["SOLCX_BINARY_PATH"]) / "solc-v0.8.20"
    out = solcx.compile_standard(
        {
            "language": "Solidity",
            "sources": {source.name: {"content": source.read_text()}},
            "settings": {
                "optimizer": {"enabled": True, "runs": 200},
                "evmVersion": "shanghai",
                "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
            },
        },
        solc_binary=binary,
    )
    contract = out["contracts"][source.name]["KzgNormVerifier"]
    return (
        contract["abi"],
        contract["evm"]["bytecode"]["object"],
        len(contract["evm"]["deployedBytecode"]["object"]) // 2,
    )


def _gas(abi: list, bytecode: str, proof_path: Path, port: int) -> tuple[int, bool]:
    from web3 import Web3

    from zkfl_dapp.circuits.kzg_chunk_norm import read_kzg_chunk_proof

    anvil = subprocess.Popen(
        [
            str(ROOT / "node_modules" / ".bin" / "anvil"),
            "--port",
            str(port),
            "--hardfork",
            "shanghai",
            "--code-size-limit",
            "100000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
        for _ in range(100):
            if w3.is_connected():
                break
            time.sleep(0.1)
        sender = w3.eth.accounts[0]
        tx = w3.eth.contract(abi=abi, bytecode=bytecode).constructor().transact({"from": sender})
        verifier = w3.eth.contract(address=w3.eth.wait_for_transaction_receipt(tx)["contractAddress"], abi=abi)
        proof = read_kzg_chunk_proof(proof_path)
        call = verifier.functions.verifyProof(proof.proof, list(proof.instances))
        ok = bool(call.call({"from": sender}))
        receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender, "gas": 5_000_000}))
        return int(receipt["gasUsed"]), ok and receipt["status"] == 1
    finally:
        anvil.terminate()
        anvil.wait(timeout=10)


def measure(model_size: int, inner_cols: int, port: int) -> dict:
    from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkNormSpec, ensure_kzg_chunk_norm_artifacts

    spec = KzgChunkNormSpec(chunk=model_size, inner_cols=inner_cols, reusable_verifier=False)
    t0 = time.perf_counter()
    art = ensure_kzg_chunk_norm_artifacts(spec, ROOT / "build" / "circuits")
    build_now = time.perf_counter() - t0
    manifest = json.loads(art.manifest.read_text())
    workdir = ROOT / "build" / "kzg-measure" / spec.name
    child = subprocess.run(
        [sys.executable, __file__, "--prove-child", str(model_size), str(inner_cols), str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    proved = json.loads(child.stdout.strip().splitlines()[-1])
    abi, bytecode, runtime_bytes = _compile(art.verifier_sol)
    gas, accepted = _gas(abi, bytecode, Path(proved["proof"]), port)
    return {
        "model_size": model_size,
        "pad_rows": spec.pad_rows,
        "inner_cols": spec.inner_cols,
        "logrows": art.logrows,
        "num_rows": json.loads(art.settings.read_text())["num_rows"],
        "setup_s": manifest["setup_seconds"],
        "build_s": manifest["build_seconds"],
        "build_now_s": round(build_now, 2),
        "prove_wall_s": [round(s, 3) for s in proved["walls"]],
        "prove_wall_median_s": round(statistics.median(proved["walls"]), 3),
        "prove_cpu_s": [round(s, 3) for s in proved["cpus"]],
        "prover_peak_rss_mb": round(proved["peak_rss_mb"], 1),
        "prover_rss_before_proving_mb": round(proved["baseline_mb"], 1),
        "proof_bytes": len(read_proof_bytes(Path(proved["proof"]))),
        "pk_bytes": art.pk.stat().st_size,
        "verifier_source_bytes": art.verifier_sol.stat().st_size,
        "verifier_runtime_bytes": runtime_bytes,
        "eip170_ok": runtime_bytes <= 24_576,
        "verifyProof_gas": gas,
        "verifyProof_accepted": accepted,
        "load_average": os.getloadavg()[0],
    }


def read_proof_bytes(path: Path) -> bytes:
    from zkfl_dapp.circuits.kzg_chunk_norm import read_kzg_chunk_proof

    return read_kzg_chunk_proof(path).proof


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--prove-child":
        _prove_child(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-size", type=int, action="append", required=True)
    parser.add_argument("--inner-cols", type=int, default=2, help="ezkl num_inner_cols (spec.inner_cols)")
    parser.add_argument("--anvil-port", type=int, default=8561)
    args = parser.parse_args()
    for d in args.model_size:
        print(json.dumps(measure(d, args.inner_cols, args.anvil_port)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
