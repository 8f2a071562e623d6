"""The coordinate-wise median circuit (``MedianVerifier``): the poisoning-resistant aggregation rule.

Inputs ``u_0 .. u_{S-1}`` and ``g``, all ``[1, d]`` and *hashed*; output ``[median ‖ g]``, the
coordinate-wise median computed by a selection network of ``min/max`` pairs (``min = a - relu(a - b)``:
exact, no rescaling). A slot without an included update carries ``g`` (so its hash equals
``hash(g)``). Instance layout: :class:`zkfl_dapp.circuits.layouts.MedianLayout`; the model instances sit
at the same offset as in the aggregation circuit (``S + 1``). The semantics are
:mod:`zkfl_dapp.core.median`'s, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from zkfl_dapp.circuits.artifacts import (
    ArtifactPaths,
    CircuitProof,
    Progress,
    _quiet,
    _settle_logrows,
    build_artifacts,
    prove_rows,
    spec_digest,
)
from zkfl_dapp.circuits.layouts import MedianLayout
from zkfl_dapp.circuits.onnx_export import check_vector_spec, export_onnx
from zkfl_dapp.core.median import MEDIAN5_NETWORK
from zkfl_dapp.exceptions import CircuitError

#: Bump when the median circuit's construction changes in a way its spec does not capture.
MEDIAN_REVISION = 1


@dataclass(frozen=True)
class MedianCircuitSpec:
    """The pinned inputs of one coordinate-wise median circuit (5 slots: the selection network's size)."""

    slots: int = 5
    model_size: int = 31
    scale_bits: int = 13

    def __post_init__(self) -> None:
        check_vector_spec(self.model_size, self.scale_bits)
        if self.slots != 5:
            raise CircuitError(f"the median circuit's selection network takes 5 slots, got {self.slots}")

    @property
    def name(self) -> str:
        return f"median-s{self.slots}-d{self.model_size}-q{self.scale_bits}"

    @property
    def layout(self) -> MedianLayout:
        return MedianLayout(self.slots, self.model_size)

    @property
    def num_instances(self) -> int:
        return self.layout.count

    def digest(self) -> str:
        return spec_digest(self, MEDIAN_REVISION)


@dataclass(frozen=True)
class MedianArtifacts(ArtifactPaths):
    """Paths of one median circuit's generated artifacts."""

    contract_name: ClassVar[str] = "MedianVerifier"

    spec: MedianCircuitSpec
    directory: Path
    logrows: int
    srs_kind: str


def export_median_onnx(spec: MedianCircuitSpec, path: Path) -> None:
    """Write the median circuit's ONNX graph: ``[median(u_0..u_4) ‖ g]`` by a min/max selection network."""
    import torch

    class Median(torch.nn.Module):
        def forward(self, *xs: torch.Tensor) -> torch.Tensor:
            v, g = list(xs[: spec.slots]), xs[spec.slots]
            for i, j in MEDIAN5_NETWORK:
                t = torch.relu(v[i] - v[j])  # max(v_i - v_j, 0): the swap amount
                v[i], v[j] = v[i] - t, v[j] + t  # (min, max)
            return torch.cat([v[spec.slots // 2], g], dim=1)

    d = spec.model_size
    export_onnx(Median(), {**{f"u{i}": (1, d) for i in range(spec.slots)}, "g": (1, d)}, path)


def ensure_median_artifacts(
    spec: MedianCircuitSpec, root: Path, *, ceremony_srs: Path | None = None, progress: Progress = _quiet
) -> MedianArtifacts:
    """Build (or reuse from ``root``) every artifact of the median circuit (see circuits.build_artifacts)."""
    return build_artifacts(
        spec,
        root,
        export=lambda path: export_median_onnx(spec, path),
        settle=lambda art_dir: _settle_logrows(spec, art_dir),
        make=lambda art_dir, logrows, srs_kind: MedianArtifacts(spec, art_dir, logrows, srs_kind),
        revision=MEDIAN_REVISION,
        ceremony_srs=ceremony_srs,
        progress=progress,
    )


def prove_median(
    art: MedianArtifacts, slots: Sequence[Sequence[int]], prev: Sequence[int], workdir: Path
) -> CircuitProof:
    """Prove the coordinate-wise median of ``slots`` (each slot an update, or ``prev`` where there is none)."""
    spec = art.spec
    if len(slots) != spec.slots:
        raise CircuitError(f"the median circuit takes {spec.slots} slots, got {len(slots)}")
    if any(len(s) != spec.model_size for s in slots) or len(prev) != spec.model_size:
        raise CircuitError(f"every slot and the previous model must have {spec.model_size} values")
    return prove_rows(art, [list(s) for s in slots] + [list(prev)], workdir)

