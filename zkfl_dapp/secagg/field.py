"""Exact vectors in the BN254 scalar field and mask expansion from a seed.

Masked inputs live in the field of the KZG commitments (``FIELD_MODULUS``, the group order of BN254): a
masked input then commits homomorphically (``zkfl_dapp.circuits.kzg.combine``) and the unmasked sum is an
exact integer vector as long as its true value is below ``r / 2`` in magnitude (far above any aggregate:
``|n_i u_i| < 2**64 * 2**23``).

A mask is expanded from a 32-byte seed with SHAKE-256 (FIPS 202) and *wide reduction*: 64 output bytes per
element, reduced mod ``r``. The statistical distance of one element from uniform is below ``r / 2**512 <
2**-258``, so a masked value is uniform in the field up to a negligible bias. The domain tag, the purpose
(``model``, ``stats``) and the vector length are absorbed before the seed, so one seed never expands to
related vectors for two purposes or two lengths.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from zkfl_dapp.core.fixedpoint import FIELD_MODULUS
from zkfl_dapp.exceptions import SecAggError

__all__ = ["FIELD_MODULUS", "SEED_SIZE", "add", "decode", "encode", "expand", "neg", "scale", "sub"]

#: Bytes of every mask seed (self-mask seed, pairwise seed).
SEED_SIZE = 32
#: Bytes of SHAKE-256 output reduced to one field element (wide reduction: bias < 2**-258).
WIDE_BYTES = 64
_EXPAND_DOMAIN = b"zkfl-dapp/secagg/expand/v1"
_HALF = FIELD_MODULUS // 2

FieldVector = tuple[int, ...]


def encode(values: Iterable[int]) -> FieldVector:
    """Signed integers as field elements (``v mod r``).

    Raises:
        SecAggError: a value is not an int, or its magnitude is not below ``r / 2`` (it would not decode back).
    """
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, int) or isinstance(v, bool):
            raise SecAggError(f"value {i} must be an int, got {type(v).__name__}")
        if abs(v) > _HALF:
            raise SecAggError(f"value {i} ({v}) does not fit the field's signed range |v| <= (r - 1) / 2")
        out.append(v % FIELD_MODULUS)
    return tuple(out)


def decode(elements: Iterable[int]) -> tuple[int, ...]:
    """Field elements as signed integers (elements above ``(r - 1) / 2`` are negative).

    Raises:
        SecAggError: an element is not in ``[0, r)``.
    """
    out = []
    for i, e in enumerate(elements):
        if not isinstance(e, int) or isinstance(e, bool) or not 0 <= e < FIELD_MODULUS:
            raise SecAggError(f"element {i} is not a field element: {e!r}")
        out.append(e - FIELD_MODULUS if e > _HALF else e)
    return tuple(out)


def _check_lengths(a: Sequence[int], b: Sequence[int]) -> None:
    if len(a) != len(b):
        raise SecAggError(f"field vectors of different lengths: {len(a)} and {len(b)}")


def add(a: Sequence[int], b: Sequence[int]) -> FieldVector:
    """``a + b`` elementwise, mod ``r``."""
    _check_lengths(a, b)
    return tuple((x + y) % FIELD_MODULUS for x, y in zip(a, b, strict=True))


def sub(a: Sequence[int], b: Sequence[int]) -> FieldVector:
    """``a - b`` elementwise, mod ``r``."""
    _check_lengths(a, b)
    return tuple((x - y) % FIELD_MODULUS for x, y in zip(a, b, strict=True))


def neg(a: Sequence[int]) -> FieldVector:
    """``-a`` elementwise, mod ``r``."""
    return tuple((-x) % FIELD_MODULUS for x in a)


def scale(a: Sequence[int], k: int) -> FieldVector:
    """``k * a`` elementwise, mod ``r`` (``k`` any integer)."""
    return tuple((k * x) % FIELD_MODULUS for x in a)


def expand(seed: bytes, purpose: str, length: int) -> FieldVector:
    """``length`` field elements, uniform up to a bias below ``2**-258`` each, from a 32-byte ``seed``.

    Raises:
        SecAggError: a seed of the wrong size, an empty purpose or a non-positive length.
    """
    if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
        raise SecAggError(f"a mask seed is {SEED_SIZE} bytes")
    if not purpose or not isinstance(length, int) or length <= 0:
        raise SecAggError(f"need a purpose and a positive length, got {purpose!r}, {length!r}")
    tag = purpose.encode()
    xof = hashlib.shake_256(
        _EXPAND_DOMAIN + len(tag).to_bytes(2, "big") + tag + length.to_bytes(8, "big") + seed
    ).digest(WIDE_BYTES * length)
    return tuple(
        int.from_bytes(xof[WIDE_BYTES * j : WIDE_BYTES * (j + 1)], "big") % FIELD_MODULUS for j in range(length)
    )
