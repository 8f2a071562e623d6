"""A records file as a table: what file is read at all (suffix, size, rows, content kind) and its header.

Checked before any cell is: a file that is not ``.csv``/``.parquet``, too large, binary where text is
expected, or whose header repeats, misses or adds columns is refused here with a one-line
:class:`~zkfl_dapp.exceptions.RecordsError`. The cells are :mod:`.record_cells`'s concern; both serve
:func:`zkfl_dapp.ml.records.read_records`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pandas as pd

from zkfl_dapp.exceptions import RecordsError
from zkfl_dapp.ml.schema import RecordSchema

#: Largest records file read (512 MiB).
MAX_RECORDS_BYTES: Final = 512 << 20
#: Most data rows read (a CSV file is held as text cells while it is checked: several times its size in memory).
MAX_RECORDS_ROWS: Final = 1_000_000


_PARQUET_MAGIC: Final = b"PAR1"
_SUFFIXES: Final = (".csv", ".parquet")


def check_file(path: Path, max_bytes: int) -> str:
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


#: Separators a spreadsheet export uses: a comma, or a semicolon (where the comma is the decimal mark).
_SEPARATORS: Final = (",", ";")


def csv_separator(path: Path) -> str:
    """The separator of a CSV file, from its header line: ``;`` when the header has semicolons and no commas
    (a spreadsheet export in a locale whose decimal mark is the comma), else ``,``. A decimal comma in a cell
    is then refused by the cell checks, naming the cell."""
    with path.open("rb") as f:
        first = f.readline(1 << 20).decode("utf-8-sig", errors="replace")
    return ";" if ";" in first and "," not in first else ","


def count_lines(path: Path, *, stop_after: int) -> int:
    """Lines in a file (newline characters, plus an unterminated last line), counted in 1 MiB blocks and stopping
    once past ``stop_after``: a file over the row limit is refused in a fraction of a second, before any cell is
    parsed. A quoted cell holding line breaks counts extra lines here (records files have none)."""
    lines, last = 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
            if lines > stop_after:
                break
    return lines + (last != b"\n")


def read_csv(path: Path, max_rows: int) -> tuple[list[str], pd.DataFrame]:
    """Header and data cells (all text; a missing trailing cell is NaN) of a CSV file (comma- or
    semicolon-separated: :func:`csv_separator`); a file of more than ``max_rows`` data lines is refused first."""
    if count_lines(path, stop_after=max_rows + 1) > max_rows + 1:
        raise RecordsError(f"{path}: more than the {max_rows:,} rows a records file may have", path=str(path))
    try:
        table = pd.read_csv(
            path,
            sep=csv_separator(path),
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


def read_parquet(path: Path, max_rows: int, schema: RecordSchema) -> tuple[list[str], pd.DataFrame]:
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
        check_header(path, header, schema)
        table = parquet.read()
        frame = pd.DataFrame({i: table.column(i).to_pandas() for i in range(len(header))})
    except (pa.ArrowException, OSError) as exc:
        raise RecordsError(f"{path}: unreadable Parquet file: {exc}", path=str(path)) from None
    return header, frame


def check_header(path: Path, header: list[str], schema: RecordSchema) -> dict[str, int]:
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
