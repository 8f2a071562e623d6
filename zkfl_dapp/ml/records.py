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
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from zkfl_dapp.exceptions import ConfigError, RecordsError, StatisticsError
from zkfl_dapp.ml.data import SUPPORT2_NUMERIC, Dataset, DatasetName, FederatedSplit, feature_names, load_federated
from zkfl_dapp.ml.schema import FeatureSpec, OutcomeSpec, RecordSchema, load_schema
from zkfl_dapp.ml.statistics import (
    PublishedStatistics,
    SufficientStatistics,
    check_local_statistics,
    combine_statistics,
)

if TYPE_CHECKING:
    from zkfl_dapp.config import Settings

__all__ = [
    "MAX_RECORDS_BYTES",
    "MAX_RECORDS_ROWS",
    "RecordSchema",
    "Records",
    "bundled_schema",
    "bundled_statistics",
    "load_hospital_dataset",
    "load_records",
    "read_records",
    "write_hospital_example",
]

#: Largest records file read (512 MiB).
MAX_RECORDS_BYTES: Final = 512 << 20
#: Most data rows read (a CSV file is held as text cells while it is checked: several times its size in memory).
MAX_RECORDS_ROWS: Final = 1_000_000
#: Largest magnitude a feature value may have (it is trained on as float32).
MAX_ABS_VALUE: Final = float(np.finfo(np.float32).max)

#: A plain decimal number: no thousands separators, ``_``, hex, ``inf``/``nan`` or non-ASCII digits
#: (all of which ``float()`` or pandas might accept).
_PLAIN_DECIMAL: Final = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NON_FINITE: Final = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_PLAIN_CHARACTERS: Final = frozenset("0123456789.eE+- \t")
_PARQUET_MAGIC: Final = b"PAR1"
_SUFFIXES: Final = (".csv", ".parquet")
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


# --- errors ---------------------------------------------------------------------------------------


def _cell_error(path: Path, row: int, column: str, problem: str, more: int) -> RecordsError:
    extra = f" ({more} more bad cell{'s' if more > 1 else ''} in the file)" if more else ""
    return RecordsError(
        f"{path}: row {row}, column {column!r}: {problem}{extra}", path=str(path), row=row, column=column
    )


@dataclass
class _Problems:
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


# --- reading the table ----------------------------------------------------------------------------


def _check_file(path: Path, max_bytes: int) -> str:
    """The file's suffix, after checking it exists, fits and has the right kind of content."""
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise RecordsError(
            f"{path}: unsupported file type {suffix or '(no suffix)'!r}: records must be .csv or .parquet",
            path=str(path),
        )
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(8192)
    except OSError as exc:
        raise RecordsError(f"cannot read records file {path}: {exc.strerror or exc}", path=str(path)) from None
    if size > max_bytes:
        raise RecordsError(
            f"{path}: {size:,} bytes, more than the {max_bytes:,} a records file may have", path=str(path)
        )
    if suffix == ".parquet" and not head.startswith(_PARQUET_MAGIC):
        raise RecordsError(
            f"{path}: not a Parquet file (no PAR1 header); a CSV file needs the .csv suffix", path=str(path)
        )
    if suffix == ".csv" and (head.startswith(_PARQUET_MAGIC) or b"\x00" in head):
        raise RecordsError(
            f"{path}: binary content in a .csv file (a Parquet file needs the .parquet suffix)", path=str(path)
        )
    return suffix


def _read_csv(path: Path, max_rows: int) -> tuple[list[str], pd.DataFrame]:
    """Header and data cells (all text; a missing trailing cell is NaN) of a CSV file."""
    try:
        table = pd.read_csv(
            path,
            header=None,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
            nrows=max_rows + 2,
        )
    except pd.errors.EmptyDataError:
        raise RecordsError(f"{path}: empty file (expected a header row and data rows)", path=str(path)) from None
    except UnicodeDecodeError:
        raise RecordsError(f"{path}: not UTF-8 text", path=str(path)) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise RecordsError(f"{path}: not a well-formed CSV file: {exc}".strip(), path=str(path)) from None
    header = ["" if pd.isna(h) else str(h).strip() for h in table.iloc[0]]
    data = table.iloc[1:].reset_index(drop=True)
    data.columns = pd.RangeIndex(len(header))
    return header, data


def _read_parquet(path: Path, max_rows: int, schema: RecordSchema) -> tuple[list[str], pd.DataFrame]:
    """Column names and columns of a Parquet file; the header is checked before any data is read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        header = [str(n) for n in parquet.schema_arrow.names]
        rows = parquet.metadata.num_rows
        if rows > max_rows:
            raise RecordsError(
                f"{path}: {rows:,} rows, more than the {max_rows:,} rows a records file may have", path=str(path)
            )
        _check_header(path, header, schema)
        table = parquet.read()
        frame = pd.DataFrame({i: table.column(i).to_pandas() for i in range(len(header))})
    except (pa.ArrowException, OSError) as exc:
        raise RecordsError(f"{path}: unreadable Parquet file: {exc}", path=str(path)) from None
    return header, frame


def _check_header(path: Path, header: list[str], schema: RecordSchema) -> dict[str, int]:
    """Column name -> position, after refusing repeated, missing and unknown columns."""
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise RecordsError(
            f"{path}: column(s) {repeated} appear more than once in the header", path=str(path), column=repeated[0]
        )
    needed = [*schema.feature_names, schema.outcome.column, *([schema.id_column] if schema.id_column else [])]
    missing = [c for c in needed if c not in header]
    if missing:
        raise RecordsError(
            f"{path}: missing column(s) {', '.join(repr(c) for c in missing)} (the schema's features, outcome "
            f"and id column must all be present; the header has {len(header)} columns)",
            path=str(path),
            column=missing[0],
        )
    known = {*needed, *schema.ignore_columns}
    unknown = [h for h in header if h not in known]
    if unknown:
        raise RecordsError(
            f"{path}: unknown column(s) {', '.join(repr(c) for c in unknown)}: the schema does not name "
            "them; add them to the schema's ignore_columns to drop them",
            path=str(path),
            column=unknown[0],
        )
    return {h: i for i, h in enumerate(header)}


# --- cells ----------------------------------------------------------------------------------------


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


def _feature_column(cells: pd.Series, spec: FeatureSpec, order: int, problems: _Problems) -> NDArray[np.float64]:
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


def _outcome_column(cells: pd.Series, outcome: OutcomeSpec, order: int, problems: _Problems) -> NDArray[np.float32]:
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


def _id_column(cells: pd.Series, column: str, order: int, problems: _Problems) -> tuple[str, ...]:
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
    suffix = _check_file(path, max_bytes)
    if suffix == ".csv":
        header, table = _read_csv(path, max_rows)
    else:
        header, table = _read_parquet(path, max_rows, schema)
    position = _check_header(path, header, schema)
    if len(table) > max_rows:
        raise RecordsError(f"{path}: more than the {max_rows:,} rows a records file may have", path=str(path))
    if len(table) == 0:
        raise RecordsError(f"{path}: no data rows (only a header)", path=str(path))

    problems = _Problems(path)
    order = 0
    columns: list[NDArray[np.float64]] = []
    for spec in schema.features:
        columns.append(_feature_column(table[position[spec.name]], spec, order, problems))
        order += 1
    y = _outcome_column(table[position[schema.outcome.column]], schema.outcome, order, problems)
    ids = None
    if schema.id_column is not None:
        ids = _id_column(table[position[schema.id_column]], schema.id_column, order + 1, problems)
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


# --- the bundled data sets as records -------------------------------------------------------------

#: Units of the Wisconsin breast-cancer features. The measurements come from digitized images of fine-needle
#: aspirates; the source does not state a physical length scale, so lengths are in "image units".
_BREAST_CANCER_UNITS: Final = {
    "radius": "image units",
    "texture": "gray levels",
    "perimeter": "image units",
    "area": "image units^2",
}
#: Units of SUPPORT2's numeric features (Vanderbilt's data dictionary); encoded columns are "1".
_SUPPORT2_UNITS: Final = {
    "age": "years", "num_co": "count", "edu": "years", "scoma": "score", "hday": "days", "sps": "score",
    "meanbp": "mmHg", "wblc": "10^9/L", "hrt": "beats/min", "resp": "breaths/min", "temp": "degC",
    "pafi": "mmHg", "alb": "g/dL", "bili": "mg/dL", "crea": "mg/dL", "sod": "mmol/L", "ph": "1",
    "glucose": "mg/dL", "bun": "mg/dL", "urine": "mL", "adlp": "index", "adls": "index",
}  # fmt: skip


def bundled_schema(dataset: DatasetName = "breast-cancer") -> RecordSchema:
    """The schema of a bundled data set as records: its features (all non-negative except SUPPORT2's
    encoded ones), with units; breast cancer's outcome column ``diagnosis`` (``benign`` = 1, the bundled
    label) and id column ``patient_id``; SUPPORT2's ``death_180d`` (``1``/``0``)."""
    names = feature_names(dataset)
    if dataset == "support2":
        features = tuple(
            FeatureSpec(name=n, unit=_SUPPORT2_UNITS.get(n, "1")) if n in SUPPORT2_NUMERIC else
            FeatureSpec(name=n, unit="1", min=0.0, max=1.0)
            for n in names
        )  # fmt: skip
        return RecordSchema(
            features=features, outcome=OutcomeSpec(column="death_180d", positive=("1",), negative=("0",))
        )
    features = tuple(FeatureSpec(name=n, unit=_BREAST_CANCER_UNITS.get(n.split()[-1], "1"), min=0.0) for n in names)
    return RecordSchema(
        features=features,
        outcome=OutcomeSpec(column="diagnosis", positive=("benign",), negative=("malignant",)),
        id_column="patient_id",
    )


def bundled_statistics(dataset: DatasetName, split: FederatedSplit) -> PublishedStatistics:
    """The published statistics of a bundled data set's split: combined from each hospital's sums (the
    split's ``contributions``) for the data set's :func:`bundled_schema`; what the consortium publishes.

    Raises:
        StatisticsError: When the split carries no contributions (a split built by hand).
    """
    if not split.contributions:
        raise StatisticsError("the split carries no per-hospital contributions to combine")
    return combine_statistics(
        bundled_schema(dataset),
        split.contributions,
        note=f"bundled {dataset} data set: {len(split.contributions)} hospitals' training shards",
    )


def write_hospital_example(directory: Path, *, hospital: int = 0, num_hospitals: int = 5, seed: int = 0) -> None:
    """Write ``examples/hospital-data/``: ``schema.json`` (:func:`bundled_schema`), ``records.csv`` (hospital
    ``hospital``'s raw breast-cancer shard of ``load_federated(num_hospitals, seed=seed)``, with patient ids
    and the labels as text) and ``statistics.json`` (what that consortium publishes, :func:`bundled_statistics`).
    """
    schema = bundled_schema("breast-cancer")
    split = load_federated(num_hospitals, seed=seed, raw=True)
    shard = split.shards[hospital]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "schema.json").write_text(schema.to_pretty_json())
    lines = [",".join([_csv_cell(schema.id_column or "id"), *map(_csv_cell, schema.feature_names), "diagnosis"])]
    for i, (row, label) in enumerate(zip(shard.x.astype(np.float64), shard.y, strict=True)):
        # the float32 shard values, written as the shortest decimal that reads back to the same float32
        cells = [np.format_float_positional(np.float32(v), trim="-") for v in row]
        diagnosis = schema.outcome.positive[0] if label == 1 else schema.outcome.negative[0]
        lines.append(",".join([f"hospital-{hospital}-{i + 1:04d}", *cells, diagnosis]))
    (directory / "records.csv").write_text("\n".join(lines) + "\n")
    (directory / "statistics.json").write_bytes(bundled_statistics("breast-cancer", split).to_bytes() + b"\n")


def _csv_cell(text: str) -> str:
    return f'"{text}"' if ("," in text or '"' in text) else text
