"""The circuits of one consortium, all in one pinned KZG basis.

* the norm circuit (:mod:`zkfl_dapp.circuits.kzg_chunk_norm`): always built; its basis (logrows, unusable
  rows, SRS cut to logrows) is *the* basis every commitment of the consortium uses. A model of at most
  :data:`MAX_SINGLE_MODEL` parameters is ONE chunk (``chunk = d``: one point, one proof); a larger one (e.g.
  the ~114k ``mlp-large``) is committed in chunks of 4,096 values (:data:`LARGE_CHUNK_SPEC`);
* the median circuit (:mod:`zkfl_dapp.circuits.kzg_median`): for 5 slots and one chunk, built in the same basis.

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
from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.exceptions import CircuitError

#: Hiding-pad rows after the model rows of every committed vector (10 x 22 random bits = 220 bits).
PAD_ROWS = 10
#: Largest model proven as one chunk (logrows 12 at d = 513); larger models are committed in chunks.
MAX_SINGLE_MODEL = 4096


@dataclass(frozen=True)
class CircuitSuite:
    """The norm circuit and (for 5 slots, one chunk) the median circuit of one consortium, sharing one basis."""

    slots: int
    norm: KzgChunkNormArtifacts
    median: KzgMedianArtifacts | None = None
    #: The model's size d (for one chunk, the chunk's size).
    model_size: int = 0

    def __post_init__(self) -> None:
        if self.model_size < 1:
            object.__setattr__(self, "model_size", self.norm.spec.chunk)

    @property
    def chunked(self) -> bool:
        """Whether updates are committed in more than one chunk."""
        return self.layout.chunked

    @property
    def layout(self) -> CommitmentLayout:
        """How model values sit in the committed vectors."""
        return CommitmentLayout(self.model_size, self.norm.spec.chunk, self.norm.spec.pad_rows)

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


def norm_spec_for(model_size: int, scale_bits: int = 13, chunk: int | None = None) -> KzgChunkNormSpec:
    """The norm circuit of a model size: one chunk of ``d`` values up to :data:`MAX_SINGLE_MODEL` (2 inner
    columns up to d = 64: logrows 10 at d = 31, 3 beyond), else :data:`LARGE_CHUNK_SPEC`; ``chunk`` forces
    chunks of that many values (2 inner columns; tests run the chunked protocol in seconds with small ones)."""
    if chunk is not None:
        return KzgChunkNormSpec(chunk, PAD_ROWS, scale_bits, inner_cols=2)
    if model_size > MAX_SINGLE_MODEL:
        return LARGE_CHUNK_SPEC
    cols = 2 if model_size <= 64 else 3
    return KzgChunkNormSpec(model_size, PAD_ROWS, scale_bits, inner_cols=cols, reusable_verifier=False)


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
    """Build (or reuse) the norm circuit (:func:`norm_spec_for`), and the median circuit when the consortium
    has 5 slots and one chunk.

    Raises:
        CircuitError: a circuit cannot be built, or the median's basis differs from the norm's.
    """
    spec = norm_spec_for(model_size, scale_bits, chunk)
    if spec.scale_bits != scale_bits or spec.chunk > model_size:
        raise CircuitError(f"the norm circuit {spec.name} does not fit d = {model_size} at 2^{scale_bits}")
    norm = ensure_kzg_chunk_norm_artifacts(spec, root, ceremony_srs=ceremony_srs, progress=progress)
    suite = CircuitSuite(slots, norm, None, model_size)
    if slots != 5 or suite.chunked:
        return suite
    try:
        basis = norm.basis()
    except KzgError as exc:
        raise CircuitError(f"the norm circuit's KZG basis is unusable: {exc}") from exc
    median = ensure_kzg_median_artifacts(
        default_median_spec(model_size, spec.pad_rows, logrows=norm.logrows),
        root,
        shared_srs=norm.srs,
        ceremony_srs=norm.srs_kind == "ceremony",
        progress=progress,
    )
    if median.basis().digest_rows() != basis.digest_rows():
        raise CircuitError(f"the median circuit's KZG basis differs from the norm circuit's: {median.basis()}")
    return CircuitSuite(slots, norm, median, model_size)
