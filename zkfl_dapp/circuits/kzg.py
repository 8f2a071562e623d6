"""Homomorphic KZG commitments to model vectors (ezkl polycommit), checked on-chain without a proof.

ezkl's ``input_visibility="polycommit"`` puts each circuit input into its own *unblinded* advice column
and starts the proof with the KZG commitment of that column in the Lagrange basis: for a column of
``2**k`` rows holding ``v`` in its first ``n = 2**k - (blinding + 1)`` rows,

    C(v) = sum_j v_j * L_j  +  K,        K = sum_{j >= n} L_j = C(0)

because ezkl fills the last ``blinding + 1`` rows of every such column with 1 (``Blind::default()``;
see ezkl ``src/circuit/modules/polycommit.rs``). ``C`` is therefore *affine*, not linear, and for
integer weights ``w_i`` (field scalars)

    sum_i w_i * C(v_i) - (sum_i w_i - 1) * K  =  C(sum_i w_i * v_i).

With weights that sum to ``2**13`` and updates ``u_i`` at scale ``2**13``, the contract computes the
commitment of the FedAvg aggregate ``S = sum w_i u_i`` (scale ``2**26``) from the hospitals' own
commitments with two precompiles (``contracts/libraries/Bn254.sol``): :func:`combine` is exactly that
computation, in Python. No aggregation proof is needed for FedAvg.

A commitment only agrees with a proof's committed input when both use the same *basis*: the same SRS
(cut to exactly ``k``: ezkl commits with the SRS file's size), the same ``k`` and the same number of
blinding rows. :class:`KzgBasis` pins those and has a digest for manifests.

**Hiding.** An unblinded commitment of a low-entropy vector can be confirmed by guessing. A hospital
therefore appends random entries in spare rows of its vector (:func:`hiding_pad`). The padding is
harmless: it lives in rows the model does not use, so the aggregate's spare rows hold
``sum w_i * pad_i`` (which nobody reads), the norm circuit slices the model rows only, and each entry is
small enough that the padded rows stay inside the circuit's input range check, scaled and aggregated.
Zero padding leaves a commitment unchanged (zeros add nothing to the sum above).

Coordinates are BN254 base-field integers. Points travel as 64 bytes ``x || y`` (32-byte big-endian
each), the layout of ezkl proofs and of the EVM's ``ecAdd``/``ecMul`` precompiles.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ezkl
from py_ecc.optimized_bn128 import FQ, add, curve_order, field_modulus, multiply, neg, normalize

from zkfl_dapp.core.fixedpoint import FIELD_MODULUS, felt_hex
from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.exceptions import ZkflError

#: BN254 base field prime: every point coordinate is below it.
BASE_FIELD_MODULUS: int = field_modulus
#: Bytes of one serialized point (``x || y``, big-endian).
POINT_BYTES = 64
#: Minimum randomness (bits) that :func:`hiding_pad` puts into a vector. A generic discrete-log attack
#: on bounded exponents (kangaroo / baby-step giant-step) costs about the square root of the search
#: space, so 128 bits give ~64-bit security against confirming a guess; use more (the norm circuit's
#: default of 10 spare rows at 22 bits holds 220 bits, ~110-bit security).
MIN_PAD_BITS = 128

assert curve_order == FIELD_MODULUS, "py_ecc's BN254 group order must be the proof system's scalar field"


class KzgError(ZkflError):
    """A point, basis or commitment is invalid, or inputs to a combination are inconsistent."""


@dataclass(frozen=True)
class G1Point:
    """An affine BN254 G1 point other than infinity, with canonical coordinates (checked on creation)."""

    x: int
    y: int

    def __post_init__(self) -> None:
        for name, c in (("x", self.x), ("y", self.y)):
            if not isinstance(c, int) or isinstance(c, bool):
                raise KzgError(f"G1 coordinate {name} must be an int, got {type(c).__name__}")
            if not 0 <= c < BASE_FIELD_MODULUS:
                raise KzgError(f"G1 coordinate {name}={c:#x} is not below the BN254 base field prime")
        if self.x == 0 and self.y == 0:
            raise KzgError("(0, 0) encodes the point at infinity, which is never a valid commitment")
        if (self.y * self.y - self.x**3 - 3) % BASE_FIELD_MODULUS != 0:
            raise KzgError(f"({self.x:#x}, {self.y:#x}) is not on BN254 (y^2 != x^3 + 3)")

    @classmethod
    def from_bytes(cls, raw: bytes) -> G1Point:
        """Parse 64 bytes ``x || y`` (big-endian), as in ezkl proofs and the EVM precompiles."""
        if len(raw) != POINT_BYTES:
            raise KzgError(f"a G1 point is {POINT_BYTES} bytes (x || y), got {len(raw)}")
        return cls(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))

    def to_bytes(self) -> bytes:
        return self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    def as_uint256(self) -> tuple[int, int]:
        """``(x, y)``: the ``uint256[2]`` a contract takes."""
        return (self.x, self.y)

    @classmethod
    def _from_ezkl(cls, point: Any) -> G1Point:
        # ezkl's PyG1Affine carries x and y as little-endian hex strings.
        return cls(int.from_bytes(bytes.fromhex(point.x), "little"), int.from_bytes(bytes.fromhex(point.y), "little"))

    def _jacobian(self) -> tuple[FQ, FQ, FQ]:
        return (FQ(self.x), FQ(self.y), FQ(1))

    @classmethod
    def _from_jacobian(cls, point: tuple[FQ, FQ, FQ]) -> G1Point:
        if point[2] == FQ(0):
            raise KzgError("the combination is the point at infinity: no vector commits to it")
        x, y = normalize(point)
        return cls(int(x), int(y))


def proof_points(proof: bytes, count: int) -> tuple[G1Point, ...]:
    """The first ``count`` committed-input points of an ezkl proof over ``polycommit`` inputs: 64 bytes each
    (``x || y``, big-endian), in input order.

    Raises:
        KzgError: the proof is too short, or a point is not a finite BN254 point.
    """
    if len(proof) < POINT_BYTES * count:
        raise KzgError(f"a proof of {len(proof)} bytes cannot hold {count} committed points")
    return tuple(G1Point.from_bytes(proof[POINT_BYTES * i : POINT_BYTES * (i + 1)]) for i in range(count))


def _srs_logrows(srs: Path) -> int:
    """The ``k`` written at the start of a halo2 KZG parameter file (u32, little-endian)."""
    with srs.open("rb") as f:
        head = f.read(4)
    if len(head) != 4:
        raise KzgError(f"{srs} is not a KZG SRS file")
    return int.from_bytes(head, "little")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class KzgBasis:
    """The pinned basis every commitment of a vector must share with the circuits that take it.

    ``unusable_rows`` is the circuit's blinding-factor count plus one: the rows ezkl fills with 1.
    Build one with :meth:`load`, which checks the SRS's size and reads the row count from ezkl itself.
    """

    logrows: int
    unusable_rows: int
    srs: Path
    vk: Path
    settings: Path

    @property
    def usable_rows(self) -> int:
        """Values one commitment point holds (``2**k - unusable_rows``)."""
        return 2**self.logrows - self.unusable_rows

    @classmethod
    def load(cls, srs: Path, vk: Path, settings: Path) -> KzgBasis:
        """The basis of a circuit (its vk and settings) over an SRS of exactly its logrows.

        Raises:
            KzgError: a file is missing, or the SRS's size differs from the circuit's logrows.
        """
        for path in (srs, vk, settings):
            if not path.is_file():
                raise KzgError(f"basis file {path} does not exist")
        logrows = int(json.loads(settings.read_text())["run_args"]["logrows"])
        srs_k = _srs_logrows(srs)
        if srs_k != logrows:
            raise KzgError(
                f"the SRS {srs} has k={srs_k} but the circuit has logrows {logrows}: ezkl commits with the "
                f"SRS file's size, so cut the SRS to exactly {logrows} rows before committing"
            )
        return cls(logrows, _probe_unusable_rows(srs, vk, settings, logrows), srs, vk, settings)

    def digest_rows(self) -> tuple[int, int, str]:
        """What makes two circuits' commitments agree: logrows, unusable rows and the SRS file's sha256
        (the vk and settings differ between circuits of one basis)."""
        return (self.logrows, self.unusable_rows, _sha256(self.srs))

    def digest(self) -> str:
        """sha256 over the row layout and the SRS, vk and settings files (for manifests)."""
        pinned = {
            "logrows": self.logrows,
            "unusable_rows": self.unusable_rows,
            "srs": _sha256(self.srs),
            "vk": _sha256(self.vk),
            "settings": _sha256(self.settings),
        }
        return hashlib.sha256(json.dumps(pinned, sort_keys=True).encode()).hexdigest()


def _raw_commit(felts: list[str], srs: Path, vk: Path, settings: Path) -> list[G1Point]:
    try:
        points = ezkl.kzg_commit(felts, str(vk), str(settings), str(srs))
    except (RuntimeError, OSError) as exc:
        raise KzgError(f"ezkl.kzg_commit failed: {exc}") from exc
    return [G1Point._from_ezkl(p) for p in points]


def _probe_unusable_rows(srs: Path, vk: Path, settings: Path, logrows: int) -> int:
    """ezkl reads the blinding count from the vk's constraint system and does not expose it; it shows in
    how many points ``kzg_commit`` returns (``len // n + 1``): the smallest length giving two points is n."""
    zero = felt_hex(0)
    lo, hi = 2**logrows - 256, 2**logrows  # n lies in (lo, hi]: halo2 never blinds more than a few rows
    if len(_raw_commit([zero] * lo, srs, vk, settings)) != 1:
        raise KzgError(f"unexpected ezkl commitment layout: {lo} values already span two points")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if len(_raw_commit([zero] * mid, srs, vk, settings)) == 1:
            lo = mid
        else:
            hi = mid
    return 2**logrows - hi


def commit(values: Sequence[int], basis: KzgBasis) -> list[G1Point]:
    """Commit to signed integers: ``ceil(len / basis.usable_rows)`` points, one per circuit column.

    Raises:
        KzgError: empty vector, or ezkl failed.
    """
    if not values:
        raise KzgError("cannot commit to an empty vector")
    points = _raw_commit([felt_hex(int(v)) for v in values], basis.srs, basis.vk, basis.settings)
    n = basis.usable_rows
    expected = -(-len(values) // n)
    # ezkl returns len // n + 1 points: for an exact multiple of n the last one commits to no values (K).
    if len(points) not in (expected, expected + 1) or (len(points) == expected + 1 and len(values) % n != 0):
        raise KzgError(f"ezkl returned {len(points)} points for {len(values)} values at {n} rows per point")
    return points[:expected]


def commit_vectors(values: Sequence[int], layout: CommitmentLayout, basis: KzgBasis) -> tuple[G1Point, ...]:
    """The commitment of a flat ``layout`` vector: one point per committed vector (chunk), in chunk order.

    Raises:
        KzgError: a vector is longer than one column, or ezkl failed.
        ModelFileError: ``values`` does not have the layout's length.
    """
    if layout.rows > basis.usable_rows:
        raise KzgError(f"a committed vector of {layout.rows} rows does not fit one column of {basis.usable_rows}")
    return tuple(commit(vector, basis)[0] for vector in layout.vectors(values))


def zero_commitment(basis: KzgBasis) -> G1Point:
    """``K = C(0)``: the commitment of the all-zero column (its ones in the blinding rows)."""
    return commit([0], basis)[0]


def combine(commitments: Sequence[G1Point], weights: Sequence[int], k: G1Point) -> G1Point:
    """``sum_i w_i * C_i - (sum_i w_i - 1) * K``: the commitment of ``sum_i w_i * v_i`` when ``C_i = C(v_i)``.

    Exactly what ``Bn254.affineCombination`` computes on-chain (same checks, same result).

    Raises:
        KzgError: lengths differ, no commitment, a weight is not a non-negative int below the scalar field,
        the weights sum to zero, or the result is the point at infinity.
    """
    if len(commitments) != len(weights):
        raise KzgError(f"{len(commitments)} commitments but {len(weights)} weights")
    if not commitments:
        raise KzgError("nothing to combine")
    for i, w in enumerate(weights):
        if not isinstance(w, int) or isinstance(w, bool) or not 0 <= w < FIELD_MODULUS:
            raise KzgError(f"weight {i} must be an int in [0, r), got {w!r}")
    total = sum(weights)
    if total == 0:
        raise KzgError("the weights sum to zero: the affine combination needs sum(w) >= 1")
    acc = multiply(k._jacobian(), total - 1)
    acc = neg(acc)
    for c, w in zip(commitments, weights, strict=True):
        acc = add(acc, multiply(c._jacobian(), w))
    return G1Point._from_jacobian(acc)


def hiding_pad(
    values: Sequence[int], n_spare_rows: int, rng: random.Random, *, entry_bits: int = 22
) -> tuple[int, ...]:
    """``values`` followed by ``n_spare_rows`` random entries in ``[0, 2**entry_bits)``.

    Use ``secrets.SystemRandom()`` as ``rng`` for real submissions (a seeded ``random.Random`` only in
    tests). ``entry_bits`` must keep the padded rows inside the circuit's input range *after* scaling and
    aggregation (see ``zkfl_dapp.circuits.kzg_distance.PAD_ENTRY_BITS``); the norm circuit never reads these rows.

    Raises:
        KzgError: fewer than :data:`MIN_PAD_BITS` bits of randomness in total.
    """
    if entry_bits < 1 or n_spare_rows < 0:
        raise KzgError(f"need entry_bits >= 1 and n_spare_rows >= 0, got {entry_bits}, {n_spare_rows}")
    if n_spare_rows * entry_bits < MIN_PAD_BITS:
        raise KzgError(
            f"{n_spare_rows} spare rows of {entry_bits} bits hold {n_spare_rows * entry_bits} bits of randomness; "
            f"hiding needs at least {MIN_PAD_BITS} (use at least {-(-MIN_PAD_BITS // entry_bits)} spare rows)"
        )
    return (*(int(v) for v in values), *(rng.getrandbits(entry_bits) for _ in range(n_spare_rows)))


def lagrange_points(basis: KzgBasis, rows: int, *, cache_dir: Path | None = None) -> list[G1Point]:
    """``L_j = C(e_j) - K`` for ``j < rows``: with them anyone computes ``C(v) = K + sum_j v_j L_j`` (one
    multi-scalar multiplication, e.g. in a browser) without ezkl or the SRS. Cached as JSON in ``cache_dir``
    (keyed by the basis digest and ``rows``).

    Raises:
        KzgError: ``rows`` exceeds one column, or ezkl failed.
    """
    if not 0 < rows <= basis.usable_rows:
        raise KzgError(f"{rows} rows do not fit one committed column of {basis.usable_rows}")
    cache = cache_dir / f"lagrange-{basis.digest()[:16]}-{rows}.json" if cache_dir is not None else None
    if cache is not None and cache.is_file():
        return [G1Point(int(x, 16), int(y, 16)) for x, y in json.loads(cache.read_text())]
    k = zero_commitment(basis)
    minus_k = neg(k._jacobian())
    points = []
    for j in range(rows):
        (c,) = commit([0] * j + [1], basis)
        points.append(G1Point._from_jacobian(add(c._jacobian(), minus_k)))
    if cache is not None:
        cache.write_text(json.dumps([[hex(p.x), hex(p.y)] for p in points]))
    return points
