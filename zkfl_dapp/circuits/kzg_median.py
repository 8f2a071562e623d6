"""The commit-and-prove median circuit: ``m`` is the coordinate-wise median of five KZG-committed vectors.

Inputs, every one ``polycommit`` (its KZG commitment is one of the proof's first points, in input order;
see :mod:`zkfl_dapp.circuits.kzg`), each ``[1, d + P]`` at the aggregate's scale ``2**26``:

* ``x_0 .. x_4``: the five slots. Slot ``i`` holds ``2**13 * u_i`` for an included hospital (the contract
  derives ``C(x_i) = combine([C(u_i)], [2**13], K)``) or the previous aggregate ``S_prev`` (its stored
  commitment) for an empty or excluded slot;
* ``m``: the claimed new aggregate, the coordinate-wise median. Its commitment (the proof's sixth point)
  is what the contract stores as the new model commitment ``C(S_new)``.

The pad rows are medianed like the model rows, so ``m`` is a full ``d + P`` vector in the same basis.

**A certificate, not a sorting network.** ezkl 23 does support ``output_visibility = "polycommit"``, but
the selection network (9 exact ``min/max`` comparators, :mod:`zkfl_dapp.circuits.median`) costs 9
decompositions per coordinate and does not fit the norm circuit's ``2**10`` rows at d = 31 with fewer than
~32 inner columns. Checking a *claimed* median costs 5: per coordinate ``j`` the circuit computes

    s_i = sign(x_i - m)  (i < 5),   A = sum_i (s_i**2 + s_i) = 2 #{x_i > m},   B = sum_i (s_i**2 - s_i) = 2 #{x_i < m}

and outputs one public instance ``z = sum_j f(A_j) + f(B_j)`` with ``f(t) = t (t - 2) (t - 4)``.

**Soundness.** ezkl computes ``sign(v)`` by decomposing ``v = s * sum_k l_k 2**(9k)`` with ``s`` in
``{-1, 0, 1}`` and four legs ``l_k`` in ``[0, 2**9)`` (range-checked): a proof exists only if every
``|x_i - m| < 2**36``, and then ``s_i`` is the true sign of the integer ``x_i - m``, except that for
``x_i = m`` the prover may pick any ``s_i``. For vectors whose entries are signed integers below
``2**252`` in magnitude (reduced mod r) the field difference is the integer difference (no wrap-around:
``m`` lies within ``2**36`` of ``x_i``). ``A`` and ``B`` are even integers in ``[0, 10]``, ``f`` is zero
exactly on ``{0, 2, 4}`` and positive on ``{6, 8, 10}``, and the sum over at most ``2**13`` coordinates of
values ``<= 480`` cannot wrap, so ``z = 0`` iff at every coordinate the labels count at most two ``x_i``
above ``m`` and at most two below. Labels are only free for ``x_i = m``, so the true counts of
``x_i > m`` and ``x_i < m`` are at most two as well: then ``m`` equals some ``x_i``, and is neither below
nor above the third smallest, i.e. ``m`` is the median (the same value as
:func:`zkfl_dapp.core.median.median_quantized`, which returns one of the five inputs). **The contract
must require the instance ``z == 0``**: a wrong ``m`` can still be proven, with ``z > 0``.

**Range checks off** (``ignore_range_check_inputs_outputs = True``): the five sign decompositions already
bound every ``x_i - m``, which is all the argument above needs; checking the six inputs as well would
double the rows. :func:`prove_kzg_median` still refuses entries with ``|v| >= 2**36`` (the norm
circuit's range) and coordinates whose slots spread ``2**36`` or more (no proof would exist).

**Same basis as the norm circuit.** A commitment is shared between circuits only with the same SRS,
``logrows`` and unusable rows (:class:`zkfl_dapp.circuits.kzg.KzgBasis`). The spec pins ``logrows`` to
the norm circuit's and the build copies the norm circuit's SRS; the circuit is fitted in those rows by
widening it (``inner_cols``), which does not change the basis. Building fails rather than silently
taking more rows.

**On chain: ezkl's reusable verifier.** At d = 31 the circuit needs 8 inner columns in ``2**10`` rows, and
ezkl's plain verifier (which inlines the verifying key and gate evaluation) is then 29,414 bytes of runtime
code, over EIP-170's 24,576. So :class:`KzgMedianArtifacts` is ``reusable``: the build writes ezkl's
circuit-independent ``Halo2VerifierReusable`` (10,896 bytes; one deployment serves every circuit), the
circuit's verifying-key artifact ``vka.bin`` (343 words) and ``KzgMedianVerifier`` (12,250 bytes): a wrapper
that embeds the VKA, pins ``VKA_DIGEST = keccak256(words)``, registers the VKA in its constructor
(``constructor(IHalo2VerifierReusable)``) and implements ``IHalo2Verifier.verifyProof(bytes, uint256[])``
by calling ``reusable.verifyProof(proof, instances, vka)`` and requiring the returned digest to be its own.
A contract (RoundManager) calls ``KzgMedianVerifier.verifyProof(proof, [z])`` like any other verifier and
must still require ``z == 0``. Measured on anvil: 1,482,104 gas per ``verifyProof`` through the wrapper
(the VKA costs ~11 KB of memory/calldata to the inner call). ezkl marks the reusable verifier experimental.
The fallback without it, the norm circuit at ``logrows = 11`` (not taken): 4 inner columns (1,580 rows), a
plain verifier of 21,367 bytes. Inputs are at ezkl scale 0: the values are taken as field elements and no rescaling
ever happens (the ``2**26`` is the protocol's convention, not the circuit's).
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import ezkl

from zkfl_dapp.circuits.artifact_paths import ArtifactPaths, spec_digest
from zkfl_dapp.circuits.artifacts import Progress, _quiet, _sha256, build_artifacts
from zkfl_dapp.circuits.kzg import G1Point
from zkfl_dapp.circuits.proving import load_committed_proof, run_ezkl
from zkfl_dapp.core.fixedpoint import felt_hex
from zkfl_dapp.core.median import median_quantized
from zkfl_dapp.exceptions import CircuitError

#: Bump when the circuit's construction changes in a way its spec does not capture.
KZG_MEDIAN_REVISION = 2  # 2: reusable verifier + VKA wrapper (EIP-170)
DECOMP_BASE = 2**9
DECOMP_LEGS = 4
#: Each ``x_i - m`` must satisfy ``|x_i - m| < SIGN_RANGE`` for a proof to exist; inputs keep the norm
#: circuit's ``|v| < SIGN_RANGE`` too.
SIGN_RANGE = DECOMP_BASE**DECOMP_LEGS  # 2**36
SLOTS = 5
#: Rows kept free of the circuit for halo2's blinding rows (as the norm circuit's ``_settle``).
_BLINDING_MARGIN = 64


@dataclass(frozen=True)
class KzgMedianCircuitSpec:
    """The pinned inputs of one commit-and-prove median circuit.

    ``logrows`` must equal the norm circuit's for the same ``model_size`` (10 up to d = 64 with
    ``pad_rows = 10``, 13 at d = 513): that is what makes the commitments shared. ``inner_cols``: how wide
    the circuit is laid out to fit those rows (see :func:`default_median_spec`).
    """

    slots: int = SLOTS
    model_size: int = 31
    pad_rows: int = 10
    scale_bits: int = 13
    logrows: int = 10
    inner_cols: int = 8

    def __post_init__(self) -> None:
        if self.slots != SLOTS:
            raise CircuitError(f"the median certificate takes {SLOTS} slots, got {self.slots}")
        if self.model_size < 1 or self.pad_rows < 0 or self.inner_cols < 1:
            raise CircuitError(f"invalid median spec {self}")
        if self.scale_bits != 13:
            raise CircuitError(f"the range analysis assumes scale_bits = 13, got {self.scale_bits}")
        if self.rows > 2**13:
            raise CircuitError("the no-wrap argument (module docstring) assumes at most 2**13 rows")

    @property
    def name(self) -> str:
        return f"kzgmedian-s{self.slots}-d{self.model_size}-p{self.pad_rows}-q{self.scale_bits}"

    @property
    def rows(self) -> int:
        """Values in each committed vector (model rows plus pad rows)."""
        return self.model_size + self.pad_rows

    @property
    def num_instances(self) -> int:
        return 1

    def digest(self) -> str:
        return spec_digest(self, KZG_MEDIAN_REVISION)


def default_median_spec(model_size: int, pad_rows: int = 10, *, logrows: int | None = None) -> KzgMedianCircuitSpec:
    """The spec measured to fit the norm circuit's rows: logrows 10 / 8 inner columns at d = 31 (894 rows;
    the norm circuit: 2 columns), logrows 13 / 16 inner columns at d = 513 (14 columns measured 8,159 rows, over
    the 8,128 logrows 13 holds with blinding room; norm: 3).
    Pass ``logrows`` (the norm circuit's, ``KzgChunkNormArtifacts.logrows``) for other sizes; the build fails
    if the circuit does not fit."""
    if logrows is None:
        logrows = 10 if model_size <= 64 else 13
    cols = 8 if logrows == 10 else 16
    return KzgMedianCircuitSpec(model_size=model_size, pad_rows=pad_rows, logrows=logrows, inner_cols=cols)


@dataclass(frozen=True)
class KzgMedianArtifacts(ArtifactPaths):
    """Paths of one commit-and-prove median circuit's generated artifacts."""

    contract_name: ClassVar[str] = "KzgMedianVerifier"
    #: The plain verifier is 29,414 bytes at d = 31 / 8 inner columns (over EIP-170): ``KzgMedianVerifier``
    #: is the VKA wrapper around ezkl's shared reusable verifier (module docstring, "On chain").
    reusable: ClassVar[bool] = True

    spec: KzgMedianCircuitSpec
    directory: Path
    logrows: int
    srs_kind: str


@dataclass(frozen=True)
class KzgMedianProof:
    """A median proof, its instances ``(z,)`` and its points ``(C(x_0), .., C(x_4), C(m))``."""

    proof: bytes
    instances: tuple[int, ...]
    commitments: tuple[G1Point, ...]
    path: Path
    prove_seconds: float

    @property
    def slot_commitments(self) -> tuple[G1Point, ...]:
        return self.commitments[:SLOTS]

    @property
    def median_commitment(self) -> G1Point:
        return self.commitments[SLOTS]

    @property
    def accepted(self) -> bool:
        """Whether the proof certifies its ``m`` (the instance the contract must require to be 0)."""
        return self.instances == (0,)


def export_kzg_median_onnx(spec: KzgMedianCircuitSpec, path: Path) -> None:
    """Write the ONNX graph: ``z = sum_j f(A_j) + f(B_j)`` over ``s = sign(x - m)`` (module docstring)."""
    import torch

    class KzgMedian(torch.nn.Module):
        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            x, m = torch.cat(inputs[:SLOTS], 0), inputs[SLOTS]  # [5, n], [1, n]
            s = torch.sign(x - m)
            p, q = s.sum(0, keepdim=True), (s * s).sum(0, keepdim=True)
            t = torch.cat([q + p, q - p], 1)  # 2 #{x_i > m}, 2 #{x_i < m}
            return (t * (t - 2) * (t - 4)).sum(1, keepdim=True)

    example = tuple(torch.zeros(1, spec.rows) for _ in range(SLOTS + 1))
    names = [f"x{i}" for i in range(SLOTS)] + ["m"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            KzgMedian(), example, str(path), input_names=names, output_names=["z"], opset_version=17, dynamo=False
        )


def _run_args(spec: KzgMedianCircuitSpec, logrows: int) -> ezkl.PyRunArgs:
    args = ezkl.PyRunArgs()
    args.input_visibility = "polycommit"
    args.output_visibility = "public"
    args.param_visibility = "fixed"
    args.input_scale = 0  # field elements as they are: the certificate never rescales (module docstring)
    args.param_scale = 0
    args.decomp_base = DECOMP_BASE
    args.decomp_legs = DECOMP_LEGS
    args.ignore_range_check_inputs_outputs = True  # the sign decompositions bound x_i - m (module docstring)
    args.num_inner_cols = spec.inner_cols
    args.logrows = logrows
    return args


def circuit_rows(spec: KzgMedianCircuitSpec, art_dir: Path) -> int:
    """Write the ONNX graph's settings at a large logrows into ``art_dir``; return ezkl's row count."""
    onnx, settings = art_dir / "network.onnx", art_dir / "settings.json"
    ezkl.gen_settings(str(onnx), str(settings), py_run_args=_run_args(spec, 20))
    return int(json.loads(settings.read_text())["num_rows"])


def _settle(spec: KzgMedianCircuitSpec, art_dir: Path) -> int:
    rows = circuit_rows(spec, art_dir)
    if rows > 2**spec.logrows - _BLINDING_MARGIN:
        raise CircuitError(
            f"the median circuit needs {rows} rows at {spec.inner_cols} inner columns: more than logrows "
            f"{spec.logrows} holds (the norm circuit's basis); widen it (inner_cols)"
        )
    ezkl.gen_settings(
        str(art_dir / "network.onnx"), str(art_dir / "settings.json"), py_run_args=_run_args(spec, spec.logrows)
    )
    return spec.logrows


def ensure_kzg_median_artifacts(
    spec: KzgMedianCircuitSpec,
    root: Path,
    *,
    shared_srs: Path,
    ceremony_srs: bool = False,
    progress: Progress = _quiet,
) -> KzgMedianArtifacts:
    """Build (or reuse from ``root``) every artifact of the circuit over ``shared_srs``, the SRS of the
    norm circuit whose basis it must share (``KzgChunkNormArtifacts.srs``; a ceremony SRS when ``ceremony_srs``).

    A cached build over another SRS file (the norm circuit was rebuilt) is discarded and rebuilt.

    Raises:
        CircuitError: the SRS is not of ``spec.logrows``, the circuit does not fit, or ezkl failed.
    """
    if not shared_srs.is_file():
        raise CircuitError(f"the shared SRS {shared_srs} does not exist")
    with shared_srs.open("rb") as f:
        srs_k = int.from_bytes(f.read(4), "little")
    if srs_k != spec.logrows:
        raise CircuitError(f"the shared SRS has k={srs_k}, the median spec logrows {spec.logrows}")
    srs_kind = "ceremony" if ceremony_srs else "development"
    manifest = root / f"{spec.name}-{spec.digest()}-{srs_kind}" / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text())["srs"]["sha256"] != _sha256(shared_srs):
        progress(f"circuit {spec.name}: cached build uses another SRS, rebuilding")
        shutil.rmtree(manifest.parent)
    return build_artifacts(
        spec,
        root,
        export=lambda path: export_kzg_median_onnx(spec, path),
        settle=lambda art_dir: _settle(spec, art_dir),
        make=lambda art_dir, logrows, kind: KzgMedianArtifacts(spec, art_dir, logrows, kind),
        revision=KZG_MEDIAN_REVISION,
        ceremony_srs=shared_srs,
        progress=progress,
        srs_kind=srs_kind,
    )


def check_slots(spec: KzgMedianCircuitSpec, slots: Sequence[Sequence[int]]) -> None:
    """Raise CircuitError unless ``slots`` are 5 vectors of ``d + P`` ints the circuit can take."""
    if len(slots) != spec.slots:
        raise CircuitError(f"the median circuit takes {spec.slots} slots, got {len(slots)}")
    for i, vec in enumerate(slots):
        if len(vec) != spec.rows:
            raise CircuitError(f"slot {i} has {len(vec)} values, the circuit takes {spec.rows} (model + pad)")
        bad = next((j for j, v in enumerate(vec) if abs(int(v)) >= SIGN_RANGE), None)
        if bad is not None:
            raise CircuitError(f"slot {i}[{bad}] = {vec[bad]} is outside the circuit's range (|v| < 2^36)")
    for j in range(spec.rows):
        column = [int(vec[j]) for vec in slots]
        if max(column) - min(column) >= SIGN_RANGE:
            raise CircuitError(f"row {j}: the slots spread {max(column) - min(column)} >= 2^36 (no proof exists)")


def prove_kzg_median(art: KzgMedianArtifacts, slots: Sequence[Sequence[int]], workdir: Path) -> KzgMedianProof:
    """Prove ``m = median_quantized(slots)`` for 5 vectors of ``d + P`` ints at scale 2**26.

    Raises:
        CircuitError: wrong counts or lengths, a value outside the range, or ezkl failed.
    """
    check_slots(art.spec, slots)
    rows = [[int(v) for v in vec] for vec in slots]
    return prove_inputs(art, [*rows, list(median_quantized(rows))], workdir)


def prove_inputs(art: KzgMedianArtifacts, rows: Sequence[Sequence[int]], workdir: Path) -> KzgMedianProof:
    """Witness and prove from raw field elements ``[x_0..x_4, m]`` (no checks: tests use it to try attacks).

    The plaintext slots (the hospitals' updates) and the witness live only in a private scratch directory
    (circuits.run_ezkl: mode 0700, deleted afterwards); only ``workdir/proof.json`` (0600) remains.

    Raises:
        CircuitError: ezkl failed.
    """
    data = {"input_data": [[felt_hex(v) for v in row] for row in rows]}
    _, seconds = run_ezkl(art, data, workdir, prove=True, what="median proof")
    return read_kzg_median_proof(workdir / "proof.json", seconds)


def read_kzg_median_proof(path: Path, prove_seconds: float = 0.0) -> KzgMedianProof:
    """Read a proof file; its first six 64-byte points are ``C(x_0) .. C(x_4), C(m)``."""
    base, points = load_committed_proof(path, SLOTS + 1, prove_seconds)
    return KzgMedianProof(base.proof, base.instances, points, path, prove_seconds)
