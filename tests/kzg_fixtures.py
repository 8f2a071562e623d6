"""Shared fixtures of the homomorphic-commitment tests: the d = 31 (one-chunk) norm circuit of the
consortium's suite (circuits.suite.norm_spec_for: built once, cached under build/circuits by its spec digest),
its basis, and deterministic sample vectors.

Import the fixtures into a test module (``from tests.kzg_fixtures import kzg_norm, basis, ...``).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from zkfl_dapp.circuits.kzg import G1Point, KzgBasis, hiding_pad, zero_commitment
from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkNormArtifacts, KzgChunkNormSpec, ensure_kzg_chunk_norm_artifacts
from zkfl_dapp.circuits.kzg_distance import PAD_ENTRY_BITS
from zkfl_dapp.circuits.suite import norm_spec_for

ROOT = Path(__file__).resolve().parent.parent
#: The norm circuit of the consortium's suite at d = 31 (the basis every commitment of the tests uses).
SPEC = norm_spec_for(31)
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
#: Weights summing to 2**13, as RoundManager derives them from sample counts.
WEIGHTS = (1000, 2000, 3000, 1192, 1000)


def sample_update(seed: int, spec: KzgChunkNormSpec = SPEC) -> tuple[int, ...]:
    """A padded update at scale 2**13 (model rows |u| < 2**13, i.e. real |u| < 1, then a hiding pad)."""
    rng = random.Random(seed)
    return hiding_pad([rng.randint(-(2**13), 2**13) for _ in range(spec.chunk)], spec.pad_rows, rng,
                      entry_bits=PAD_ENTRY_BITS)  # fmt: skip


def aggregate(updates, weights) -> tuple[int, ...]:
    """sum_i w_i u_i, exact integers (scale 2**26 when the weights sum to 2**13)."""
    return tuple(sum(w * u[j] for u, w in zip(updates, weights, strict=True)) for j in range(len(updates[0])))


@pytest.fixture(scope="session")
def kzg_norm() -> KzgChunkNormArtifacts:
    return ensure_kzg_chunk_norm_artifacts(SPEC, ROOT / "build" / "circuits")


@pytest.fixture(scope="session")
def basis(kzg_norm) -> KzgBasis:
    return kzg_norm.basis()


@pytest.fixture(scope="session")
def zero(basis) -> G1Point:
    return zero_commitment(basis)


@pytest.fixture(scope="session")
def updates() -> tuple[tuple[int, ...], ...]:
    return tuple(sample_update(seed) for seed in range(5))


@pytest.fixture(scope="session")
def prev_aggregate(updates) -> tuple[int, ...]:
    """The previous round's aggregate S (scale 2**26), its spare rows the aggregated pads."""
    return aggregate(updates, WEIGHTS)
