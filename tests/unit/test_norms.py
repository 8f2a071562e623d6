"""zkfl_dapp.core.norms with a commitment layout: a chunked model's distance is the sum of its chunks'
rescaled sums of squares (what the chunk proofs publish and the contract adds); a one-vector layout is the
historical model-size form."""

from __future__ import annotations

import pytest

from zkfl_dapp.core.aggregation import rescale
from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.core.norms import (
    NORM_CIRCUIT_RANGE,
    chunk_distances,
    provable_distance,
    squared_distance,
    update_norm,
    within_bound,
)
from zkfl_dapp.exceptions import ModelFileError

S = 4  # scale bits: one unit is 16
ONE = 1 << S
CHUNKED = CommitmentLayout(5, 2, 1)  # chunks of 2 model rows and 1 pad row: 3 x 3 = 9 flat values
UPDATE = (1, 2, 99, 3, 4, -98, 5, 0, 97)  # model rows 1..5, pads 99 / -98 / 97, the last chunk's zero fill
PREV = (8, 40, -7, 50, 60, 6, 90, 0, -5)  # S at 2^(2 s); its pad rows must not count either


def _expected_chunks() -> tuple[int, ...]:
    diffs = [ONE * u - g for u, g in zip((1, 2, 3, 4, 5), (8, 40, 50, 60, 90), strict=True)]
    return (
        rescale(diffs[0] ** 2 + diffs[1] ** 2, 2 * S),
        rescale(diffs[2] ** 2 + diffs[3] ** 2, 2 * S),
        rescale(diffs[4] ** 2, 2 * S),
    )


def test_chunk_distances_are_each_chunks_rescaled_sum_over_its_model_rows() -> None:
    assert chunk_distances(UPDATE, PREV, S, CHUNKED) == _expected_chunks()


def test_a_chunked_distance_is_the_sum_of_the_chunks() -> None:
    total = sum(_expected_chunks())
    assert squared_distance(UPDATE, PREV, S, CHUNKED) == total
    assert within_bound(UPDATE, PREV, total, S, CHUNKED) and not within_bound(UPDATE, PREV, total - 1, S, CHUNKED)
    assert update_norm(UPDATE, PREV, S, CHUNKED) == pytest.approx((total / ONE**2) ** 0.5)


def test_pad_rows_never_count() -> None:
    other_pads = list(UPDATE)
    other_pads[2], other_pads[5], other_pads[8] = 0, 12345, -1
    assert squared_distance(tuple(other_pads), PREV, S, CHUNKED) == squared_distance(UPDATE, PREV, S, CHUNKED)


def test_a_one_vector_layout_is_the_model_size_form() -> None:
    single = CommitmentLayout.single(5, 2)
    u, g = (1, 2, 3, 4, 5, 77, -77), (8, 40, 50, 60, 90, 1, 2)
    assert chunk_distances(u, g, S, single) == (squared_distance(u, g, S, 5),)
    assert squared_distance(u, g, S, single) == squared_distance(u, g, S, 5)
    assert provable_distance(u, g, S, single) == provable_distance(u, g, S, 5)


def test_provable_distance_of_a_chunked_update_needs_the_sum_in_the_circuit_range() -> None:
    layout = CommitmentLayout(2, 1, 0)
    # each chunk alone is just inside the range, the sum is not: no set of chunk proofs can be accepted
    half = int((NORM_CIRCUIT_RANGE // 2) ** 0.5)  # half^2 < R / 2
    assert provable_distance((half, 0), (0, 0), 0, layout)
    assert provable_distance((half, half), (0, 0), 0, layout)
    big = int((NORM_CIRCUIT_RANGE - 1) ** 0.5)
    assert all(d < NORM_CIRCUIT_RANGE for d in chunk_distances((big, big), (0, 0), 0, layout))
    assert not provable_distance((big, big), (0, 0), 0, layout)


def test_a_chunked_distance_refuses_vectors_of_another_length() -> None:
    with pytest.raises(ModelFileError, match="the layout takes 9"):
        squared_distance(UPDATE[:-1], PREV[:-1], S, CHUNKED)
