"""zkfl_dapp.core.layout: how a model's values are cut into the vectors the consortium commits to."""

from __future__ import annotations

import pytest

from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.exceptions import ModelFileError

MODEL = (11, 12, 13, 14, 15, 16, 17)  # d = 7
PADS = ((101, 102), (201, 202), (301, 302))  # two pad rows for each of the three chunks of 3 rows


def test_a_model_in_chunks_has_ceil_d_over_chunk_vectors_of_chunk_plus_pad_rows() -> None:
    layout = CommitmentLayout(7, 3, 2)
    assert (layout.chunks, layout.chunked, layout.rows, layout.total_rows) == (3, True, 5, 15)


def test_assemble_zero_fills_the_last_chunk_and_puts_each_pad_after_its_chunk() -> None:
    flat = CommitmentLayout(7, 3, 2).assemble(MODEL, PADS)
    assert flat == (11, 12, 13, 101, 102, 14, 15, 16, 201, 202, 17, 0, 0, 301, 302)


def test_vectors_and_model_values_invert_assemble() -> None:
    layout = CommitmentLayout(7, 3, 2)
    flat = layout.assemble(MODEL, PADS)
    assert layout.vectors(flat) == [(11, 12, 13, 101, 102), (14, 15, 16, 201, 202), (17, 0, 0, 301, 302)]
    assert layout.model_values(flat) == MODEL  # pad rows and the zero fill left out
    assert layout.assemble(layout.model_values(flat), [v[3:] for v in layout.vectors(flat)]) == flat


def test_a_chunk_dividing_d_needs_no_zero_fill() -> None:
    layout = CommitmentLayout(6, 3, 1)
    flat = layout.assemble(MODEL[:6], ((-1,), (-2,)))
    assert flat == (11, 12, 13, -1, 14, 15, 16, -2) and layout.model_values(flat) == MODEL[:6]


def test_single_is_the_historical_model_rows_then_pad_rows() -> None:
    layout = CommitmentLayout.single(7, 2)
    assert layout == CommitmentLayout(7, 7, 2)
    assert (layout.chunks, layout.chunked, layout.rows, layout.total_rows) == (1, False, 9, 9)
    flat = layout.assemble(MODEL, ((5, 6),))
    assert flat == (*MODEL, 5, 6) and layout.vectors(flat) == [flat] and layout.model_values(flat) == MODEL


def test_no_pad_rows_is_allowed() -> None:
    layout = CommitmentLayout(7, 4, 0)
    flat = layout.assemble(MODEL, ((), ()))
    assert flat == (*MODEL, 0) and layout.vectors(flat) == [MODEL[:4], (*MODEL[4:], 0)]


@pytest.mark.parametrize(
    ("d", "chunk", "pad_rows"),
    [(0, 1, 2), (-1, 1, 2), (7, 0, 2), (7, 8, 2), (7, -3, 2), (7, 3, -1)],
)
def test_an_invalid_layout_is_refused(d: int, chunk: int, pad_rows: int) -> None:
    with pytest.raises(ModelFileError, match=rf"invalid commitment layout: d = {d}, chunk = {chunk}, pad rows"):
        CommitmentLayout(d, chunk, pad_rows)


@pytest.mark.parametrize("length", [0, 14, 16])
def test_a_flat_vector_of_another_length_is_refused(length: int) -> None:
    layout = CommitmentLayout(7, 3, 2)
    values = tuple(range(length))
    for cut in (layout.vectors, layout.model_values, layout.check_flat):
        with pytest.raises(ModelFileError, match=rf"has {length} values, the layout takes 15 \(3 x \(3 model \+ 2 pad"):
            cut(values)
    layout.check_flat(tuple(range(15)))


def test_assemble_refuses_a_model_of_another_size() -> None:
    layout = CommitmentLayout(7, 3, 2)
    for model in (MODEL[:6], (*MODEL, 18)):
        with pytest.raises(ModelFileError, match=f"the model has 7 values, got {len(model)}"):
            layout.assemble(model, PADS)


@pytest.mark.parametrize(
    "pads",
    [PADS[:2], (*PADS, (401, 402)), ((101,), (201, 202), (301, 302)), ((101, 102), (201, 202), (301, 302, 303))],
)
def test_assemble_refuses_pads_of_another_count_or_length(pads: tuple[tuple[int, ...], ...]) -> None:
    with pytest.raises(ModelFileError, match="need 3 pads of 2 rows"):
        CommitmentLayout(7, 3, 2).assemble(MODEL, pads)
