"""The poisoning-defence circuits (ezkl, Halo2/KZG): a client's norm bound and the median aggregate.

Both follow the aggregation circuit's conventions (:mod:`zkfl_dapp.circuits`): every input *hashed*
(its Poseidon hash is a public instance), the output *public*, scale ``2**s``, artifacts built from
pinned inputs by ``make circuits`` and cached; the verifiers are renamed and installed into
``contracts/generated/``. The semantics are :mod:`zkfl_dapp.robust`'s, bit for bit.

**Norm circuit** (``NormVerifier``), inputs ``u [1, d]`` (the hospital's update), ``g [1, d]`` (the
previous global model), ``b [1, 1]`` (the round's bound on the squared L2 distance); output
``[flag, b, g]`` with ``flag = 2**s`` when ``sum_j rescale((u_j - g_j)**2) <= b`` and ``0`` otherwise.
Instances::

    [hash(u), hash(g), hash(b), flag, b, g_0 .. g_{d-1}]

``hash(u)`` is the hospital's Poseidon commitment, so the bound covers exactly the vector that the
aggregation proof later averages; ``g`` is bound to the round's previous-model commitment by keccak
on-chain, ``b`` to the round's bound. The norm itself stays private: only the flag is public.

**Median circuit** (``MedianVerifier``), inputs ``u_0 .. u_{S-1}`` and ``g``, all ``[1, d]``; output
``[median ‖ g]``, the coordinate-wise median computed by a selection network of ``min/max`` pairs
(``min = a - relu(a - b)``: exact, no rescaling). Instances::

    [hash(u_0) .. hash(u_{S-1}), hash(g), med_0 .. med_{d-1}, g_0 .. g_{d-1}]

A slot without an included update carries ``g`` (so its hash equals ``hash(g)``). The model instances
sit at the same offset as in the aggregation circuit (``S + 1``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from zkfl_dapp.circuits import (
    AggregationProof,
    ArtifactPaths,
    Progress,
    _quiet,
    _settle_logrows,
    build_artifacts,
    prove_rows,
    spec_digest,
)
from zkfl_dapp.exceptions import CircuitError
from zkfl_dapp.robust import MEDIAN5_NETWORK

#: Bump when a defence circuit's construction changes in a way its spec does not capture.
ROBUST_REVISION = 1


def _check(model_size: int, scale_bits: int) -> None:
    if model_size < 1:
        raise CircuitError(f"model_size must be positive, got {model_size}")
    if not 1 <= scale_bits <= 20:
        raise CircuitError(f"scale_bits must be in 1..20, got {scale_bits}")


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
        _check(self.model_size, self.scale_bits)

    @property
    def name(self) -> str:
        return f"norm-d{self.model_size}-q{self.scale_bits}"

    @property
    def num_instances(self) -> int:
        return 5 + self.model_size

    def digest(self) -> str:
        return spec_digest(self, ROBUST_REVISION)


@dataclass(frozen=True)
class MedianCircuitSpec:
    """The pinned inputs of one coordinate-wise median circuit (5 slots: the selection network's size)."""

    slots: int = 5
    model_size: int = 31
    scale_bits: int = 13

    def __post_init__(self) -> None:
        _check(self.model_size, self.scale_bits)
        if self.slots != 5:
            raise CircuitError(f"the median circuit's selection network takes 5 slots, got {self.slots}")

    @property
    def name(self) -> str:
        return f"median-s{self.slots}-d{self.model_size}-q{self.scale_bits}"

    @property
    def num_instances(self) -> int:
        return self.slots + 1 + 2 * self.model_size

    def digest(self) -> str:
        return spec_digest(self, ROBUST_REVISION)


@dataclass(frozen=True)
class NormArtifacts(ArtifactPaths):
    """Paths of one norm circuit's generated artifacts."""

    contract_name: ClassVar[str] = "NormVerifier"

    spec: NormCircuitSpec
    directory: Path
    logrows: int
    srs_kind: str


@dataclass(frozen=True)
class MedianArtifacts(ArtifactPaths):
    """Paths of one median circuit's generated artifacts."""

    contract_name: ClassVar[str] = "MedianVerifier"

    spec: MedianCircuitSpec
    directory: Path
    logrows: int
    srs_kind: str


def _export(module: object, inputs: dict[str, tuple[int, int]], path: Path) -> None:
    import torch

    example = tuple(torch.zeros(*shape) for shape in inputs.values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,  # type: ignore[arg-type]
            example,
            str(path),
            input_names=list(inputs),
            output_names=["out"],
            opset_version=17,
            dynamo=False,
        )


def export_norm_onnx(spec: NormCircuitSpec, path: Path) -> None:
    """Write the norm circuit's ONNX graph: ``[flag, b, g] = [(sum((u - g)^2) <= b), b, g]``."""
    import torch

    class NormBound(torch.nn.Module):
        def forward(self, u: torch.Tensor, g: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            diff = u - g
            dist2 = torch.sum(diff * diff, dim=1, keepdim=True)
            return torch.cat([(dist2 <= b).float(), b, g], dim=1)

    d = spec.model_size
    _export(NormBound(), {"u": (1, d), "g": (1, d), "b": (1, 1)}, path)


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
    _export(Median(), {**{f"u{i}": (1, d) for i in range(spec.slots)}, "g": (1, d)}, path)


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
        revision=ROBUST_REVISION,
        ceremony_srs=ceremony_srs,
        progress=progress,
    )


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
        revision=ROBUST_REVISION,
        ceremony_srs=ceremony_srs,
        progress=progress,
    )


def prove_norm(
    art: NormArtifacts, update: Sequence[int], prev: Sequence[int], bound_sq: int, workdir: Path
) -> AggregationProof:
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


def prove_median(
    art: MedianArtifacts, slots: Sequence[Sequence[int]], prev: Sequence[int], workdir: Path
) -> AggregationProof:
    """Prove the coordinate-wise median of ``slots`` (each slot an update, or ``prev`` where there is none)."""
    spec = art.spec
    if len(slots) != spec.slots:
        raise CircuitError(f"the median circuit takes {spec.slots} slots, got {len(slots)}")
    if any(len(s) != spec.model_size for s in slots) or len(prev) != spec.model_size:
        raise CircuitError(f"every slot and the previous model must have {spec.model_size} values")
    return prove_rows(art, [list(s) for s in slots] + [list(prev)], workdir)


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
