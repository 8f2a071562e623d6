"""The norm circuit: ``ss_c <= b_c`` per chunk over KZG-committed inputs, for every model size.

A model of ``d`` values is committed in ``n = ceil(d / CHUNK)`` chunks of ``CHUNK`` model values (the last
one zero-filled; :func:`~.chunks.split_chunks`), each followed by its own ``P`` hiding-pad rows, and every
chunk gets its own proof of ONE shared chunk circuit. A small model is one chunk (``CHUNK = d``, e.g. the
d = 31 demo: :func:`zkfl_dapp.circuits.suite.norm_spec_for`): the same circuit, the same submission path.
Inputs, every one ``polycommit`` (its KZG commitment is one of the proof's first three points), at ezkl
scale ``2**26``:

* ``x_c [1, CHUNK + P]``: ``2**13 * u_c`` (chunk ``c`` of the quantized update and its pad rows, times
  ``2**13``); the contract derives ``C(x_c) = combine([C(u_c)], [2**13], K)`` from the hospital's chunk
  commitment ``C(u_c)``;
* ``S_c [1, CHUNK + P]``: chunk ``c`` of the previous aggregate ``sum w_i u_i`` (scale ``2**26``) with its
  spare rows ``sum w_i pad_ic``: the per-chunk combination RoundManager computed when it finalized;
* ``p [1, 3 + 5]``: ``[b_c, c, n, a_0..a_4]``: the chunk's budget, the chunk index, the number of chunks
  and the hospital's address in five 32-bit limbs, copied to public outputs.

Public instances (uint256)::

    [flag, b_c, c, n, a_0, a_1, a_2, a_3, a_4]      flag = 2**26 if ss_c <= b_c else 0
    ss_c = rescale(sum_{j < CHUNK} (x_cj - S_cj)**2, 26)

``rescale`` is ezkl's (half away from zero; :func:`zkfl_dapp.core.aggregation.rescale` is the bit-exact
Python twin, :func:`chunk_sum_of_squares`). The pad rows are sliced off and never enter ``ss_c``. The
copies of ``b_c``, ``c``, ``n`` and the limbs are constrained, so a proof for another budget, chunk index,
chunk count or hospital has other instances (and changing an instance breaks the proof). A chunk over its
budget proves ``flag = 0`` (or no proof exists): a verifier must require ``flag == 2**26``.

**The round's norm** is ``sum_c ss_c <= b``. The hospital picks budgets ``b_c`` with ``sum_c b_c <= b``
(the contract checks the sum, as integers, each ``b_c < 2**36``) and proves ``ss_c <= b_c`` per chunk, so
``sum_c ss_c <= sum_c b_c <= b``. One chunk: ``b_0 = b`` and the proof is exactly ``rescale(T, 26) <= b``.
Several chunks: ``sum_c ss_c`` differs from the one-circuit ``rescale(T, 26)`` (``T = sum_c T_c`` the exact
integer sum of squares at scale ``2**52``) by rounding only: with ``f_c = (T_c mod 2**26) / 2**26``,
``sum_c ss_c - rescale(T, 26) = sum_c round(f_c) - round(sum_c f_c)``, at most ``floor(n / 2)`` units of
``2**-26`` either way (``13`` at ``n = 27``); against the exact ``T / 2**26`` within ``n / 2`` units.

**What is published, and the budgets' leakage.** Only ``b_c`` and the flag are public, not ``ss_c``. A
budget is an upper bound on that chunk's squared distance, so the hospital's choice is what leaks:
:func:`chunk_budgets` gives every chunk ``ss_c`` rounded UP to a multiple of ``b / 2**BUDGET_GRAIN_BITS``
(a coarse grid: 16 steps of the bound) and the unused rest of ``b`` to the last chunk, so each ``b_c``
reveals ``ss_c`` only to within ``b / 16`` (and one chunk (d = 31) reveals nothing: ``b_0 = b``). A
hospital that wants no per-chunk figure at all pays with slack: equal budgets ``b / n`` (refused when a
chunk exceeds its share). Issue 19/20's rule "nothing published is one hospital's figure" holds for the
one-chunk model exactly and for chunked models up to this grid.

**Range checks stay on** (``ignore_range_check_inputs_outputs = False``): every input and output
``|v| < 2**36`` (4 legs of base ``2**9``). Consequences:

* inputs: ``|u| < 2**23`` at scale ``2**13`` and pad entries of 22 bits (:data:`PAD_ENTRY_BITS`), so
  ``x`` and ``S`` (weights summing to ``2**13``) stay below ``2**36``; ``b_c``, the limbs (``< 2**32``),
  ``c`` and ``n`` fit too;
* the comparison ``ss_c <= b_c`` is proven only while ``|b_c - ss_c| < 2**36``: a chunk whose real squared
  distance is ``>= 2**10`` (rounded at scale ``2**26``) cannot be proven at all. That costs an honest
  hospital nothing as long as ``b < 2**36``: ``sum_c ss_c <= b`` with non-negative terms implies every
  ``ss_c <= b``.
* **The ``sqrt(-1)`` argument holds, per chunk and across chunks.** Without the input range checks a
  witness ``diff = (1, sqrt(-1) mod r)`` has ``diff . diff = 0`` in the field. With them, every
  ``diff_j = x_cj - S_cj`` is (the image of) an integer with ``|diff_j| < 2**37``, so
  ``sum_j diff_j**2 < CHUNK * 2**74 <= 2**87 < r`` (``CHUNK <= 2**13``, checked by the spec): the field sum
  equals the integer sum of squares, which is at least every ``diff_j**2``. Across chunks nothing is
  summed in the field: the verifier adds the public budgets ``b_c`` as integers, each of which it must
  require ``< 2**36`` (:data:`INPUT_RANGE`): then no uint256 sum of ``n`` of them wraps, and a field
  element ``r - k`` (a "negative" budget) is rejected outright.

**One basis for every chunk.** All chunks share one circuit and so one basis (its logrows, unusable rows
and SRS file; :meth:`KzgChunkNormArtifacts.basis`): ``C(u_c) = kzg.commit(chunk c padded, basis)[0]``.
An update's commitment is the ordered list ``[C(u_0), .., C(u_{n-1})]`` (:func:`~.chunks.commit_chunks`); the
aggregate's is the per-chunk combination ``K + sum_i w_i (C(u_ic) - K)`` (:func:`~.chunks.combine_chunks`, which
is :func:`zkfl_dapp.circuits.kzg.combine` per chunk). For one chunk this basis is also the median circuit's.

**On chain: ezkl's reusable verifier**: the chunk circuit's plain verifier is 30.8 KB at 4,096 values /
8 inner columns, over EIP-170; :class:`KzgChunkNormArtifacts` is ``reusable``, so the build writes the
shared ``Halo2VerifierReusable`` and the VKA wrapper ``KzgChunkNormVerifier``
(``constructor(IHalo2VerifierReusable)``, ``IHalo2Verifier.verifyProof``).

**Measured** (revision 1, which published ``ss_c``; d = 108,801, 4,096 values / 8 inner columns, ezkl
23.0.5, 2 shared cores; ``zkfl_dapp/experiments/kzg_chunk_measure.py``): 27 chunks; 22,652 rows, logrows
15; setup 102 s; proving key 1.15 GB; proof 7,232 bytes; 43 CPU-s per chunk, 2.8 GB per prover;
1,469,704 gas per ``verifyProof``. Verifying every chunk on chain does not fit one block: a chunked
deployment verifies optimistically (RoundManager's challenge window; docs/contributors.md). The large model
now uses 1 inner column and ``2**12 x 3`` range checks (:data:`LARGE_CHUNK_SPEC`; ``make chunk-sweep``).

**What a verifier of the n chunk proofs must check** (the contract at submission or challenge, the
enclave, an auditor), for a hospital with chunk commitments ``C(u_0..u_{n-1})``, budgets ``b_0..b_{n-1}``
and the previous aggregate's chunk points ``C(S_0..S_{n-1})``: for every ``c < n``, proof ``c``'s point 0
equals ``combine([C(u_c)], [2**13], K)``, its point 1 equals ``C(S_c)`` (point 2, ``C(p)``, is ignored),
its instances are ``[2**26, b_c, c, n, limbs(sender)]`` and the verifier accepts it; ``sum_c b_c <= b``
with every ``b_c < 2**36``. Proving cost: see :func:`~.chunk_prover.prove_chunks`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import ezkl

from zkfl_dapp.circuits.artifact_paths import ArtifactPaths, spec_digest
from zkfl_dapp.circuits.artifacts import Progress, _quiet, build_artifacts
from zkfl_dapp.circuits.kzg_distance import (
    ADDRESS_LIMBS,
    INPUT_RANGE,
    PAD_ENTRY_BITS,
    DistanceProof,
    address_limbs,
    check_decomp_bits,
    check_in_range,
    check_scale_bits,
    export_distance_onnx,
    prove_distance,
    read_distance_proof,
    run_args,
    scaled_squared_distance,
    scaled_update,
    settle,
)
from zkfl_dapp.exceptions import CircuitError

__all__ = [
    "INPUT_RANGE",
    "PAD_ENTRY_BITS",
    "KzgChunkNormArtifacts",
    "KzgChunkNormSpec",
    "KzgChunkProof",
    "KzgPlainNormArtifacts",
    "chunk_budgets",
    "chunk_sum_of_squares",
    "ensure_kzg_chunk_norm_artifacts",
    "expected_chunk_instances",
    "prove_chunk",
    "read_kzg_chunk_proof",
]

#: Bump when the circuit's construction changes in a way its spec does not capture.
KZG_CHUNK_NORM_REVISION = 2
#: Budgets are multiples of ``b >> BUDGET_GRAIN_BITS`` (module docstring, "What is published").
BUDGET_GRAIN_BITS = 4
#: The flag of a chunk within its budget: 1 at the aggregate's scale ``2**26`` (scale bits 13).
FLAG_SCALE_BITS = 26
#: Largest chunk the no-wrap argument (module docstring) covers.
MAX_CHUNK = 2**13


@dataclass(frozen=True)
class KzgChunkNormSpec:
    """The pinned inputs of the chunk norm circuit (one circuit, one basis, for every chunk of a model).

    ``chunk``: model values per chunk; ``pad_rows``: hiding-pad rows per chunk (each chunk commitment is
    public, so each needs its own 10 x 22 bits); ``inner_cols``: ezkl's ``num_inner_cols``, which trades
    rows (logrows, hence FFT size and proving-key size) for width; ``decomp_bits``: the range checks'
    lookup base ``2**decomp_bits`` (``36 / decomp_bits`` legs: the range is ``2**36`` for every choice, so
    the soundness argument above holds for each). Chosen by ``make chunk-sweep`` (docs/benchmarks.md,
    "Choosing the chunk circuit"): 1 column and ``2**12 x 3`` for 4,096-value chunks
    (:data:`LARGE_CHUNK_SPEC`), ``2**9 x 4`` for small one-chunk models.
    """

    chunk: int = 4096
    pad_rows: int = 10
    scale_bits: int = 13
    inner_cols: int = 8
    min_logrows: int = 10
    #: ezkl's reusable verifier and a VKA wrapper (``KzgChunkNormVerifier``: a large chunk's plain verifier is
    #: over EIP-170), or its plain verifier (``KzgNormVerifier``: a one-chunk small model, ~100k gas cheaper)
    reusable_verifier: bool = True
    decomp_bits: int = 9

    def __post_init__(self) -> None:
        if not 1 <= self.chunk <= MAX_CHUNK or self.pad_rows < 0 or self.inner_cols < 1:
            raise CircuitError(f"invalid chunk spec {self} (need 1 <= chunk <= {MAX_CHUNK})")
        check_scale_bits(self.scale_bits)
        check_decomp_bits(self.decomp_bits)

    @property
    def name(self) -> str:
        r = "" if self.decomp_bits == 9 else f"-r{self.decomp_bits}"
        return f"kzgchunknorm-c{self.chunk}-p{self.pad_rows}-x{self.inner_cols}-q{self.scale_bits}{r}"

    @property
    def rows(self) -> int:
        """Values in each committed chunk vector (model rows plus pad rows)."""
        return self.chunk + self.pad_rows

    @property
    def aggregate_scale_bits(self) -> int:
        return 2 * self.scale_bits

    @property
    def num_instances(self) -> int:
        return 4 + ADDRESS_LIMBS

    def digest(self) -> str:
        return spec_digest(self, KZG_CHUNK_NORM_REVISION)


#: Models above 4,096 parameters (28 chunks at d = 114,177): the cheapest point per value of the chunk sweep
#: within 1.5 GB per prover (docs/benchmarks.md, "Choosing the chunk circuit"); 8 columns and ``2**9 x 4``
#: before it.
LARGE_CHUNK_SPEC = KzgChunkNormSpec(chunk=4096, inner_cols=1, decomp_bits=12)


@dataclass(frozen=True)
class KzgChunkNormArtifacts(ArtifactPaths):
    """Paths of the norm circuit's generated artifacts, with the reusable verifier (``reusable_verifier``)."""

    contract_name: ClassVar[str] = "KzgChunkNormVerifier"
    #: The plain verifier is ~30.8 KB at 4,096 values / 8 columns (over EIP-170): the VKA wrapper around
    #: ezkl's shared reusable verifier instead (module docstring, "On chain").
    reusable: ClassVar[bool] = True

    spec: KzgChunkNormSpec
    directory: Path
    logrows: int
    srs_kind: str


@dataclass(frozen=True)
class KzgChunkProof(DistanceProof):
    """One chunk's proof, its instances ``(flag, b_c, c, n, limbs..)`` and points ``(C(x_c), C(S_c), C(p))``."""

    #: CPU seconds of the proving process (all its threads) for this proof, where measured (prove_chunks):
    #: unlike wall time, not inflated by other jobs on a shared machine.
    cpu_seconds: float = 0.0

    @property
    def flag(self) -> bool:
        """Whether the proof says ``ss_c <= b_c`` (instance 0 non-zero; a verifier requires ``2**26``)."""
        return self.instances[0] != 0

    @property
    def budget(self) -> int:
        """``b_c`` (an integer; a field-negative value would be ``>= 2**36`` and must be rejected)."""
        return self.instances[1]

    @property
    def index(self) -> int:
        return self.instances[2]

    @property
    def count(self) -> int:
        return self.instances[3]

    @property
    def limbs(self) -> tuple[int, ...]:
        return self.instances[4:]


@dataclass(frozen=True)
class KzgPlainNormArtifacts(KzgChunkNormArtifacts):
    """Paths of a norm circuit built with ezkl's plain verifier (``reusable_verifier=False``: a one-chunk model)."""

    contract_name: ClassVar[str] = "KzgNormVerifier"
    reusable: ClassVar[bool] = False


def chunk_sum_of_squares(spec: KzgChunkNormSpec, update_chunk: Sequence[int], prev_chunk: Sequence[int]) -> int:
    """``ss_c = rescale(sum_{j < chunk} (2**13 u_cj - S_cj)**2, 26)``: the circuit's output, bit-exact."""
    return scaled_squared_distance(spec, spec.chunk, update_chunk, prev_chunk)


def expected_chunk_instances(
    spec: KzgChunkNormSpec, budget: int, index: int, count: int, address: str | int
) -> tuple[int, ...]:
    """``(2**26, b_c, c, n, limbs..)``: what a verifier passes for chunk ``c`` of ``n`` of ``address``."""
    return (1 << spec.aggregate_scale_bits, budget, index, count, *address_limbs(address))


def chunk_budgets(sums_of_squares: Sequence[int], bound: int) -> tuple[int, ...]:
    """Per-chunk budgets ``b_c >= ss_c`` with ``sum_c b_c <= bound``: ``ss_c`` rounded up to a multiple of
    ``bound >> BUDGET_GRAIN_BITS`` (at least 1), the rest of ``bound`` added to the last chunk (one chunk:
    ``(bound,)``). Module docstring, "What is published".

    Raises:
        CircuitError: ``sum_c ss_c`` exceeds the bound even before rounding (the update is out of bound),
            or ``bound`` is not in ``1..2**36 - 1``.
    """
    if not 0 < bound < INPUT_RANGE:
        raise CircuitError(f"the bound must be in 1..2^36-1, got {bound}")
    if any(ss < 0 for ss in sums_of_squares) or sum(sums_of_squares) > bound:
        raise CircuitError(f"the chunks' sums of squares add up to {sum(sums_of_squares)} > the bound {bound}")
    grain = max(1, bound >> BUDGET_GRAIN_BITS)
    budgets = [-(-ss // grain) * grain for ss in sums_of_squares]
    if sum(budgets) > bound:  # the grid's rounding does not fit: exact sums, the rest to the last chunk
        budgets = list(sums_of_squares)
    budgets[-1] += bound - sum(budgets)
    return tuple(budgets)


def export_kzg_chunk_norm_onnx(spec: KzgChunkNormSpec, path: Path) -> None:
    """Write the ONNX graph: ``[(diff . diff <= b_c), p]`` with ``diff = x[:CHUNK] - S[:CHUNK]``, ``b_c = p[0]``."""
    import torch

    k = spec.chunk

    class KzgChunkNorm(torch.nn.Module):
        def forward(self, x: torch.Tensor, s: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
            diff = x[:, :k] - s[:, :k]
            dist2 = torch.matmul(diff, diff.transpose(0, 1))  # one dot product: [1, 1]
            return torch.cat([(dist2 <= p[:, 0:1]).float(), p], dim=1)  # [1, 1 + 3 + 5]

    export_distance_onnx(KzgChunkNorm(), spec, 3 + ADDRESS_LIMBS, path)


def circuit_rows(spec: KzgChunkNormSpec, art_dir: Path) -> int:
    """ezkl's row count of the circuit (settings written into ``art_dir`` at logrows 20)."""
    onnx, settings = art_dir / "network.onnx", art_dir / "settings.json"
    ezkl.gen_settings(str(onnx), str(settings), py_run_args=run_args(spec, 20))
    return int(json.loads(settings.read_text())["num_rows"])


def ensure_kzg_chunk_norm_artifacts(
    spec: KzgChunkNormSpec, root: Path, *, ceremony_srs: Path | None = None, progress: Progress = _quiet
) -> KzgChunkNormArtifacts:
    """Build (or reuse from ``root``) every artifact of the norm circuit, with the reusable verifier and the
    ``KzgChunkNormVerifier`` wrapper, or the plain ``KzgNormVerifier`` (see circuits.build_artifacts).
    ``ceremony_srs``: a ceremony SRS of exactly the circuit's logrows; without it a development SRS is generated."""
    return build_artifacts(
        spec,
        root,
        export=lambda path: export_kzg_chunk_norm_onnx(spec, path),
        settle=lambda art_dir: settle(spec, art_dir),
        make=lambda art_dir, logrows, srs_kind: (
            KzgChunkNormArtifacts if spec.reusable_verifier else KzgPlainNormArtifacts
        )(spec, art_dir, logrows, srs_kind),
        revision=KZG_CHUNK_NORM_REVISION,
        ceremony_srs=ceremony_srs,
        progress=progress,
    )


def check_chunk_inputs(
    spec: KzgChunkNormSpec,
    index: int,
    count: int,
    budget: int,
    update_chunk: Sequence[int],
    prev_chunk: Sequence[int],
) -> None:
    """Raise CircuitError unless the chunk can be proven within its budget (lengths, index, range of inputs,
    ``ss_c <= b_c < 2**36``)."""
    if not 0 <= index < count or count >= INPUT_RANGE:
        raise CircuitError(f"chunk index {index} of {count} chunks is invalid")
    if not 0 <= budget < INPUT_RANGE:
        raise CircuitError(f"chunk {index}: the budget must be in 0..2^36-1, got {budget}")
    if len(update_chunk) != spec.rows or len(prev_chunk) != spec.rows:
        raise CircuitError(
            f"the chunk circuit takes {spec.rows} values (chunk + pad), got {len(update_chunk)} and {len(prev_chunk)}"
        )
    check_in_range(scaled_update(spec, update_chunk), prev_chunk, where=f"chunk {index}: ")
    ss = chunk_sum_of_squares(spec, update_chunk, prev_chunk)
    if ss >= INPUT_RANGE:
        raise CircuitError(f"chunk {index}: its sum of squares is >= 2^36 (no proof exists; module docstring)")
    if ss > budget:
        raise CircuitError(f"chunk {index}: its sum of squares {ss} is over its budget {budget}")


def prove_chunk(
    art: KzgChunkNormArtifacts,
    index: int,
    count: int,
    budget: int,
    update_chunk: Sequence[int],
    prev_chunk: Sequence[int],
    address: str | int,
    workdir: Path,
) -> KzgChunkProof:
    """Prove ``ss_c <= budget`` for chunk ``index`` of ``count``: ``update_chunk`` = padded ``u_c`` (scale
    2**13), ``prev_chunk`` = padded ``S_c`` (scale 2**26). Only ``workdir/proof.json`` remains.

    Raises:
        CircuitError: wrong lengths or index, a value outside the range check, ``ss_c`` over the budget or
            ``>= 2**36``, or ezkl failed.
    """
    spec = art.spec
    check_chunk_inputs(spec, index, count, budget, update_chunk, prev_chunk)
    p = [budget, index, count, *address_limbs(address)]
    rows = [scaled_update(spec, update_chunk), [int(s) for s in prev_chunk], p]
    return prove_inputs(art, rows, workdir)


def prove_inputs(art: KzgChunkNormArtifacts, rows: Sequence[Sequence[int]], workdir: Path) -> KzgChunkProof:
    """Witness and prove from raw field elements ``[x_c, S_c, p = (b_c, c, n, limbs..)]`` (no checks: tests use
    it to try attacks)."""
    path, seconds = prove_distance(art, rows, workdir, what="chunk norm proof")
    return read_kzg_chunk_proof(path, seconds)


def read_kzg_chunk_proof(path: Path, prove_seconds: float = 0.0) -> KzgChunkProof:
    """Read a proof file; its first three 64-byte points are the committed inputs ``x_c``, ``S_c``, ``p``."""
    return read_distance_proof(KzgChunkProof, path, prove_seconds)
