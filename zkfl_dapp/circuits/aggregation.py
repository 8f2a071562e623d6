"""The FedAvg aggregation circuit.

The circuit takes ``slots`` update vectors of ``model_size`` quantized parameters plus a vector of
``slots`` normalized weights, every input *hashed* (its Poseidon hash is a public instance), and has one
*public* output: the weighted average followed by the weights themselves. Its instance layout is
:class:`zkfl_dapp.circuits.layouts.AggregationLayout`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
from zkfl_dapp.circuits.layouts import AggregationLayout
from zkfl_dapp.exceptions import CircuitError

#: Bump when the circuit's construction changes in a way the spec does not capture.
CIRCUIT_REVISION = 1


@dataclass(frozen=True)
class AggregationCircuitSpec:
    """The pinned inputs of one aggregation circuit."""

    slots: int = 5
    model_size: int = 31
    scale_bits: int = 13

    def __post_init__(self) -> None:
        if not 1 <= self.slots <= 64:
            raise CircuitError(f"slots must be in 1..64, got {self.slots}")
        if self.model_size < 1:
            raise CircuitError(f"model_size must be positive, got {self.model_size}")
        if not 1 <= self.scale_bits <= 20:
            raise CircuitError(f"scale_bits must be in 1..20, got {self.scale_bits}")

    @property
    def name(self) -> str:
        return f"aggregation-s{self.slots}-d{self.model_size}-q{self.scale_bits}"

    @property
    def layout(self) -> AggregationLayout:
        return AggregationLayout(self.slots, self.model_size)

    @property
    def num_instances(self) -> int:
        return self.layout.count

    def digest(self) -> str:
        return spec_digest(self, CIRCUIT_REVISION)


@dataclass(frozen=True)
class AggregationArtifacts(ArtifactPaths):
    """Paths of one aggregation circuit's generated artifacts."""

    spec: AggregationCircuitSpec
    directory: Path
    logrows: int
    srs_kind: str  # "development" (self-generated) or "ceremony"


def export_aggregation_onnx(spec: AggregationCircuitSpec, path: Path) -> None:
    """Write the circuit's ONNX graph: inputs u0..u{S-1} [1, d] and w [1, S]; output [1, d + S]."""
    import torch  # heavy import, only needed when (re)building artifacts

    class WeightedSum(torch.nn.Module):
        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            updates, weights = args[: spec.slots], args[spec.slots]
            acc = updates[0] * weights[:, 0:1]
            for i in range(1, spec.slots):
                acc = acc + updates[i] * weights[:, i : i + 1]
            return torch.cat([acc, weights], dim=1)

    example = (*(torch.zeros(1, spec.model_size) for _ in range(spec.slots)), torch.zeros(1, spec.slots))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            WeightedSum(),
            example,
            str(path),
            input_names=[f"u{i}" for i in range(spec.slots)] + ["w"],
            output_names=["aggregate"],
            opset_version=17,
            dynamo=False,
        )


def ensure_aggregation_artifacts(
    spec: AggregationCircuitSpec,
    root: Path,
    *,
    ceremony_srs: Path | None = None,
    progress: Progress = _quiet,
) -> AggregationArtifacts:
    """Build (or reuse from ``root``) every artifact of the aggregation circuit.

    Args:
        spec: the pinned circuit parameters.
        root: cache directory; artifacts live in ``root/<name>-<digest>/``.
        ceremony_srs: a ceremony SRS file for ``logrows``; without it a development SRS is generated.
        progress: called with one line per step.
    """
    return build_artifacts(
        spec,
        root,
        export=lambda path: export_aggregation_onnx(spec, path),
        settle=lambda art_dir: _settle_logrows(spec, art_dir),
        make=lambda art_dir, logrows, srs_kind: AggregationArtifacts(spec, art_dir, logrows, srs_kind),
        revision=CIRCUIT_REVISION,
        ceremony_srs=ceremony_srs,
        progress=progress,
    )


def prove_aggregation(
    art: AggregationArtifacts, updates: Sequence[Sequence[int]], weights: Sequence[int], workdir: Path
) -> CircuitProof:
    """Prove ``aggregate = weighted average`` for quantized ``updates`` (one per slot) and ``weights``."""
    spec = art.spec
    if len(updates) != spec.slots or len(weights) != spec.slots:
        raise CircuitError(f"the circuit takes {spec.slots} updates and weights, got {len(updates)}/{len(weights)}")
    if any(len(u) != spec.model_size for u in updates):
        raise CircuitError(f"every update must have {spec.model_size} values")
    return prove_rows(art, [*updates, weights], workdir)

