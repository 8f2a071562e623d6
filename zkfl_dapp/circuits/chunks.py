"""A model as chunks: split its values, pad each chunk, aggregate and commit chunk by chunk.

The chunk norm circuit (:mod:`.kzg_chunk_norm`) proves one chunk at a time; everything around it works on the
ordered list of chunks of one update: an update's commitment is ``[C(u_0), .., C(u_{n-1})]`` in the chunk
circuit's basis (:func:`commit_chunks`), and the aggregate's is the per-chunk combination
(:func:`combine_chunks`, which is :func:`zkfl_dapp.circuits.kzg.combine` per chunk).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from zkfl_dapp.circuits.kzg import G1Point, KzgBasis, combine, commit, hiding_pad
from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkNormSpec
from zkfl_dapp.circuits.kzg_distance import PAD_ENTRY_BITS
from zkfl_dapp.core.aggregation import aggregate
from zkfl_dapp.exceptions import CircuitError


def chunk_count(model_size: int, chunk: int) -> int:
    """``ceil(model_size / chunk)``: 27 for d = 108,801 at 4,096."""
    if model_size < 1 or chunk < 1:
        raise CircuitError(f"need model_size >= 1 and chunk >= 1, got {model_size}, {chunk}")
    return -(-model_size // chunk)


def split_chunks(values: Sequence[int], chunk: int) -> list[list[int]]:
    """The model values in ``ceil(len / chunk)`` lists of exactly ``chunk`` ints, the last zero-filled.

    Pass model values only (no pad); add each chunk's hiding pad afterwards (:func:`pad_chunks`). The
    zero fill is part of the convention: rows beyond ``d`` enter ``ss_c`` like any model row, so an honest
    update and aggregate hold 0 there (a nonzero value only spends the norm budget).
    """
    n = chunk_count(len(values), chunk)
    flat = [int(v) for v in values] + [0] * (n * chunk - len(values))
    return [flat[c * chunk : (c + 1) * chunk] for c in range(n)]


def pad_chunks(chunks: Sequence[Sequence[int]], spec: KzgChunkNormSpec, rng: random.Random) -> list[list[int]]:
    """Each chunk followed by ``spec.pad_rows`` random entries of :data:`PAD_ENTRY_BITS` bits
    (``secrets.SystemRandom()`` as ``rng`` for real submissions)."""
    for c, values in enumerate(chunks):
        if len(values) != spec.chunk:
            raise CircuitError(f"chunk {c} has {len(values)} values, the spec takes {spec.chunk}")
    return [list(hiding_pad(values, spec.pad_rows, rng, entry_bits=PAD_ENTRY_BITS)) for values in chunks]


def aggregate_chunks(updates: Sequence[Sequence[Sequence[int]]], weights: Sequence[int]) -> list[tuple[int, ...]]:
    """Per chunk ``S_c = sum_i w_i u_ic`` over padded chunk vectors (``updates[i][c]``)."""
    n = len(updates[0])
    if any(len(u) != n for u in updates):
        raise CircuitError("every update must have the same number of chunks")
    return [aggregate([u[c] for u in updates], weights) for c in range(n)]


def commit_chunks(chunks: Sequence[Sequence[int]], basis: KzgBasis) -> list[G1Point]:
    """The ordered list ``[C(v_0), .., C(v_{n-1})]``: one point per padded chunk, in the chunk basis."""
    points = []
    for c, values in enumerate(chunks):
        if len(values) > basis.usable_rows:
            raise CircuitError(f"chunk {c} has {len(values)} values: more than one column ({basis.usable_rows})")
        points.append(commit(values, basis)[0])
    return points


def combine_chunks(commitments: Sequence[Sequence[G1Point]], weights: Sequence[int], k: G1Point) -> list[G1Point]:
    """Per chunk ``K + sum_i w_i (C(u_ic) - K)`` (``commitments[i][c]``): the aggregate's chunk points."""
    n = len(commitments[0])
    if any(len(cs) != n for cs in commitments):
        raise CircuitError("every update must commit to the same number of chunks")
    return [combine([cs[c] for cs in commitments], weights, k) for c in range(n)]
