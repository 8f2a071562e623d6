"""The norm-bound circuit (``NormVerifier``): a hospital's update is within the round's bound.

Inputs ``u [1, d]`` (the hospital's update), ``g [1, d]`` (the previous global model), ``b [1, 1]`` (the
round's bound on the squared L2 distance), every input *hashed*, the output *public*, scale ``2**s``;
output ``[flag, b, g]`` with ``flag = 2**s`` when ``sum_j rescale((u_j - g_j)**2) <= b`` and ``0``
otherwise. Instance layout: :class:`zkfl_dapp.circuits.layouts.NormLayout`.

``hash(u)`` is the hospital's Poseidon commitment, so the bound covers exactly the vector that the
aggregation proof later averages; ``g`` is bound to the round's previous-model commitment by keccak
on-chain, ``b`` to the round's bound. The norm itself stays private: only the flag is public. The
semantics are :mod:`zkfl_dapp.core.norms`', bit for bit.
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
from zkfl_dapp.circuits.layouts import NormLayout
from zkfl_dapp.circuits.onnx_export import check_vector_spec, export_onnx
from zkfl_dapp.exceptions import CircuitError

#: Bump when the norm circuit's construction changes in a way its spec does not capture.
NORM_REVISION = 1


@dataclass(frozen=True)
class NormCircuitSpec:
    """The pinned inputs of one norm-bound circuit.

    ``min_logrows``: at the smallest logrows that fits (12 for d = 31) ezkl spreads the range checks over
    more columns and the generated verifier (26,853 B) exceeds EIP-170's 24,576 B; one more row doubling
    keeps it deployable.
    """

    model_size: int = 31
    scale_bits: int = 13
    min_logrows: int = 13

    def __post_init__(self) -> None:
        check_vector_spec(self.model_size, self.scale_bits)

    @property
    def name(self) -> str:
        return f"norm-d{self.model_size}-q{self.scale_bits}"

    @property
    def layout(self) -> NormLayout:
        return NormLayout(self.model_size)

    @property
    def num_instances(self) -> int:
        return self.layout.count

    def digest(self) -> str:
        return spec_digest(self, NORM_REVISION)


@dataclass(frozen=True)
class NormArtifacts(ArtifactPaths):
    """Paths of one norm circuit's generated artifacts."""

    contract_name: ClassVar[str] = "NormVerifier"

    spec: NormCircuitSpec
    directory: Path
    logrows: int
    srs_kind: str


def export_norm_onnx(spec: NormCircuitSpec, path: Path) -> None:
    """Write the norm circuit's ONNX graph: ``[flag, b, g] = [(sum((u - g)^2) <= b), b, g]``."""
    import torch

    class NormBound(torch.nn.Module):
        def forward(self, u: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            diff = u - g
            dist2 = torch.sum(diff * diff, dim=1, keepdim=True)
            return torch.cat([(dist2 <= b).float(), b, g], dim=1)

    d = spec.model_size
    export_onnx(NormBound(), {"u": (1, d), "g": (1, d), "b": (1, 1)}, path)


def ensure_norm_artifacts(
    spec: NormCircuitSpec, root: Path, *, ceremony_srs: Path | None = None, progress: Progress = _quiet
) -> NormArtifacts:
    """Build (or reuse from ``root``) every artifact of the norm circuit (see circuits.build_artifacts)."""
    return build_artifacts(
        spec,
        root,
        export=lambda path: export_norm_onnx(spec, path),
        settle=lambda art_dir: _settle_logrows(spec, art_dir),
        make=lambda art_dir, logrows, srs_kind: NormArtifacts(spec, art_dir, logrows, srs_kind),
        revision=NORM_REVISION,
        ceremony_srs=ceremony_srs,
        progress=progress,
    )


def prove_norm(
    art: NormArtifacts, update: Sequence[int], prev: Sequence[int], bound_sq: int, workdir: Path
) -> CircuitProof:
    """Prove the norm flag of ``update`` against ``prev`` and ``bound_sq`` (quantized values).

    Raises:
        CircuitError: wrong lengths, or a distance outside the circuit's range (no proof exists).
    """
    d = art.spec.model_size
    if len(update) != d or len(prev) != d:
        raise CircuitError(f"the norm circuit takes {d} values, got {len(update)} and {len(prev)}")
    if bound_sq <= 0:
        raise CircuitError(f"the bound must be positive, got {bound_sq}")
    return prove_rows(art, [list(update), list(prev), [bound_sq]], workdir)

