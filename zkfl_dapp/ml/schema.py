"""The schema of a hospital's own records file (format ``zkfl-schema/v1``).

A consortium agrees on one schema and every hospital points its process at its own CSV or Parquet file
plus that schema (:func:`zkfl_dapp.ml.records.read_records`). The schema names, in the model's order, the
feature columns with their units and an optional plausible range, the outcome column with the labels that
count as positive (1) and negative (0), an optional patient-id column and further columns to ignore::

    {
      "format": "zkfl-schema/v1",
      "features": [{"name": "mean radius", "unit": "image units", "min": 0.0}, ...],
      "outcome": {"column": "diagnosis", "positive": ["benign"], "negative": ["malignant"]},
      "id_column": "patient_id",
      "ignore_columns": []
    }

Labels are compared as text (see :mod:`zkfl_dapp.ml.records`). The schema's :meth:`RecordSchema.digest`
(SHA-256 of its canonical JSON) is what the consortium's published standardisation statistics name, so a
hospital cannot standardise with statistics made for other features, units or ranges. Schema files are
JSON, or YAML (``.yaml``/``.yml``; PyYAML ships with the pinned environment) with the same fields.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from zkfl_dapp.core.formats import strict_json_loads
from zkfl_dapp.exceptions import RecordsError

SCHEMA_FORMAT: Literal["zkfl-schema/v1"] = "zkfl-schema/v1"
#: Largest schema file read (a schema with thousands of features is a few hundred kilobytes).
MAX_SCHEMA_BYTES = 1 << 20
#: Most features a schema may declare.
MAX_SCHEMA_FEATURES = 10_000

ColumnName = Annotated[str, Field(min_length=1, max_length=256)]
Label = Annotated[str, Field(min_length=1, max_length=256)]


class _StrictModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class FeatureSpec(_StrictModel):
    """One feature column.

    Attributes:
        name: The column's header, exactly (surrounding spaces in a CSV header are ignored).
        unit: The unit the values are in (``"1"`` for a dimensionless value); part of the schema digest, so
            hospitals that record another unit get other statistics and are told so.
        min: Smallest plausible value (inclusive), or None.
        max: Largest plausible value (inclusive), or None.
    """

    name: ColumnName
    unit: Annotated[str, Field(min_length=1, max_length=64)]
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _range(self) -> FeatureSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"feature {self.name!r}: min {self.min:g} is above max {self.max:g}")
        return self

    def describe_range(self) -> str:
        """``[0, 200] mm`` style text for error messages."""
        lo = "-inf" if self.min is None else f"{self.min:g}"
        hi = "inf" if self.max is None else f"{self.max:g}"
        return f"[{lo}, {hi}] {self.unit}"


class OutcomeSpec(_StrictModel):
    """The outcome column and its labels: ``positive`` become 1, ``negative`` 0, anything else is refused."""

    column: ColumnName
    positive: Annotated[tuple[Label, ...], Field(min_length=1, max_length=64)]
    negative: Annotated[tuple[Label, ...], Field(min_length=1, max_length=64)]

    @model_validator(mode="after")
    def _disjoint(self) -> OutcomeSpec:
        labels = [*self.positive, *self.negative]
        if len(set(labels)) != len(labels):
            raise ValueError(f"outcome labels must be distinct and not both positive and negative: {labels}")
        return self


class RecordSchema(_StrictModel):
    """What a records file holds; see the module docstring."""

    format: Literal["zkfl-schema/v1"] = SCHEMA_FORMAT
    features: Annotated[tuple[FeatureSpec, ...], Field(min_length=1, max_length=MAX_SCHEMA_FEATURES)]
    outcome: OutcomeSpec
    id_column: ColumnName | None = None
    ignore_columns: tuple[ColumnName, ...] = ()

    @model_validator(mode="after")
    def _distinct_columns(self) -> RecordSchema:
        names = [*self.feature_names, self.outcome.column, *self.ignore_columns]
        if self.id_column is not None:
            names.append(self.id_column)
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"column(s) {repeated} appear more than once in the schema")
        return self

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(f.unit for f in self.features)

    def to_bytes(self) -> bytes:
        """The canonical JSON (sorted keys, no whitespace) the digest is taken over."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()

    def to_pretty_json(self) -> str:
        """The schema as an indented JSON file (same content as :meth:`to_bytes`)."""
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2) + "\n"

    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`to_bytes`: what published statistics name as their schema."""
        return hashlib.sha256(self.to_bytes()).hexdigest()


def parse_schema(data: bytes, *, where: str = "schema", yaml_text: bool = False) -> RecordSchema:
    """Validate a schema file's bytes (JSON, or YAML when ``yaml_text``).

    Raises:
        RecordsError: On malformed JSON/YAML, a duplicate key, a missing format tag or any invalid field.
    """
    if yaml_text:
        obj = _yaml_load(data, where)
        try:
            data = json.dumps(obj, allow_nan=True).encode()
        except (TypeError, ValueError) as exc:
            raise RecordsError(f"{where}: holds a value that is not JSON data ({exc})", path=where) from None
    raw = strict_json_loads(data, what=where, error=RecordsError, parse_constant=_reject_constant(where))
    if not isinstance(raw, dict) or "format" not in raw:
        raise RecordsError(f'{where}: expected an object with "format": "{SCHEMA_FORMAT}"', path=where)
    try:
        return RecordSchema.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "file"
        raise RecordsError(f"{where}: invalid at '{loc}': {first['msg']}", path=where) from None


def load_schema(path: Path) -> RecordSchema:
    """Read a schema file: ``.json``, or ``.yaml``/``.yml``.

    Raises:
        RecordsError: On an unreadable, oversized or malformed file, or another suffix.
    """
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise RecordsError(f"{where}: a schema file must be .json, .yaml or .yml, not {suffix or 'no suffix'!r}")
    try:
        size = path.stat().st_size
        if size > MAX_SCHEMA_BYTES:
            raise RecordsError(f"{where}: {size} bytes, larger than a schema may be ({MAX_SCHEMA_BYTES})", path=where)
        data = path.read_bytes()
    except OSError as exc:
        raise RecordsError(f"cannot read schema file {where}: {exc.strerror or exc}", path=where) from None
    return parse_schema(data, where=where, yaml_text=suffix != ".json")


def _reject_constant(where: str) -> Any:
    def reject(token: str) -> float:
        raise RecordsError(f"{where}: {token} is not a valid value (numbers must be finite)", path=where)

    return reject


def _yaml_load(data: bytes, where: str) -> Any:
    import yaml

    class _UniqueKeyLoader(yaml.SafeLoader):
        """PyYAML's safe loader, refusing a repeated key (it keeps the last one silently otherwise)."""

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = [loader.construct_object(k, deep=deep) for k, _ in node.value]
        for key in keys:
            if keys.count(key) > 1:
                raise RecordsError(f"{where}: holds the duplicate key {key!r}: each key may appear once", path=where)
        return loader.construct_mapping(node, deep=deep)

    _UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    try:
        obj = yaml.load(data.decode("utf-8-sig"), Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RecordsError(f"{where}: not valid YAML: {exc}", path=where) from None
    return obj
