"""Fixed-point quantization and BN254 field encodings.

Every model vector that enters a circuit is quantized at the circuit's pinned scale: an integer
``q = round_half_away_from_zero(x * 2**scale_bits)`` (ezkl's own rounding; Python's ``round`` rounds
half to even and would give different commitments). Negative integers live in the field as ``p - |q|``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from zkfl_dapp.exceptions import QuantizationError

#: BN254 scalar field modulus: the field every Halo2 (KZG) instance lives in.
FIELD_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617


#: Largest magnitude accepted for a quantized update value: the norm and median circuits take ``2**13 * u``
#: and range-check every input below ``2**36`` (AGGREGATE_RANGE), so ``|u| < 2**23``; at scale 13 this
#: bounds parameters to ``|x| < 1024``.
MAX_QUANTIZED = 2**23
#: Every value of an aggregate (scale ``2**26``) and of a scaled update lies below this in magnitude: the
#: range check of the circuits over committed vectors (``kzg_distance.INPUT_RANGE``). A convex combination of
#: updates below ``2**23`` at weights summing to ``2**13`` stays below it.
AGGREGATE_RANGE = 2**36


def round_half_away(x: float) -> int:
    """Round to the nearest integer, halves away from zero (ezkl's rounding, Rust's ``f64::round``)."""
    # Not floor(|x| + 0.5): that sum itself rounds (0.49999999999999994 + 0.5 == 1.0). |x| - floor(|x|)
    # is exact, so comparing the fraction with 0.5 is too.
    magnitude = abs(x)
    q = math.floor(magnitude)
    if magnitude - q >= 0.5:
        q += 1
    return q if x >= 0 else -q


def quantize(values: Iterable[float], scale_bits: int) -> tuple[int, ...]:
    """Quantize real values at ``2**scale_bits``.

    Raises:
        QuantizationError: a value is NaN or infinite, or too large for the circuit.
    """
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.ndim != 1:
        raise QuantizationError(f"expected a flat vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise QuantizationError(f"value at index {bad} is {arr[bad]}: model parameters must be finite")
    scale = float(2**scale_bits)
    out = []
    for i, v in enumerate(arr):
        scaled = float(v) * scale  # may overflow to inf for huge finite values: check before rounding
        q = round_half_away(scaled) if abs(scaled) < 2 * MAX_QUANTIZED else MAX_QUANTIZED
        if abs(q) >= MAX_QUANTIZED:
            raise QuantizationError(
                f"value at index {i} is {float(v):g}, outside the circuit's range (|x| < {MAX_QUANTIZED / scale:g} "
                f"at scale 2^{scale_bits}); lower the learning rate or the scale"
            )
        out.append(q)
    return tuple(out)


def dequantize(values: Sequence[int], scale_bits: int) -> np.ndarray:
    """Real values of quantized integers."""
    return np.asarray(values, dtype=np.float64) / float(2**scale_bits)


def to_field(value: int) -> int:
    """The field element of a signed integer (negative values wrap to ``p - |v|``)."""
    return value % FIELD_MODULUS


def from_field(element: int) -> int:
    """The signed integer of a field element (elements above p/2 are negative)."""
    if not 0 <= element < FIELD_MODULUS:
        raise QuantizationError(f"{element} is not a field element")
    return element - FIELD_MODULUS if element > FIELD_MODULUS // 2 else element


def felt_hex(value: int) -> str:
    """ezkl's encoding of a field element: 32 bytes little-endian, hex, no prefix."""
    return to_field(value).to_bytes(32, "little").hex()


def felt_from_hex(text: str) -> int:
    """Inverse of :func:`felt_hex` (accepts an optional 0x prefix)."""
    try:
        raw = bytes.fromhex(text[2:] if text.startswith("0x") else text)
    except (ValueError, AttributeError) as exc:
        raise QuantizationError(f"field element must be 64 hex digits, got {text!r}") from exc
    if len(raw) != 32:
        raise QuantizationError(f"field element must be 32 bytes, got {len(raw)}")
    element = int.from_bytes(raw, "little")
    if element >= FIELD_MODULUS:
        raise QuantizationError(f"{text} encodes {element}, not a field element (not below the BN254 modulus)")
    return element

