"""The circuits of one consortium, all in one pinned KZG basis.

* the commit-and-prove norm circuit (:mod:`zkfl_dapp.circuits.kzg_norm`): always built; its basis (logrows,
  unusable rows, SRS cut to logrows) is *the* basis every commitment of the consortium uses;
* the median circuit (:mod:`zkfl_dapp.circuits.kzg_median`): for 5 slots, built in the same basis.

FedAvg needs no circuit: RoundManager derives the aggregate's commitment from the hospitals' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from zkfl_dapp.circuits.artifacts import Progress, _quiet
from zkfl_dapp.circuits.kzg import G1Point, KzgBasis, KzgError, zero_commitment
from zkfl_dapp.circuits.kzg_median import KzgMedianArtifacts, default_median_spec, ensure_kzg_median_artifacts
from zkfl_dapp.circuits.kzg_norm import KzgNormArtifacts, KzgNormCircuitSpec, ensure_kzg_norm_artifacts
from zkfl_dapp.exceptions import CircuitError

#: Hiding-pad rows after the model rows of every committed vector (10 x 22 random bits = 220 bits).
PAD_ROWS = 10


@dataclass(frozen=True)
class CircuitSuite:
    """The norm circuit and (for 5 slots) the median circuit of one consortium, sharing one basis."""

    slots: int
    norm: KzgNormArtifacts
    median: KzgMedianArtifacts | None = None

    @property
    def model_size(self) -> int:
        return self.norm.spec.model_size

    @property
    def pad_rows(self) -> int:
        return self.norm.spec.pad_rows

    @property
    def rows(self) -> int:
        """Values of every committed vector (model rows plus pad rows)."""
        return self.norm.spec.rows

    @property
    def scale_bits(self) -> int:
        return self.norm.spec.scale_bits

    @cached_property
    def basis(self) -> KzgBasis:
        """The consortium's KZG basis: the norm circuit's."""
        return self.norm.basis()

    @cached_property
    def zero(self) -> G1Point:
        """``K = C(0)`` in the basis."""
        return zero_commitment(self.basis)

    @property
    def name(self) -> str:
        return f"kzg-s{self.slots}-d{self.model_size}-p{self.pad_rows}-q{self.scale_bits}"


def norm_spec_for(model_size: int, scale_bits: int = 13) -> KzgNormCircuitSpec:
    """The norm circuit of a model size: 2 inner columns up to d = 64 (logrows 10 at d = 31), 3 beyond."""
    return KzgNormCircuitSpec(
        model_size=model_size, pad_rows=PAD_ROWS, scale_bits=scale_bits, inner_cols=2 if model_size <= 64 else 3
    )


def ensure_circuit_suite(
    slots: int,
    model_size: int,
    scale_bits: int,
    root: Path,
    *,
    ceremony_srs: Path | None = None,
    progress: Progress = _quiet,
) -> CircuitSuite:
    """Build (or reuse) the norm circuit, and the median circuit when the consortium has 5 slots.

    Raises:
        CircuitError: a circuit cannot be built, or the median's basis differs from the norm's.
    """
    norm = ensure_kzg_norm_artifacts(
        norm_spec_for(model_size, scale_bits), root, ceremony_srs=ceremony_srs, progress=progress
    )
    try:
        basis = norm.basis()
    except KzgError as exc:
        raise CircuitError(f"the norm circuit's KZG basis is unusable: {exc}") from exc
    median = None
    if slots == 5:
        median = ensure_kzg_median_artifacts(
            default_median_spec(model_size, norm.spec.pad_rows, logrows=norm.logrows),
            root,
            shared_srs=norm.srs,
            ceremony_srs=norm.srs_kind == "ceremony",
            progress=progress,
        )
        if median.basis().digest_rows() != basis.digest_rows():
            raise CircuitError(f"the median circuit's KZG basis differs from the norm circuit's: {median.basis()}")
    return CircuitSuite(slots, norm, median)
