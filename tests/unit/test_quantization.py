"""Tests of zkfl_dapp.core.fixedpoint: ezkl-exact fixed point, field encodings, the update range.

The reference is independent: ezkl itself (``float_to_felt``) for what the circuits see.
"""

from __future__ import annotations

import math

import ezkl
import numpy as np
import pytest

from zkfl_dapp.core.fixedpoint import (
    AGGREGATE_RANGE,
    FIELD_MODULUS,
    MAX_QUANTIZED,
    dequantize,
    felt_from_hex,
    felt_hex,
    from_field,
    quantize,
    round_half_away,
    to_field,
)
from zkfl_dapp.exceptions import QuantizationError

SCALE = 13
ONE = 2**SCALE
HALF_P = FIELD_MODULUS // 2  # (p - 1) / 2: the largest positive signed value


def ezkl_quantize(x: float, scale_bits: int) -> int:
    """ezkl's own quantization of a float, as a signed integer (its field element decoded by hand)."""
    element = int.from_bytes(bytes.fromhex(ezkl.float_to_felt(x, scale_bits, ezkl.PyInputType.F64)), "little")
    assert 0 <= element < FIELD_MODULUS
    return element if element <= HALF_P else element - FIELD_MODULUS


# --- rounding -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "expected", "python_round"),
    [
        (0.5, 1, 0),
        (1.5, 2, 2),
        (2.5, 3, 2),
        (-0.5, -1, 0),
        (-1.5, -2, -2),
        (-2.5, -3, -2),
        (1234.5, 1235, 1234),
        (-1234.5, -1235, -1234),
    ],
)
def test_exact_halves_round_away_from_zero_unlike_python_round(x: float, expected: int, python_round: int) -> None:
    assert round(x) == python_round  # banker's rounding: the trap this module avoids
    assert round_half_away(x) == expected
    assert ezkl_quantize(x, 0) == expected


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0.49999999999999994, 0),  # the largest double below 0.5; 0.49999999999999994 + 0.5 == 1.0 in floats
        (-0.49999999999999994, 0),
        (0.4999999, 0),
        (-0.5000001, -1),
        (2.4999999999999996, 2),
        (0.0, 0),
        (-0.0, 0),
        (7.0, 7),
        (-7.0, -7),
    ],
)
def test_values_just_off_a_half_round_to_nearest(x: float, expected: int) -> None:
    assert round_half_away(x) == expected
    assert ezkl_quantize(x, 0) == expected


def test_quantize_halves_at_the_circuit_scale() -> None:
    # x * 2^13 is exactly k + 0.5: these are the values where half-to-even and half-away differ.
    xs = [2.5 / ONE, -2.5 / ONE, 0.5 / ONE, -0.5 / ONE, 4097.5 / ONE, -4097.5 / ONE]
    assert quantize(xs, SCALE) == (3, -3, 1, -1, 4098, -4098)
    assert quantize(xs, SCALE) != tuple(round(x * ONE) for x in xs)


def test_quantize_equals_ezkl_float_to_felt_on_a_batch() -> None:
    rng = np.random.default_rng(20240611)
    halves = (rng.integers(-50_000, 50_000, 200) + 0.5) / ONE
    xs = np.concatenate(
        [
            rng.normal(0.0, 1.0, 500),
            rng.uniform(-1000.0, 1000.0, 200),
            halves,
            [0.0, -0.0, 1 / ONE, -1 / ONE, 0.49999999999999994 / ONE, -0.49999999999999994 / ONE],
        ]
    )
    ours = quantize(xs, SCALE)
    for x, q in zip(xs, ours, strict=True):
        # compare field elements, exactly as they enter the circuit
        assert felt_hex(q) == ezkl.float_to_felt(float(x), SCALE, ezkl.PyInputType.F64), x


@pytest.mark.parametrize("scale_bits", [0, 1, 7, 16, 20])
def test_quantize_equals_ezkl_at_other_scales(scale_bits: int) -> None:
    xs = [0.3, -0.3, 1.75, -1.75, 3.141592653589793, -2.718281828459045, 0.5 / 2**scale_bits, -1.5 / 2**scale_bits]
    assert quantize(xs, scale_bits) == tuple(ezkl_quantize(x, scale_bits) for x in xs)


def test_dequantize_inverts_quantize_within_half_a_unit() -> None:
    xs = np.random.default_rng(3).normal(0.0, 5.0, 100)
    back = dequantize(quantize(xs, SCALE), SCALE)
    assert np.max(np.abs(back - xs)) <= 0.5 / ONE


# --- rejection ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_rejected_naming_the_index(bad: float) -> None:
    with pytest.raises(QuantizationError, match=r"index 2 .*must be finite"):
        quantize([0.0, 1.0, bad, 3.0], SCALE)


def test_values_beyond_the_circuit_range_are_rejected_naming_the_limit() -> None:
    limit = MAX_QUANTIZED / ONE  # 1024 at scale 13
    largest_ok = (MAX_QUANTIZED - 1) / ONE
    assert quantize([largest_ok, -largest_ok], SCALE) == (MAX_QUANTIZED - 1, -(MAX_QUANTIZED - 1))
    for too_big in (limit, -limit, (MAX_QUANTIZED - 0.5) / ONE, 1e6):
        with pytest.raises(QuantizationError, match=r"index 1\b.*\|x\| < 1024 at scale 2\^13"):
            quantize([0.0, too_big], SCALE)


@pytest.mark.parametrize("huge", [1e308, -1e308, np.finfo(np.float64).max])
def test_finite_values_that_overflow_when_scaled_raise_quantization_error(huge: float) -> None:
    # huge * 2^13 overflows to inf: still a QuantizationError, not an OverflowError.
    with pytest.raises(QuantizationError, match="index 0"):
        quantize([huge], SCALE)


def test_quantize_rejects_a_matrix() -> None:
    with pytest.raises(QuantizationError, match="flat vector"):
        quantize([[1.0, 2.0]], SCALE)


# --- field elements -----------------------------------------------------------------------------
@pytest.mark.parametrize("v", [0, 1, -1, 12345, -12345, MAX_QUANTIZED - 1, -(MAX_QUANTIZED - 1), HALF_P, -HALF_P])
def test_to_field_from_field_round_trip(v: int) -> None:
    element = to_field(v)
    assert 0 <= element < FIELD_MODULUS
    assert from_field(element) == v


def test_negative_values_wrap_to_p_minus_magnitude() -> None:
    assert to_field(-1) == FIELD_MODULUS - 1
    assert to_field(-5) == FIELD_MODULUS - 5


def test_p_half_boundary() -> None:
    # (p-1)/2 is the largest positive value; the next element, (p+1)/2, is the most negative one.
    assert from_field(HALF_P) == HALF_P
    assert from_field(HALF_P + 1) == HALF_P + 1 - FIELD_MODULUS == -HALF_P
    assert from_field(FIELD_MODULUS - 1) == -1


@pytest.mark.parametrize("element", [-1, FIELD_MODULUS, FIELD_MODULUS + 7])
def test_from_field_rejects_non_elements(element: int) -> None:
    with pytest.raises(QuantizationError, match="not a field element"):
        from_field(element)


@pytest.mark.parametrize("v", [0, 1, -1, 255, 256, -4096, MAX_QUANTIZED - 1, HALF_P, -HALF_P])
def test_felt_hex_round_trip_and_ezkl_encoding(v: int) -> None:
    text = felt_hex(v)
    assert len(text) == 64 and not text.startswith("0x")
    assert bytes.fromhex(text) == to_field(v).to_bytes(32, "little")  # little-endian, as ezkl writes it
    assert felt_from_hex(text) == to_field(v)
    assert felt_from_hex("0x" + text) == to_field(v)
    assert from_field(felt_from_hex(text)) == v


def test_felt_hex_is_what_ezkl_produces() -> None:
    assert felt_hex(3) == ezkl.float_to_felt(3.0, 0, ezkl.PyInputType.F64)
    assert felt_hex(-3) == ezkl.float_to_felt(-3.0, 0, ezkl.PyInputType.F64)
    assert ezkl.felt_to_int(felt_hex(-12345)) == -12345


@pytest.mark.parametrize("text", ["00" * 31, "00" * 33, "", "0x" + "00" * 16])
def test_felt_from_hex_rejects_wrong_length(text: str) -> None:
    with pytest.raises(QuantizationError, match="32 bytes"):
        felt_from_hex(text)


@pytest.mark.parametrize("text", ["zz" * 32, "0" * 63])
def test_felt_from_hex_rejects_non_hex(text: str) -> None:
    with pytest.raises(QuantizationError, match="hex"):
        felt_from_hex(text)


def test_felt_from_hex_rejects_values_not_below_the_modulus() -> None:
    with pytest.raises(QuantizationError, match="not a field element"):
        felt_from_hex(FIELD_MODULUS.to_bytes(32, "little").hex())
    with pytest.raises(QuantizationError, match="not a field element"):
        felt_from_hex("ff" * 32)


# --- the ranges --------------------------------------------------------------------------------
def test_update_range_times_the_scale_is_the_circuits_input_range() -> None:
    """|u| < 2^23 at scale 2^13: the norm and median circuits take 2^13 u and range-check it below 2^36."""
    from zkfl_dapp.circuits.kzg_distance import INPUT_RANGE

    assert MAX_QUANTIZED == 2**23
    assert ONE * MAX_QUANTIZED == AGGREGATE_RANGE == INPUT_RANGE
