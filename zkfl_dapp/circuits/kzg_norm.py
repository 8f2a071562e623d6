"""The commit-and-prove norm circuit: ``||2**13 * u - S||^2 <= b`` over KZG-committed inputs.

Inputs, every one ``polycommit`` (its KZG commitment is one of the proof's first points, see
:mod:`zkfl_dapp.circuits.kzg`), all at the aggregate's scale ``2**26`` (``input_scale = 2 * scale_bits``):

* ``x [1, d + P]``: ``2**13 * u`` for the hospital's quantized update ``u`` (scale ``2**13``) followed by
  its ``P`` hiding-pad rows (also times ``2**13``). The contract gets ``C(x)`` from the hospital's own
  ``C(u)`` as ``combine([C(u)], [2**13], K)``;
* ``S [1, d + P]``: the previous FedAvg aggregate ``sum w_i u_i`` (scale ``2**26``) with its spare rows
  (``sum w_i pad_i``): its commitment is the one RoundManager computed when it finalized the round;
* ``p [1, 1 + 5]``: the round's bound ``b`` and the hospital's address in five 32-bit limbs.

One dot product of ``diff = x[:d] - S[:d]``, rescaled once by ``2**26`` (half away from zero), is
compared with ``b``. The pad rows are sliced off: they never enter the norm. Public instances::

    [flag, b, a_0, a_1, a_2, a_3, a_4]      flag = 2**26 if rescale(diff . diff) <= b else 0

``b`` and the address limbs are public *outputs* copied from ``p``, so changing either instance breaks
the proof (the copy is constrained, and every instance enters the transcript). Putting them in an
output rather than an extra input costs one more committed column (the third point, which the contract
ignores) and 6 instances; ezkl has one visibility for all inputs, so a public input next to
polycommit ones is not possible, and a 160-bit address does not fit the range check in one limb.
A violating update proves ``flag = 0``: the contract must require ``flag == 2**26``.

**Range checks stay on** (``ignore_range_check_inputs_outputs = False``): every input and output is
decomposed in ``DECOMP_LEGS`` legs of base ``DECOMP_BASE``, so ``|v| < 2**36``. They are what makes the
norm sound: without them a witness with ``diff = (1, sqrt(-1) mod r)`` has ``diff . diff = 0`` in the
field. Consequences: ``|u| < 2**23`` at scale 2**13 (real ``|u| < 1024``), ``b < 2**36`` (a real bound
below 32), and a distance with ``rescale(diff . diff) >= 2**36`` cannot be proven at all. Pad entries have
:data:`~.kzg_distance.PAD_ENTRY_BITS` bits so that ``2**13 * pad`` and the aggregate ``sum w_i pad_i`` (weights summing
to ``2**13``) stay below ``2**36``. Base ``2**9`` keeps the range table inside ``2**10`` rows: base
``2**14`` (ezkl's default) needs 17 table columns at logrows 10 and proves ~10x slower.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from zkfl_dapp.circuits.artifact_paths import ArtifactPaths, spec_digest
from zkfl_dapp.circuits.artifacts import Progress, _quiet, build_artifacts
from zkfl_dapp.circuits.kzg_distance import (
    ADDRESS_LIMBS,
    INPUT_RANGE,
    DistanceProof,
    address_limbs,
    check_in_range,
    check_scale_bits,
    export_distance_onnx,
    prove_distance,
    read_distance_proof,
    scaled_squared_distance,
    scaled_update,
    settle,
)
from zkfl_dapp.exceptions import CircuitError

#: Bump when the circuit's construction changes in a way its spec does not capture.
KZG_NORM_REVISION = 1


@dataclass(frozen=True)
class KzgNormCircuitSpec:
    """The pinned inputs of one commit-and-prove norm circuit.

    ``pad_rows``: hiding-pad rows after the ``model_size`` model rows (10 x 22 bits = 220 bits; 12 would
    push d = 31 to logrows 11 or to 3 inner columns, both ~25% slower to prove).
    ``inner_cols``: ezkl's ``num_inner_cols``. 2 (its default) is best at d = 31 (logrows 10, 3,616-byte
    proof, ~596k gas); at d = 513, 3 saves a row doubling (logrows 13 instead of 14, ~30% less prover
    CPU) for a 4,704-byte proof and ~719k gas (zkfl_dapp/experiments/kzg_measure.py).
    """

    model_size: int = 31
    pad_rows: int = 10
    scale_bits: int = 13
    min_logrows: int = 10
    inner_cols: int = 2

    def __post_init__(self) -> None:
        if self.model_size < 1 or self.pad_rows < 0:
            raise CircuitError(f"need model_size >= 1 and pad_rows >= 0, got {self.model_size}, {self.pad_rows}")
        check_scale_bits(self.scale_bits)

    @property
    def name(self) -> str:
        return f"kzgnorm-d{self.model_size}-p{self.pad_rows}-q{self.scale_bits}"

    @property
    def rows(self) -> int:
        """Values in each committed vector (model rows plus pad rows)."""
        return self.model_size + self.pad_rows

    @property
    def aggregate_scale_bits(self) -> int:
        return 2 * self.scale_bits

    @property
    def num_instances(self) -> int:
        return 2 + ADDRESS_LIMBS

    def digest(self) -> str:
        return spec_digest(self, KZG_NORM_REVISION)


@dataclass(frozen=True)
class KzgNormArtifacts(ArtifactPaths):
    """Paths of one commit-and-prove norm circuit's generated artifacts."""

    contract_name: ClassVar[str] = "KzgNormVerifier"

    spec: KzgNormCircuitSpec
    directory: Path
    logrows: int
    srs_kind: str


@dataclass(frozen=True)
class KzgNormProof(DistanceProof):
    """A norm proof, its instances (uint256) and its committed inputs' points ``(C(x), C(S), C(p))``."""

    @property
    def flag(self) -> bool:
        return self.instances[0] != 0


def expected_instances(spec: KzgNormCircuitSpec, bound: int, address: str | int) -> tuple[int, ...]:
    """The instances of an accepted proof: ``[2**26, b, limbs...]`` (what the contract passes to the verifier)."""
    return (1 << spec.aggregate_scale_bits, bound, *address_limbs(address))


def squared_distance(spec: KzgNormCircuitSpec, update: Sequence[int], prev_aggregate: Sequence[int]) -> int:
    """``rescale(sum_j (2**13 u_j - S_j)**2, 26)`` over the model rows: the circuit's left-hand side."""
    return scaled_squared_distance(spec, spec.model_size, update, prev_aggregate)


def export_kzg_norm_onnx(spec: KzgNormCircuitSpec, path: Path) -> None:
    """Write the ONNX graph: ``[(diff . diff <= b), p]`` with ``diff = x[:d] - S[:d]``, ``b = p[0]``."""
    import torch

    d = spec.model_size

    class KzgNorm(torch.nn.Module):
        def forward(self, x: torch.Tensor, s: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
            diff = x[:, :d] - s[:, :d]
            dist2 = torch.matmul(diff, diff.transpose(0, 1))  # one dot product: [1, 1]
            return torch.cat([(dist2 <= p[:, 0:1]).float(), p], dim=1)

    export_distance_onnx(KzgNorm(), spec, 1 + ADDRESS_LIMBS, path)


def ensure_kzg_norm_artifacts(
    spec: KzgNormCircuitSpec, root: Path, *, ceremony_srs: Path | None = None, progress: Progress = _quiet
) -> KzgNormArtifacts:
    """Build (or reuse from ``root``) every artifact of the circuit (see circuits.build_artifacts)."""
    return build_artifacts(
        spec,
        root,
        export=lambda path: export_kzg_norm_onnx(spec, path),
        settle=lambda art_dir: settle(spec, art_dir),
        make=lambda art_dir, logrows, srs_kind: KzgNormArtifacts(spec, art_dir, logrows, srs_kind),
        revision=KZG_NORM_REVISION,
        ceremony_srs=ceremony_srs,
        progress=progress,
    )


def prove_kzg_norm(
    art: KzgNormArtifacts,
    update: Sequence[int],
    prev_aggregate: Sequence[int],
    bound: int,
    address: str | int,
    workdir: Path,
) -> KzgNormProof:
    """Prove the norm flag of a padded update ``u`` (scale 2**13) against ``S`` (scale 2**26) and ``b``.

    Raises:
        CircuitError: wrong lengths, a value outside the range check, a distance the circuit cannot
            compare (no proof exists), or ezkl failed.
    """
    spec = art.spec
    if len(update) != spec.rows or len(prev_aggregate) != spec.rows:
        raise CircuitError(
            f"the circuit takes {spec.rows} values (model + pad), got {len(update)} and {len(prev_aggregate)}"
        )
    x = scaled_update(spec, update)
    check_in_range(x, prev_aggregate)
    if not 0 < bound < INPUT_RANGE:
        raise CircuitError(f"the bound must be in 1..2^36-1, got {bound}")
    if abs(bound - squared_distance(spec, update, prev_aggregate)) >= INPUT_RANGE:
        raise CircuitError("the squared distance is too far from the bound for the circuit to compare")
    rows = [x, list(prev_aggregate), [bound, *address_limbs(address)]]
    return prove_inputs(art, rows, workdir)


def prove_inputs(art: KzgNormArtifacts, rows: Sequence[Sequence[int]], workdir: Path) -> KzgNormProof:
    """Witness and prove from raw field elements ``[x, S, p]`` (no checks: tests use it to try attacks).

    The plaintext input and witness live only in a private scratch directory (circuits.run_ezkl); only
    ``workdir/proof.json`` remains.

    Raises:
        CircuitError: ezkl failed.
    """
    path, seconds = prove_distance(art, rows, workdir, what="norm proof")
    return read_kzg_norm_proof(path, seconds)


def read_kzg_norm_proof(path: Path, prove_seconds: float = 0.0) -> KzgNormProof:
    """Read a proof file; its first three 64-byte points are the committed inputs ``x``, ``S``, ``p``."""
    return read_distance_proof(KzgNormProof, path, prove_seconds)
