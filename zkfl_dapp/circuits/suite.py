"""The circuits of one consortium, all in one pinned KZG basis.

* the commit-and-prove norm circuit (:mod:`zkfl_dapp.circuits.kzg_norm`): always built; its basis (logrows,
  unusable rows, SRS cut to logrows) is *the* basis every commitment of the consortium uses;
* the median circuit (:mod:`zkfl_dapp.circuits.kzg_median`): for 5 slots, built in the same basis.

A model too large for one norm circuit (more than :data:`MAX_SINGLE_MODEL` parameters, e.g. the ~114k
``mlp-large``) is committed in chunks (:class:`zkfl_dapp.core.layout.CommitmentLayout`): the chunk norm
circuit (:mod:`zkfl_dapp.circuits.kzg_chunk_norm`, 4,096 values per chunk) is then the norm circuit and its
basis the consortium's; there is no median circuit for it.

FedAvg needs no circuit: RoundManager derives the aggregate's commitment from the hospitals' own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from zkfl_dapp.circuits.artifacts import Progress, _quiet
from zkfl_dapp.circuits.kzg import G1Point, KzgBasis, KzgError, zero_commitment
from zkfl_dapp.circuits.kzg_chunk_norm import (
    LARGE_CHUNK_SPEC,
    KzgChunkNormArtifacts,
    KzgChunkNormSpec,
    ensure_kzg_chunk_norm_artifacts,
)
from zkfl_dapp.circuits.kzg_median import KzgMedianArtifacts, default_median_spec, ensure_kzg_median_artifacts
from zkfl_dapp.circuits.kzg_norm import KzgNormArtifacts, KzgNormCircuitSpec, ensure_kzg_norm_artifacts
from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.exceptions import CircuitError

#: Hiding-pad rows after the model rows of every committed vector (10 x 22 random bits = 220 bits).
PAD_ROWS = 10
#: Largest model one norm circuit proves (logrows 12 at d = 513); larger models are committed in chunks.
MAX_SINGLE_MODEL = 4096


@dataclass(frozen=True)
class CircuitSuite:
    """The norm circuit (one-vector or chunked) and (for 5 slots, one vector) the median circuit of one
    consortium, sharing one basis."""

    slots: int
    norm: KzgNormArtifacts | KzgChunkNormArtifacts
    median: KzgMedianArtifacts | None = None
    #: The model's size d (the chunk circuit's spec does not hold it).
    model_size: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.norm, KzgNormArtifacts):
            object.__setattr__(self, "model_size", self.norm.spec.model_size)
        elif self.model_size < 1:
            raise CircuitError("a chunked circuit suite needs the model size")

    @property
    def chunked(self) -> bool:
        """Whether updates are committed and proven chunk by chunk (:attr:`chunk_norm`)."""
        return isinstance(self.norm, KzgChunkNormArtifacts)

    @property
    def chunk_norm(self) -> KzgChunkNormArtifacts:
        if not isinstance(self.norm, KzgChunkNormArtifacts):
            raise CircuitError("this consortium commits one vector: it has no chunk norm circuit")
        return self.norm

    @property
    def single_norm(self) -> KzgNormArtifacts:
        if not isinstance(self.norm, KzgNormArtifacts):
            raise CircuitError("this consortium commits in chunks: it has no one-vector norm circuit")
        return self.norm

    @property
    def layout(self) -> CommitmentLayout:
        """How model values sit in the committed vectors."""
        if isinstance(self.norm, KzgChunkNormArtifacts):
            return CommitmentLayout(self.model_size, self.norm.spec.chunk, self.norm.spec.pad_rows)
        return CommitmentLayout.single(self.model_size, self.norm.spec.pad_rows)

    @property
    def chunks(self) -> int:
        """Points per commitment."""
        return self.layout.chunks

    @property
    def pad_rows(self) -> int:
        return self.norm.spec.pad_rows

    @property
    def rows(self) -> int:
        """Values of the flat layout of an update or model (every committed vector, model and pad rows)."""
        return self.layout.total_rows

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
        chunked = f"-c{self.layout.chunk}" if self.chunked else ""
        return f"kzg-s{self.slots}-d{self.model_size}{chunked}-p{self.pad_rows}-q{self.scale_bits}"


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
    chunk: int | None = None,
) -> CircuitSuite:
    """Build (or reuse) the norm circuit, and the median circuit when the consortium has 5 slots; for a model
    of more than :data:`MAX_SINGLE_MODEL` parameters the chunk norm circuit (no median) at 4,096 values per
    chunk (:data:`LARGE_CHUNK_SPEC`). ``chunk`` commits in chunks of that many values whatever the model size
    (2 inner columns; tests use small chunks to run the chunked protocol in seconds).

    Raises:
        CircuitError: a circuit cannot be built, or the median's basis differs from the norm's.
    """
    if chunk is not None or model_size > MAX_SINGLE_MODEL:
        spec = LARGE_CHUNK_SPEC if chunk is None else KzgChunkNormSpec(chunk, PAD_ROWS, scale_bits, inner_cols=2)
        if spec.scale_bits != scale_bits or spec.chunk >= model_size:  # one chunk: use the one-vector circuit
            raise CircuitError(f"the chunk norm circuit {spec.name} does not fit d = {model_size} at 2^{scale_bits}")
        art = ensure_kzg_chunk_norm_artifacts(spec, root, ceremony_srs=ceremony_srs, progress=progress)
        return CircuitSuite(slots, art, None, model_size)
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
