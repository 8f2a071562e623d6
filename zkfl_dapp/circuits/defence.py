"""The poisoning-defence circuits of one consortium: the norm circuit and (for 5 slots) the median.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zkfl_dapp.circuits.artifacts import Progress, _quiet
from zkfl_dapp.circuits.median import MedianArtifacts, MedianCircuitSpec, ensure_median_artifacts
from zkfl_dapp.circuits.norm import NormArtifacts, NormCircuitSpec, ensure_norm_artifacts


@dataclass(frozen=True)
class DefenceCircuits:
    """The norm circuit and (for 5 slots) the median circuit of one consortium."""

    norm: NormArtifacts
    median: MedianArtifacts | None


def ensure_defence_circuits(
    slots: int,
    model_size: int,
    scale_bits: int,
    root: Path,
    *,
    ceremony_srs: Path | None = None,
    progress: Progress = _quiet,
) -> DefenceCircuits:
    """Build (or reuse) the norm circuit, and the median circuit when the consortium has 5 slots."""
    norm_spec = NormCircuitSpec(model_size=model_size, scale_bits=scale_bits)
    norm = ensure_norm_artifacts(norm_spec, root, ceremony_srs=ceremony_srs, progress=progress)
    median = None
    if slots == 5:
        median = ensure_median_artifacts(
            MedianCircuitSpec(slots=slots, model_size=model_size, scale_bits=scale_bits),
            root,
            ceremony_srs=ceremony_srs,
            progress=progress,
        )
    return DefenceCircuits(norm, median)

