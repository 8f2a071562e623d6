"""Proving every chunk of an update in a pool of processes, with progress and an ETA.

Each worker loads the chunk circuit's proving key (over a gigabyte for the large model), so the pool's size
bounds memory and each worker's thread count bounds its prover; all inputs are checked before any proof
starts, so a chunk that cannot be proven costs no proving time.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

from zkfl_dapp.circuits.artifacts import Progress, _quiet
from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkNormArtifacts, KzgChunkProof, check_chunk_inputs, prove_chunk
from zkfl_dapp.exceptions import CircuitError


def _worker_init(threads: int) -> None:
    # rayon reads this when ezkl first builds its thread pool (on the first proof, after this runs)
    os.environ["RAYON_NUM_THREADS"] = str(threads)


def _prove_one(
    art: KzgChunkNormArtifacts, index: int, count: int, budget: int, update_chunk: list[int],
    prev_chunk: list[int], address: str | int, workdir: Path,
) -> KzgChunkProof:  # fmt: skip
    cpu = time.process_time()
    proof = prove_chunk(art, index, count, budget, update_chunk, prev_chunk, address, workdir)
    return dataclasses.replace(proof, cpu_seconds=time.process_time() - cpu)


def prove_chunks(
    art: KzgChunkNormArtifacts,
    update_chunks: Sequence[Sequence[int]],
    prev_chunks: Sequence[Sequence[int]],
    budgets: Sequence[int],
    address: str | int,
    workdir: Path,
    *,
    workers: int = 2,
    threads_per_worker: int | None = None,
    progress: Progress = _quiet,
) -> list[KzgChunkProof]:
    """Prove every chunk within its budget (``workdir/chunk-<c>/proof.json``) in a pool of ``workers``
    processes (one chunk: in this process, no pool to start); returns the proofs in chunk order and reports
    ``chunk i of n`` with an ETA after each.

    Each worker loads the proving key (~1.1 GB at 4,096 values, ~2.5 GB peak per proof), so ``workers``
    bounds memory; ``threads_per_worker`` (default ``cpu_count // workers``) bounds each prover's threads.
    All inputs are checked before any proof starts.

    Raises:
        CircuitError: a chunk cannot be proven (nothing is proven then), or a proof failed.
    """
    n = len(update_chunks)
    if n == 0 or len(prev_chunks) != n or len(budgets) != n:
        raise CircuitError(
            f"need one previous-aggregate chunk and budget per update chunk, "
            f"got {n}, {len(prev_chunks)}, {len(budgets)}"
        )
    for c in range(n):
        check_chunk_inputs(art.spec, c, n, budgets[c], update_chunks[c], prev_chunks[c])
    if n == 1:
        one = [int(v) for v in update_chunks[0]], [int(v) for v in prev_chunks[0]]
        return [_prove_one(art, 0, 1, budgets[0], *one, address, workdir / "chunk-000")]
    threads = threads_per_worker or max(1, (os.cpu_count() or 1) // max(1, workers))
    proofs: dict[int, KzgChunkProof] = {}
    started = time.perf_counter()
    with ProcessPoolExecutor(
        max_workers=max(1, workers), mp_context=get_context("spawn"), initializer=_worker_init, initargs=(threads,)
    ) as pool:
        pending: dict[Future[KzgChunkProof], int] = {
            pool.submit(
                _prove_one, art, c, n, budgets[c], [int(v) for v in update_chunks[c]], [int(v) for v in prev_chunks[c]],
                address, workdir / f"chunk-{c:03d}",
            ): c
            for c in range(n)
        }  # fmt: skip
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                c = pending.pop(future)
                try:
                    proofs[c] = future.result()
                except CircuitError:
                    for other in pending:
                        other.cancel()
                    raise
                elapsed = time.perf_counter() - started
                eta = elapsed / len(proofs) * (n - len(proofs))
                progress(
                    f"chunk {c + 1} of {n} proven in {proofs[c].prove_seconds:.1f} s "
                    f"({proofs[c].cpu_seconds:.0f} CPU-s) "
                    f"({len(proofs)}/{n} done, {elapsed:.0f} s elapsed, ETA {eta:.0f} s)"
                )
    return [proofs[c] for c in range(n)]
