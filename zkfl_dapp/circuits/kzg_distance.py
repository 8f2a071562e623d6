"""What the norm circuit is made of: the rescaled squared distance between two KZG-committed vectors.

The norm circuit (:mod:`.kzg_chunk_norm`) compares ``x = 2**13 * u`` (one chunk of a hospital's update,
followed by hiding-pad rows) with the previous aggregate ``S`` over its first rows, at ezkl scale ``2**26``,
with the prover's address copied from ``p`` to public limbs. This module keeps the range checks its
soundness rests on (:data:`INPUT_RANGE`; the ``sqrt(-1)`` argument in :mod:`.kzg_chunk_norm`'s docstring),
the ezkl run arguments, the input checks, the bit-exact Python twin of the distance and the proof layout
(three committed points ``C(x), C(S), C(p)``); the circuit module keeps its graph and its parameters ``p``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import ezkl

from zkfl_dapp.circuits.artifact_paths import ArtifactPaths
from zkfl_dapp.circuits.artifacts import settle_logrows
from zkfl_dapp.circuits.kzg import G1Point
from zkfl_dapp.circuits.proving import load_committed_proof, run_ezkl
from zkfl_dapp.core.aggregation import rescale
from zkfl_dapp.core.fixedpoint import felt_hex
from zkfl_dapp.exceptions import CircuitError

DECOMP_BASE = 2**9
DECOMP_LEGS = 4
#: Every input and output of the circuit is range-checked to ``|v| < INPUT_RANGE``.
INPUT_RANGE = DECOMP_BASE**DECOMP_LEGS  # 2**36
#: Bits of one hiding-pad entry of ``u``: ``2**13 * 2**22 = 2**35 < INPUT_RANGE``, and so is the aggregate.
PAD_ENTRY_BITS = 22
#: Rows the norm circuit leaves free at the end of a column: its 6 unusable rows (5 blinding factors and
#: ezkl's filler row; KzgBasis.unusable_rows) and 10 to spare. The generic 64 would put the d = 31 circuit
#: (993 rows: the budget, index and count instances) at logrows 11 and double its proving time (0.93 s
#: against 0.47 s at logrows 10, measured on 2 shared cores).
NORM_MARGIN = 16
ADDRESS_LIMBS = 5
ADDRESS_LIMB_BITS = 32


class DistanceSpec(Protocol):
    """What the shared parts read from a norm circuit's spec (:class:`~.kzg_chunk_norm.KzgChunkNormSpec`,
    :class:`~.kzg_chunk_norm.KzgChunkNormSpec`)."""

    @property
    def scale_bits(self) -> int: ...
    @property
    def inner_cols(self) -> int: ...
    @property
    def min_logrows(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def aggregate_scale_bits(self) -> int: ...
    @property
    def decomp_bits(self) -> int: ...


#: Range-check decompositions that cover exactly ``|v| < 2**36`` (:data:`INPUT_RANGE`): base ``2**bits``, ``36 / bits``
#: legs. Which is cheapest depends on the circuit's size (docs/benchmarks.md, "Choosing the chunk circuit").
DECOMP_CHOICES = (6, 9, 12, 18)


def check_decomp_bits(bits: int) -> None:
    """The soundness argument needs the range to be exactly ``2**36``, whatever the decomposition."""
    if bits not in DECOMP_CHOICES:
        raise CircuitError(f"range-check base 2^{bits} does not decompose 2^36 (choose one of {DECOMP_CHOICES})")


def check_scale_bits(scale_bits: int) -> None:
    """The range analysis (:mod:`.kzg_chunk_norm`'s docstring) assumes updates at scale ``2**13``."""
    if scale_bits != 13:
        raise CircuitError(f"the range analysis (module docstring) assumes scale_bits = 13, got {scale_bits}")


def address_limbs(address: str | int) -> tuple[int, ...]:
    """The address as ``ADDRESS_LIMBS`` little-endian 32-bit limbs (what the contract must compute too)."""
    value = int(address, 16) if isinstance(address, str) else address
    if not 0 <= value < 2**160:
        raise CircuitError(f"{address!r} is not a 160-bit address")
    mask = 2**ADDRESS_LIMB_BITS - 1
    return tuple((value >> (ADDRESS_LIMB_BITS * i)) & mask for i in range(ADDRESS_LIMBS))


def scaled_squared_distance(
    spec: DistanceSpec, compared: int, update: Sequence[int], prev_aggregate: Sequence[int]
) -> int:
    """``rescale(sum_{j < compared} (2**13 u_j - S_j)**2, 26)``: the circuits' dot product, bit-exact."""
    one = 1 << spec.scale_bits
    pairs = zip(update[:compared], prev_aggregate[:compared], strict=True)
    total = sum((one * int(u) - int(s)) ** 2 for u, s in pairs)
    return rescale(total, spec.aggregate_scale_bits)


def scaled_update(spec: DistanceSpec, update: Sequence[int]) -> list[int]:
    """``x = 2**13 * u``: the update at the aggregate's scale, as the circuit takes it."""
    return [(1 << spec.scale_bits) * int(u) for u in update]


def check_in_range(x: Sequence[int], prev_aggregate: Sequence[int], *, where: str = "") -> None:
    """Raise CircuitError for the first value of ``x`` or ``S`` outside the range check (``|v| < 2^36``)."""
    for name, vec in (("2^13 * update", x), ("previous aggregate", prev_aggregate)):
        bad = next((j for j, v in enumerate(vec) if abs(int(v)) >= INPUT_RANGE), None)
        if bad is not None:
            raise CircuitError(f"{where}{name}[{bad}] = {vec[bad]} is outside the circuit's range (|v| < 2^36)")


def export_distance_onnx(module: Any, spec: DistanceSpec, params: int, path: Path) -> None:
    """Write ``module`` (``forward(x, s, p)``, torch) as the ONNX graph over ``x, S [1, rows]``, ``p [1, params]``."""
    import torch

    example = (torch.zeros(1, spec.rows), torch.zeros(1, spec.rows), torch.zeros(1, params))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, example, str(path), input_names=["x", "s", "p"], output_names=["out"],
            opset_version=17, dynamo=False,
        )  # fmt: skip


def run_args(spec: DistanceSpec, logrows: int) -> ezkl.PyRunArgs:
    """ezkl's run arguments of both norm circuits: committed inputs, public outputs, range checks on."""
    args = ezkl.PyRunArgs()
    args.input_visibility = "polycommit"
    args.output_visibility = "public"
    args.param_visibility = "fixed"
    args.input_scale = spec.aggregate_scale_bits
    args.param_scale = spec.aggregate_scale_bits
    args.scale_rebase_multiplier = 1  # rescale the dot product (scale 52) back to 26
    args.decomp_base = 2**spec.decomp_bits
    args.decomp_legs = 36 // spec.decomp_bits  # base ** legs = 2**36 = INPUT_RANGE, whatever the base
    args.ignore_range_check_inputs_outputs = False  # the norm's soundness rests on these (kzg_chunk_norm's docstring)
    args.num_inner_cols = spec.inner_cols
    args.logrows = logrows
    return args


def settle(spec: DistanceSpec, art_dir: Path) -> int:
    """The circuit's logrows (settings written into ``art_dir``; see circuits.settle_logrows)."""
    return settle_logrows(art_dir, lambda logrows: run_args(spec, logrows), spec.min_logrows, spec.rows, NORM_MARGIN)


@dataclass(frozen=True)
class DistanceProof:
    """A norm proof, its instances (uint256) and its committed inputs' points ``(C(x), C(S), C(p))``."""

    proof: bytes
    instances: tuple[int, ...]
    commitments: tuple[G1Point, G1Point, G1Point]
    path: Path
    prove_seconds: float


ProofT = TypeVar("ProofT", bound=DistanceProof)


def read_distance_proof(kind: type[ProofT], path: Path, prove_seconds: float = 0.0) -> ProofT:
    """Read a proof file; its first three 64-byte points are the committed inputs ``x``, ``S``, ``p``."""
    base, points = load_committed_proof(path, 3, prove_seconds)
    return kind(base.proof, base.instances, points, path, prove_seconds)  # type: ignore[arg-type]


def prove_distance(
    art: ArtifactPaths, rows: Sequence[Sequence[int]], workdir: Path, *, what: str
) -> tuple[Path, float]:
    """Witness and prove from raw field elements ``[x, S, p]`` (no checks); returns the proof file and the
    proving time. The plaintext input and witness live only in a private scratch directory
    (circuits.run_ezkl); only ``workdir/proof.json`` remains.

    Raises:
        CircuitError: ezkl failed.
    """
    data = {"input_data": [[felt_hex(v) for v in row] for row in rows]}
    _, seconds = run_ezkl(art, data, workdir, prove=True, what=what)
    return workdir / "proof.json", seconds
