"""Bring your own data: a hospital's own records file (CSV or Parquet) read against the consortium's schema.

:func:`read_records` reads ``.csv`` (UTF-8, comma-separated, one header row) or ``.parquet`` files and
checks every cell against a :class:`~zkfl_dapp.ml.schema.RecordSchema`. Any problem is a
:class:`~zkfl_dapp.exceptions.RecordsError` whose message reads
``<file>: row <r>, column '<name>': <problem>``, with the same row and column as attributes.

*Rows* count data rows from 1: row 1 is the first row below the CSV header (spreadsheet row 2) or the
first row of the Parquet table. A blank line in a CSV file is a row (of empty cells) and is refused, so
row ``r`` of a CSV file is line ``r + 1`` unless a quoted cell spans lines.

What is refused, and why:

* a file that is not ``.csv``/``.parquet``, is larger than :data:`MAX_RECORDS_BYTES` or has more than
  :data:`MAX_RECORDS_ROWS` rows, a CSV file that is binary or not UTF-8, a Parquet file that does not parse;
* a missing column (a feature, the outcome, the id column); an **unknown column**, one the schema neither
  uses nor lists under ``ignore_columns``: a misspelt or unexpected header more often means the file is
  not the one the schema describes than a column to drop silently; a header repeated;
* zero data rows;
* in a feature cell: an empty cell or NaN (missing values are not imputed: a consortium whose models must
  be reproducible from published statistics should agree on imputation before the file is made), text
  that is not a plain decimal number (``1,5``, ``1_000``, ``0x10``), ``inf``/``nan`` words or infinite
  values, a value outside float32 or outside the feature's plausible ``[min, max]``;
* an outcome cell that is not one of the declared labels; an empty or repeated patient id.

Labels compare as text after trimming spaces: a Parquet number compares as its decimal text (``1`` and
``1.0`` as ``"1"``), a boolean as ``"true"``/``"false"``.

The values stay raw: a hospital standardises them with the consortium's published statistics
(:func:`load_hospital_dataset`), never with statistics of its own file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.exceptions import ConfigError, RecordsError
from zkfl_dapp.ml.data import Dataset
from zkfl_dapp.ml.record_cells import CellProblems, feature_cells, id_cells, outcome_cells
from zkfl_dapp.ml.records_file import (
    MAX_RECORDS_BYTES,
    MAX_RECORDS_ROWS,
    check_file,
    check_header,
    read_csv,
    read_parquet,
)
from zkfl_dapp.ml.schema import RecordSchema, load_schema
from zkfl_dapp.ml.statistics import PublishedStatistics, SufficientStatistics, check_local_statistics

if TYPE_CHECKING:
    from zkfl_dapp.config import Settings

__all__ = [
    "MAX_RECORDS_BYTES",
    "MAX_RECORDS_ROWS",
    "RecordSchema",
    "Records",
    "load_hospital_dataset",
    "load_records",
    "read_records",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Records:
    """A records file's content, checked and raw.

    Attributes:
        path: The file.
        schema: The schema it was read with.
        x: Raw feature values, float64 ``[n, f]`` in the schema's feature order.
        y: Labels (1 = a positive label), float32 ``[n]``.
        ids: The patient ids (``None`` without an id column).
    """

    path: Path
    schema: RecordSchema
    x: NDArray[np.float64]
    y: NDArray[np.float32]
    ids: tuple[str, ...] | None

    @property
    def num_rows(self) -> int:
        return int(self.x.shape[0])

    def dataset(self) -> Dataset:
        """The raw (unstandardized) features and labels as a :class:`Dataset`."""
        return Dataset(x=self.x.astype(np.float32), y=self.y)

    def sufficient_statistics(self) -> SufficientStatistics:
        """This hospital's contribution to the published statistics (count, sums, sums of squares)."""
        return SufficientStatistics.of(self.x)


def read_records(
    path: Path,
    schema: RecordSchema,
    *,
    max_bytes: int = MAX_RECORDS_BYTES,
    max_rows: int = MAX_RECORDS_ROWS,
) -> Records:
    """Read and check a hospital's records file (see the module docstring for what is refused).

    Args:
        path: A ``.csv`` or ``.parquet`` file.
        schema: The consortium's schema.
        max_bytes: Largest file size accepted.
        max_rows: Most data rows accepted.

    Returns:
        The raw features (schema order), labels and ids.

    Raises:
        RecordsError: Naming the file and, for a bad cell, the row and column (the first bad cell in row
            order, with the number of further bad cells).
    """
    path = Path(path)
    suffix = check_file(path, max_bytes)
    if suffix == ".csv":
        header, table = read_csv(path, max_rows)
    else:
        header, table = read_parquet(path, max_rows, schema)
    position = check_header(path, header, schema)
    if len(table) > max_rows:
        raise RecordsError(f"{path}: more than the {max_rows:,} rows a records file may have", path=str(path))
    if len(table) == 0:
        raise RecordsError(f"{path}: no data rows (only a header)", path=str(path))

    problems = CellProblems(path)
    order = 0
    columns: list[NDArray[np.float64]] = []
    for spec in schema.features:
        columns.append(feature_cells(table[position[spec.name]], spec, order, problems))
        order += 1
    y = outcome_cells(table[position[schema.outcome.column]], schema.outcome, order, problems)
    ids = None
    if schema.id_column is not None:
        ids = id_cells(table[position[schema.id_column]], schema.id_column, order + 1, problems)
    problems.raise_first()
    return Records(path=path, schema=schema, x=np.stack(columns, axis=1), y=y, ids=ids)


def load_records(path: Path, schema: RecordSchema, **limits: int) -> Dataset:
    """:func:`read_records` as a raw (unstandardized) :class:`Dataset`; ``limits``: ``max_bytes``, ``max_rows``."""
    return read_records(path, schema, **limits).dataset()


# --- a hospital's training data -------------------------------------------------------------------


def load_hospital_dataset(
    settings: Settings, statistics: PublishedStatistics | None = None, *, max_shift: float | None = None
) -> Dataset:
    """The training data of a hospital process: its own records file, standardized with the consortium's
    published statistics.

    Reads ``settings.records`` (``ZKFL_RECORDS``) with the schema ``settings.records_schema``
    (``ZKFL_RECORDS_SCHEMA``), checks the rows against the published statistics
    (:func:`~zkfl_dapp.ml.statistics.check_local_statistics`: same schema digest and features; each local
    mean within ``max_shift`` published stds, default ``settings.statistics_max_shift``; warnings are logged)
    and standardizes with them. The statistics are ``statistics`` when given (e.g. fetched through the
    circuit manifest with :func:`zkfl_dapp.protocol.standardization.fetch_statistics`), else the file
    ``settings.statistics`` (``ZKFL_STATISTICS``). Never statistics of the hospital's own file.

    Raises:
        ConfigError: When the records file, the schema or the statistics are not configured.
        RecordsError: On a bad schema or records file.
        StatisticsError: When the records do not fit the published statistics.
    """
    if settings.records is None or settings.records_schema is None:
        raise ConfigError("set ZKFL_RECORDS (a .csv or .parquet file) and ZKFL_RECORDS_SCHEMA (its schema file)")
    if statistics is None:
        if settings.statistics is None:
            raise ConfigError(
                "the consortium's published statistics are needed to standardize: set ZKFL_STATISTICS to the "
                "statistics file, or fetch them through the circuit manifest"
            )
        statistics = PublishedStatistics.load(settings.statistics)
    schema = load_schema(settings.records_schema)
    records = read_records(settings.records, schema)
    check = check_local_statistics(
        statistics, schema, records.x, max_shift=settings.statistics_max_shift if max_shift is None else max_shift
    )
    for warning in check.warnings:
        _log.warning("%s: %s", records.path, warning)
    return Dataset(x=statistics.standardize(records.x).astype(np.float32), y=records.y)
