"""The cells of a records file, column by column: plain decimal numbers in range, declared labels, unique ids.

Every column is checked whole (vectorized); :class:`CellProblems` keeps the first bad cell in row order (then
schema column order) and how many there are, so the error names one row and column and counts the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from zkfl_dapp.exceptions import RecordsError
from zkfl_dapp.ml.schema import FeatureSpec, OutcomeSpec

#: Largest magnitude a feature value may have (it is trained on as float32).
MAX_ABS_VALUE: Final = float(np.finfo(np.float32).max)

#: A plain decimal number: no thousands separators, ``_``, hex, ``inf``/``nan`` or non-ASCII digits
#: (all of which ``float()`` or pandas might accept).
_PLAIN_DECIMAL: Final = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NON_FINITE: Final = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_PLAIN_CHARACTERS: Final = frozenset("0123456789.eE+- \t")


def _cell_error(path: Path, row: int, column: str, problem: str, more: int) -> RecordsError:
    extra = f" ({more} more bad cell{'s' if more > 1 else ''} in the file)" if more else ""
    return RecordsError(
        f"{path}: row {row}, column {column!r}: {problem}{extra}", path=str(path), row=row, column=column
    )


@dataclass
class CellProblems:
    """The first bad cell of the file (lowest row, then schema column order) and how many there are."""

    path: Path
    first: tuple[int, int, str, str] | None = None  # (row, column order, column, problem)
    count: int = 0

    def add(self, bad: NDArray[np.bool_], order: int, column: str, describe: Any) -> None:
        """Record the bad cells of one column; ``describe(i)`` explains the cell at 0-based index ``i``."""
        hits = np.flatnonzero(bad)
        if not len(hits):
            return
        self.count += len(hits)
        key = (int(hits[0]) + 1, order)
        if self.first is None or key < self.first[:2]:
            self.first = (*key, column, describe(int(hits[0])))

    def raise_first(self) -> None:
        if self.first is not None:
            row, _, column, problem = self.first
            raise _cell_error(self.path, row, column, problem, self.count - 1)


def _text_cells(cells: pd.Series) -> NDArray[np.object_]:
    """Cells as stripped text ("" for an empty or missing cell); numbers as their decimal text."""
    if pd.api.types.infer_dtype(cells, skipna=True) in ("string", "empty"):  # a CSV column: vectorized
        return cells.fillna("").str.strip().to_numpy(dtype=object)

    def text(value: Any) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return ""
        if isinstance(value, bool | np.bool_):
            return "true" if value else "false"
        if isinstance(value, float | np.floating) and float(value).is_integer():
            return str(int(value))
        return str(value).strip()

    return np.array([text(v) for v in cells.tolist()], dtype=object)


def _is_text(cells: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(cells.dtype)


def _plain_column(cells: pd.Series) -> NDArray[np.float64] | None:
    """A text column's values when every cell is a plain decimal number (spaces around it allowed); None
    otherwise, and the caller classifies each cell. Fast: with only the characters of plain decimals in the
    column, ``float`` accepts exactly the plain decimals (it also takes ``_``, ``inf`` and ``nan``, which
    need other characters) and refuses an empty cell."""
    if pd.api.types.infer_dtype(cells, skipna=False) != "string":
        return None
    raw = cells.to_numpy(dtype=object)
    if not set("".join(raw)) <= _PLAIN_CHARACTERS:
        return None
    try:
        with np.errstate(over="ignore"):
            return raw.astype(np.float64)
    except ValueError:
        return None


def feature_cells(cells: pd.Series, spec: FeatureSpec, order: int, problems: CellProblems) -> NDArray[np.float64]:
    """A feature column's values (NaN where a cell is bad; every bad cell recorded in ``problems``)."""
    n = len(cells)
    if pd.api.types.is_bool_dtype(cells.dtype) or not (
        pd.api.types.is_numeric_dtype(cells.dtype)
        or pd.api.types.is_object_dtype(cells.dtype)
        or pd.api.types.is_string_dtype(cells.dtype)
    ):
        problems.add(np.ones(n, dtype=bool), order, spec.name, lambda i: f"a {cells.dtype} column, not numbers")
        return np.full(n, np.nan)
    if pd.api.types.is_numeric_dtype(cells.dtype):
        values = cells.to_numpy(dtype=np.float64, na_value=np.nan)
        empty = np.isnan(values)
        problems.add(
            empty, order, spec.name, lambda i: "empty cell (missing values are not imputed: fill or drop the row)"
        )
        non_finite = np.isinf(values)
        problems.add(non_finite, order, spec.name, lambda i: f"{values[i]!r} is not a finite number")
    elif (fast := _plain_column(cells)) is not None:
        values = fast  # every cell a plain decimal number (the usual, valid, file)
    else:
        text = _text_cells(cells)
        empty = text == ""
        problems.add(
            empty, order, spec.name, lambda i: "empty cell (missing values are not imputed: fill or drop the row)"
        )
        as_series = pd.Series(text, dtype=object)
        plain = as_series.str.fullmatch(_PLAIN_DECIMAL).to_numpy(dtype=bool)
        words = as_series.str.fullmatch(_NON_FINITE).to_numpy(dtype=bool)
        problems.add(words, order, spec.name, lambda i: f"{text[i]!r} is not a finite number")
        problems.add(
            ~empty & ~plain & ~words,
            order,
            spec.name,
            lambda i: f"{text[i]!r} is not a number (plain decimal numbers only, e.g. 13.82 or 1e-3)",
        )
        values = np.full(n, np.nan)
        with np.errstate(over="ignore"):
            values[plain] = text[plain].astype(np.float64)
    finite = np.isfinite(values)
    # a decimal beyond float64 (1e999) parses to inf: too large as well
    too_large = (finite & (np.abs(values) > MAX_ABS_VALUE)) | (np.isinf(values) & _is_text(cells))
    problems.add(too_large, order, spec.name, lambda i: f"{values[i]:g} is too large (|value| <= {MAX_ABS_VALUE:.3g})")
    in_range = finite & ~too_large
    low = in_range & (values < spec.min) if spec.min is not None else np.zeros(n, dtype=bool)
    high = in_range & (values > spec.max) if spec.max is not None else np.zeros(n, dtype=bool)
    problems.add(
        low | high,
        order,
        spec.name,
        lambda i: f"{values[i]:g} is outside the schema's plausible range {spec.describe_range()}",
    )
    return values


def outcome_cells(cells: pd.Series, outcome: OutcomeSpec, order: int, problems: CellProblems) -> NDArray[np.float32]:
    text = _text_cells(cells)
    positive = np.isin(text, list(outcome.positive))
    negative = np.isin(text, list(outcome.negative))
    problems.add(
        ~positive & ~negative,
        order,
        outcome.column,
        lambda i: (
            f"{text[i]!r} is not one of the declared outcome labels (positive {list(outcome.positive)}, "
            f"negative {list(outcome.negative)})"
        ),
    )
    return positive.astype(np.float32)


def id_cells(cells: pd.Series, column: str, order: int, problems: CellProblems) -> tuple[str, ...]:
    text = _text_cells(cells)
    problems.add(text == "", order, column, lambda i: "empty patient id")
    first_seen: dict[str, int] = {}
    repeated = np.zeros(len(text), dtype=bool)
    for i, t in enumerate(text):
        if t and first_seen.setdefault(t, i) != i:
            repeated[i] = True
    problems.add(
        repeated, order, column, lambda i: f"patient id {text[i]!r} repeats row {first_seen[str(text[i])] + 1}"
    )
    return tuple(str(t) for t in text)
