"""Bring your own data: schema files and records files (CSV, Parquet), every refusal naming file, row and column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import ConfigError, RecordsError, StatisticsError
from zkfl_dapp.ml.bundled_records import bundled_schema, bundled_statistics, write_hospital_example
from zkfl_dapp.ml.data import load_federated
from zkfl_dapp.ml.records import load_hospital_dataset, load_records, read_records
from zkfl_dapp.ml.schema import FeatureSpec, OutcomeSpec, RecordSchema, load_schema, parse_schema
from zkfl_dapp.ml.statistics import PublishedStatistics

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hospital-data"

SCHEMA = RecordSchema(
    features=(
        FeatureSpec(name="age", unit="years", min=0.0, max=120.0),
        FeatureSpec(name="sbp", unit="mmHg", min=40.0, max=300.0),
    ),
    outcome=OutcomeSpec(column="died", positive=("yes",), negative=("no",)),
    id_column="pid",
    ignore_columns=("note",),
)
GOOD = "pid,age,sbp,died\nA1,54,130,no\nA2,61.5,1.42e2,yes\nA3, 70 ,99,no\n"


def csv_file(tmp_path: Path, text: str, name: str = "records.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def parquet_file(tmp_path: Path, frame: pd.DataFrame, name: str = "records.parquet") -> Path:
    path = tmp_path / name
    frame.to_parquet(path, index=False)
    return path


GOOD_FRAME = pd.DataFrame(
    {"pid": ["A1", "A2", "A3"], "age": [54.0, 61.5, 70.0], "sbp": [130, 142, 99], "died": ["no", "yes", "no"]}
)


# --- reading good files ----------------------------------------------------------------------------


def test_a_csv_file_reads_in_schema_order_with_labels_and_ids(tmp_path):
    records = read_records(csv_file(tmp_path, GOOD), SCHEMA)
    np.testing.assert_array_equal(records.x, [[54, 130], [61.5, 142], [70, 99]])
    np.testing.assert_array_equal(records.y, [0, 1, 0])
    assert records.ids == ("A1", "A2", "A3") and records.num_rows == 3


def test_columns_may_come_in_any_order_and_ignored_columns_are_dropped(tmp_path):
    text = "note,died,sbp,pid,age\nfree text,no,130,A1,54\n,yes,142,A2,61.5\n"
    records = read_records(csv_file(tmp_path, text), SCHEMA)
    np.testing.assert_array_equal(records.x, [[54, 130], [61.5, 142]])
    np.testing.assert_array_equal(records.y, [0, 1])


def test_a_parquet_file_reads_like_the_csv_file(tmp_path):
    from_parquet = read_records(parquet_file(tmp_path, GOOD_FRAME), SCHEMA)
    from_csv = read_records(csv_file(tmp_path, GOOD), SCHEMA)
    np.testing.assert_array_equal(from_parquet.x, from_csv.x)
    np.testing.assert_array_equal(from_parquet.y, from_csv.y)
    assert from_parquet.ids == from_csv.ids


def test_parquet_numbers_and_booleans_compare_as_their_text_with_the_labels(tmp_path):
    schema = SCHEMA.model_copy(
        update={"outcome": OutcomeSpec(column="died", positive=("1",), negative=("0",)), "id_column": None}
    )
    frame = pd.DataFrame({"age": [54.0, 60.0], "sbp": [130.0, 120.0], "died": [1, 0]})
    np.testing.assert_array_equal(read_records(parquet_file(tmp_path, frame), schema).y, [1, 0])
    schema = schema.model_copy(update={"outcome": OutcomeSpec(column="died", positive=("true",), negative=("false",))})
    frame["died"] = [True, False]
    np.testing.assert_array_equal(read_records(parquet_file(tmp_path, frame, "b.parquet"), schema).y, [1, 0])


def test_load_records_is_the_raw_dataset(tmp_path):
    dataset = load_records(csv_file(tmp_path, GOOD), SCHEMA)
    assert dataset.x.dtype == np.float32 and dataset.num_samples == 3 and dataset.num_features == 2


# --- every refusal names file, row and column ---------------------------------------------------------

CELL_CASES = {
    "non-numeric": ("pid,age,sbp,died\nA1,54,130,no\nA2,old,142,yes\n", 2, "age", "'old' is not a number"),
    "decimal comma": ('pid,age,sbp,died\nA1,54,"1,5",no\n', 1, "sbp", "'1,5' is not a number"),
    "underscore": ("pid,age,sbp,died\nA1,54,1_30,no\n", 1, "sbp", "'1_30' is not a number"),
    "empty cell": ("pid,age,sbp,died\nA1,54,130,no\nA2,,142,yes\n", 2, "age", "empty cell"),
    "missing trailing cell": ("pid,age,sbp,died\nA1,54,130\n", 1, "died", "not one of the declared outcome labels"),
    "blank line": ("pid,age,sbp,died\nA1,54,130,no\n\nA2,61,142,yes\n", 2, "age", "empty cell"),
    "nan word": ("pid,age,sbp,died\nA1,NaN,130,no\n", 1, "age", "'NaN' is not a finite number"),
    "inf word": ("pid,age,sbp,died\nA1,54,-inf,no\n", 1, "sbp", "'-inf' is not a finite number"),
    "below min": ("pid,age,sbp,died\nA1,54,130,no\nA2,54,39.9,no\n", 2, "sbp", "outside the schema's plausible range"),
    "above max": ("pid,age,sbp,died\nA1,121,130,no\n", 1, "age", "[0, 120] years"),
    "too large for float32": ("pid,age,sbp,died\nA1,1e39,130,no\n", 1, "age", "too large"),
    "too large for float64": ("pid,age,sbp,died\nA1,54,130,no\nA2,1e999,130,no\n", 2, "age", "inf is too large"),
    "undeclared label": ("pid,age,sbp,died\nA1,54,130,no\nA2,54,130,maybe\n", 2, "died", "'maybe' is not one of"),
    "empty label": ("pid,age,sbp,died\nA1,54,130,\n", 1, "died", "'' is not one of the declared outcome labels"),
    "label case": ("pid,age,sbp,died\nA1,54,130,Yes\n", 1, "died", "'Yes' is not one of"),
    "empty id": ("pid,age,sbp,died\n,54,130,no\n", 1, "pid", "empty patient id"),
    "repeated id": ("pid,age,sbp,died\nA1,54,130,no\nA2,54,130,no\nA1,60,120,yes\n", 3, "pid", "repeats row 1"),
}


@pytest.mark.parametrize("case", sorted(CELL_CASES))
def test_a_bad_csv_cell_is_named_by_file_row_and_column(tmp_path, case):
    text, row, column, fragment = CELL_CASES[case]
    path = csv_file(tmp_path, text)
    with pytest.raises(RecordsError) as info:
        read_records(path, SCHEMA)
    assert (info.value.path, info.value.row, info.value.column) == (str(path), row, column)
    assert str(info.value).startswith(f"{path}: row {row}, column {column!r}: ")
    assert fragment in str(info.value)


def test_the_first_bad_cell_in_row_order_is_reported_with_the_count_of_the_others(tmp_path):
    text = "pid,age,sbp,died\nA1,54,130,no\nA2,54,x,no\nA3,y,130,no\nA4,54,130,perhaps\n"
    with pytest.raises(RecordsError, match=r"row 2, column 'sbp': 'x' .* \(2 more bad cells in the file\)") as info:
        read_records(csv_file(tmp_path, text), SCHEMA)
    assert info.value.row == 2


def test_within_one_row_the_schema_column_order_decides(tmp_path):
    with pytest.raises(RecordsError) as info:
        read_records(csv_file(tmp_path, "pid,sbp,age,died\nA1,x,y,no\n"), SCHEMA)
    assert (info.value.row, info.value.column) == (1, "age")  # age is the schema's first feature


PARQUET_CASES = {
    "null in a number column": ({"age": [54.0, None]}, 2, "age", "empty cell"),
    "infinity": ({"sbp": [130.0, float("inf")]}, 2, "sbp", "inf is not a finite number"),
    "text that is not a number": ({"age": ["54", "old"]}, 2, "age", "'old' is not a number"),
    "boolean feature": ({"age": [True, False]}, 1, "age", "a bool column, not numbers"),
    "out of range": ({"age": [54.0, 130.0]}, 2, "age", "outside the schema's plausible range"),
    "undeclared label": ({"died": ["no", "dead"]}, 2, "died", "'dead' is not one of"),
}


@pytest.mark.parametrize("case", sorted(PARQUET_CASES))
def test_a_bad_parquet_cell_is_named_by_file_row_and_column(tmp_path, case):
    change, row, column, fragment = PARQUET_CASES[case]
    frame = pd.DataFrame(
        {"pid": ["A1", "A2"], "age": [54.0, 61.0], "sbp": [130.0, 142.0], "died": ["no", "yes"]} | change
    )
    path = parquet_file(tmp_path, frame)
    with pytest.raises(RecordsError) as info:
        read_records(path, SCHEMA)
    assert (info.value.row, info.value.column) == (row, column)
    assert fragment in str(info.value) and str(path) in str(info.value)


HEADER_CASES = {
    "missing feature": ("pid,age,died\nA1,54,no\n", "sbp", "missing column(s) 'sbp'"),
    "missing outcome": ("pid,age,sbp\nA1,54,130\n", "died", "missing column(s) 'died'"),
    "missing id": ("age,sbp,died\n54,130,no\n", "pid", "missing column(s) 'pid'"),
    "unknown column": ("pid,age,sbp,died,weight\nA1,54,130,no,80\n", "weight", "unknown column(s) 'weight'"),
    "repeated column": ("pid,age,age,sbp,died\nA1,54,54,130,no\n", "age", "appear more than once"),
}


@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_a_bad_header_is_named_by_file_and_column(tmp_path, case):
    text, column, fragment = HEADER_CASES[case]
    path = csv_file(tmp_path, text)
    with pytest.raises(RecordsError) as info:
        read_records(path, SCHEMA)
    assert info.value.column == column and info.value.row is None
    assert fragment in str(info.value) and str(info.value).startswith(str(path))


def test_an_unknown_parquet_column_is_refused_too(tmp_path):
    with pytest.raises(RecordsError, match="unknown column\\(s\\) 'weight'"):
        read_records(parquet_file(tmp_path, GOOD_FRAME.assign(weight=[80, 81, 82])), SCHEMA)


def test_an_unknown_column_may_be_ignored_by_the_schema(tmp_path):
    schema = SCHEMA.model_copy(update={"ignore_columns": ("note", "weight")})
    assert read_records(csv_file(tmp_path, "pid,age,sbp,died,weight\nA1,54,130,no,80\n"), schema).num_rows == 1


FILE_CASES = {
    "no data rows": ("records.csv", b"pid,age,sbp,died\n", "no data rows"),
    "empty file": ("records.csv", b"", "empty file"),
    "spreadsheet": ("records.xlsx", b"PK\x03\x04", "unsupported file type '.xlsx'"),
    "no suffix": ("records", b"pid,age", "unsupported file type '(no suffix)'"),
    "binary csv": ("records.csv", b"pid\x00age\n", "binary content"),
    "parquet named csv": ("records.csv", b"PAR1\x00\x00", "binary content"),
    "csv named parquet": ("records.parquet", b"pid,age,sbp,died\n", "not a Parquet file"),
    "corrupt parquet": ("records.parquet", b"PAR1" + b"\x17" * 64 + b"PAR1", "unreadable Parquet file"),
    "not utf-8": ("records.csv", "pid,age,sbp,died\nA1,54,130,né\n".encode("latin-1"), "not UTF-8"),
    "ragged row": ("records.csv", b"pid,age,sbp,died\nA1,54,130,no,extra\n", "not a well-formed CSV"),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_a_bad_file_is_named(tmp_path, case):
    name, data, fragment = FILE_CASES[case]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(RecordsError, match=None) as info:
        read_records(path, SCHEMA)
    assert fragment in str(info.value) and str(path) in str(info.value)
    assert info.value.path == str(path)


def test_a_missing_file_is_a_records_error(tmp_path):
    with pytest.raises(RecordsError, match="cannot read records file"):
        read_records(tmp_path / "absent.csv", SCHEMA)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    path = csv_file(tmp_path, GOOD)
    size = path.stat().st_size
    assert read_records(path, SCHEMA, max_bytes=size).num_rows == 3
    with pytest.raises(RecordsError, match=f"{size:,} bytes, more than the {size - 1:,}"):
        read_records(path, SCHEMA, max_bytes=size - 1)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_file_over_the_row_limit_is_refused(tmp_path, kind):
    path = csv_file(tmp_path, GOOD) if kind == "csv" else parquet_file(tmp_path, GOOD_FRAME)
    assert read_records(path, SCHEMA, max_rows=3).num_rows == 3
    # a Parquet file's row count is read from its footer, before any data
    with pytest.raises(RecordsError, match="3 rows, more than the 2 rows" if kind == "parquet" else "more than the 2"):
        read_records(path, SCHEMA, max_rows=2)


# --- schema files --------------------------------------------------------------------------------


def test_the_schema_round_trips_and_its_digest_is_stable(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(SCHEMA.to_pretty_json())
    assert load_schema(path) == SCHEMA and load_schema(path).digest() == SCHEMA.digest()
    assert SCHEMA.model_copy(update={"features": SCHEMA.features[:1]}).digest() != SCHEMA.digest()
    other_unit = FeatureSpec(name="sbp", unit="kPa", min=40.0, max=300.0)
    assert SCHEMA.model_copy(update={"features": (SCHEMA.features[0], other_unit)}).digest() != SCHEMA.digest()


def test_a_yaml_schema_is_the_same_schema(tmp_path):
    import yaml

    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(json.loads(SCHEMA.to_pretty_json())))
    assert load_schema(path).digest() == SCHEMA.digest()


SCHEMA_CASES = {
    "no format tag": ({"format": None}, 'expected an object with "format"'),
    "other format": ({"format": "zkfl-schema/v0"}, "invalid at 'format'"),
    "unknown field": ({"units": "mm"}, "invalid at 'units'"),
    "no features": ({"features": []}, "invalid at 'features'"),
    "min above max": ({"features": [{"name": "a", "unit": "1", "min": 2.0, "max": 1.0}]}, "min 2 is above max 1"),
    "empty unit": ({"features": [{"name": "a", "unit": ""}]}, "invalid at 'features.0.unit'"),
    "label both ways": (
        {"outcome": {"column": "y", "positive": ["1"], "negative": ["1"]}},
        "labels must be distinct",
    ),
    "numeric label": ({"outcome": {"column": "y", "positive": [1], "negative": ["0"]}}, "outcome.positive.0"),
    "feature is the outcome": ({"features": [{"name": "died", "unit": "1"}]}, "appear more than once"),
}


@pytest.mark.parametrize("case", sorted(SCHEMA_CASES))
def test_a_bad_schema_is_refused_with_its_place(case):
    change, fragment = SCHEMA_CASES[case]
    raw = json.loads(SCHEMA.to_pretty_json()) | change
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(RecordsError, match=None) as info:
        parse_schema(json.dumps(raw).encode(), where="s.json")
    assert fragment in str(info.value) and str(info.value).startswith("s.json")


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("s.json", '{"format": "zkfl-schema/v1", "format": "zkfl-schema/v1"}', "duplicate key 'format'"),
        ("s.yaml", "format: zkfl-schema/v1\nformat: zkfl-schema/v1\n", "duplicate key 'format'"),
        ("s.json", '{"format": "zkfl-schema/v1", "features": [{"name": "a", "unit": "1", "min": NaN}]}', "NaN"),
        ("s.yaml", "format: zkfl-schema/v1\nfeatures: [{name: a, unit: '1', min: .nan}]\n", "NaN"),
        ("s.yaml", "format: [unclosed\n", "not valid YAML"),
        ("s.txt", "{}", "must be .json, .yaml or .yml"),
    ],
)
def test_schema_files_are_parsed_strictly(tmp_path, name, text, fragment):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(RecordsError, match=None) as info:
        load_schema(path)
    assert fragment in str(info.value)


def test_an_oversized_schema_file_is_refused(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(" " * (1 << 20) + "{}")
    with pytest.raises(RecordsError, match="larger than a schema may be"):
        load_schema(path)


# --- the example and a hospital's training data -------------------------------------------------------


def test_the_checked_in_example_is_what_the_generator_writes(tmp_path):
    write_hospital_example(tmp_path)
    for name in ("schema.json", "records.csv", "statistics.json"):
        assert (tmp_path / name).read_bytes() == (EXAMPLE / name).read_bytes(), name
    assert load_schema(EXAMPLE / "schema.json") == bundled_schema("breast-cancer")
    assert sum(p.stat().st_size for p in EXAMPLE.iterdir()) < 100_000


def test_the_example_as_parquet_reads_to_the_same_records(tmp_path):
    schema = load_schema(EXAMPLE / "schema.json")
    frame = pd.read_csv(EXAMPLE / "records.csv", dtype={"patient_id": str})
    from_csv = read_records(EXAMPLE / "records.csv", schema)
    from_parquet = read_records(parquet_file(tmp_path, frame, "hospital-0.parquet"), schema)
    np.testing.assert_array_equal(from_parquet.x, from_csv.x)
    np.testing.assert_array_equal(from_parquet.y, from_csv.y)
    assert from_parquet.ids == from_csv.ids and from_csv.num_rows == 91


def example_settings(**changes: object) -> Settings:
    fields: dict[str, object] = {
        "records": EXAMPLE / "records.csv",
        "records_schema": EXAMPLE / "schema.json",
        "statistics": EXAMPLE / "statistics.json",
    }
    return Settings(**(fields | changes))  # type: ignore[arg-type]


def test_a_hospital_trains_on_its_file_standardized_with_the_published_statistics():
    """Hospital 0 of the bundled 5-hospital consortium, from its records file alone, gets exactly the shard
    that the simulation standardizes with the same (published, combined) statistics."""
    dataset = load_hospital_dataset(example_settings())
    shard = load_federated(5, seed=0).shards[0]
    np.testing.assert_allclose(dataset.x, shard.x, atol=1e-6)
    np.testing.assert_array_equal(dataset.y, shard.y)
    published = PublishedStatistics.load(EXAMPLE / "statistics.json")
    assert published == bundled_statistics("breast-cancer", load_federated(5, seed=0))
    assert load_hospital_dataset(example_settings(statistics=None), published).num_samples == 91


@pytest.mark.parametrize("unset", ["records", "records_schema", "statistics"])
def test_a_hospital_without_its_file_schema_or_statistics_is_told_what_to_set(unset):
    with pytest.raises(ConfigError, match="ZKFL_"):
        load_hospital_dataset(example_settings(**{unset: None}))


def test_a_hospital_whose_column_is_in_another_unit_is_refused(tmp_path):
    frame = pd.read_csv(EXAMPLE / "records.csv", dtype={"patient_id": str})
    frame["mean radius"] = frame["mean radius"] / 10  # e.g. cm where the schema says mm
    path = tmp_path / "records.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(StatisticsError, match="feature 'mean radius'"):
        load_hospital_dataset(example_settings(records=path))
    assert load_hospital_dataset(example_settings(records=path), max_shift=100.0).num_samples == 91


def test_a_semicolon_separated_export_is_read(tmp_path):
    """A spreadsheet in a comma-decimal locale exports with ';' between cells: read it as such."""
    path = csv_file(tmp_path, GOOD)
    semi = tmp_path / "semicolons.csv"
    semi.write_text(path.read_text().replace(",", ";"))
    assert read_records(semi, SCHEMA).num_rows == read_records(path, SCHEMA).num_rows == 3
    assert np.array_equal(read_records(semi, SCHEMA).x, read_records(path, SCHEMA).x)


def test_a_decimal_comma_in_a_semicolon_export_is_named_by_its_cell(tmp_path):
    semi = csv_file(tmp_path, "pid;age;sbp;died\nA1;54;130;no\nA2;61,5;142;yes\n", "decimal-comma.csv")
    with pytest.raises(RecordsError, match=r"row 2, column 'age'"):
        read_records(semi, SCHEMA)


def test_a_csv_far_over_the_row_limit_is_refused_before_pandas_reads_it(tmp_path, monkeypatch):
    """The line count comes first: pandas never parses a file that is over the limit (a 2-million-row file took
    65 s and 1 GB to refuse when the limit was checked after parsing)."""
    import zkfl_dapp.ml.records_file as records_file

    path = tmp_path / "big.csv"
    good = csv_file(tmp_path, GOOD).read_text().splitlines()
    path.write_text(good[0] + "\n" + "\n".join([good[1]] * 5000) + "\n")

    def never(*_args, **_kwargs):
        raise AssertionError("pandas was asked to parse a file over the row limit")

    monkeypatch.setattr(records_file.pd, "read_csv", never)
    with pytest.raises(RecordsError, match="more than the 1,000 rows"):
        read_records(path, SCHEMA, max_rows=1000)
