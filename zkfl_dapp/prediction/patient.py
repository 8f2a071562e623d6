"""Patient files: CSV (a header row of the 30 breast-cancer feature names as in scikit-learn's
``load_breast_cancer().feature_names``, then exactly one data row) or JSON
(``{"features": {name: value, ...}}``). Every problem is a :class:`PatientRecordError` naming the field.
The raw clinical values are standardized with the consortium's published statistics
(:class:`~zkfl_dapp.ml.data.FeatureStatistics`, e.g. ``FeatureStatistics.from_published``), as the models were trained.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.circuits.kzg_inference import MAX_FEATURE_ABS
from zkfl_dapp.core.formats import strict_json_loads
from zkfl_dapp.exceptions import PatientRecordError
from zkfl_dapp.ml.data import FeatureStatistics

#: Largest accepted patient file (a record is a few kilobytes).
MAX_RECORD_BYTES = 1 << 20

#: Largest raw clinical value accepted (the breast-cancer features are all below 5,000); the standardized
#: values must also stay within the inference circuit's range (:data:`MAX_FEATURE_ABS` standard deviations).
MAX_RAW_VALUE = 1e9

#: A plain decimal number, as a string cell may hold it: no ``_`` separators, hex, ``inf``/``nan`` or
#: non-ASCII digits (all of which Python's ``float`` accepts).
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class PatientRecord:
    """One patient's raw (unstandardized) feature values, in the consortium's feature order."""

    feature_names: tuple[str, ...]
    values: tuple[float, ...]

    def standardized(self, stats: FeatureStatistics) -> NDArray[np.float64]:
        """The features on the training scale of the consortium's models."""
        if stats.feature_names != self.feature_names:
            raise PatientRecordError("the record's features are not the consortium's features")
        standardized = stats.standardize(np.asarray(self.values, dtype=np.float64))
        for name, value, x in zip(self.feature_names, self.values, standardized, strict=True):
            if not abs(x) <= MAX_FEATURE_ABS:
                raise PatientRecordError(
                    f"field {name!r} = {value:g} is {x:.3g} standard deviations from the training mean: outside "
                    f"the range the inference circuit can represent (at most {MAX_FEATURE_ABS:g}); check the record"
                )
        return standardized

    def to_json(self) -> str:
        return json.dumps({"features": dict(zip(self.feature_names, self.values, strict=True))}, indent=2)

    # --- parsing ----------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, fields: Mapping[str, Any], feature_names: Sequence[str], *, where: str) -> PatientRecord:
        """Validate ``{name: value}``: every feature present, no unknown name, every value a finite number."""
        names = tuple(feature_names)
        missing = [n for n in names if n not in fields]
        unknown = sorted(str(k) for k in fields if k not in names)
        problems = []
        if missing:
            problems.append(f"missing field(s) {', '.join(repr(n) for n in missing)}")
        if unknown:
            problems.append(f"unknown field(s) {', '.join(repr(n) for n in unknown)}")
        if problems:
            raise PatientRecordError(f"{where}: {'; '.join(problems)} (expected the {len(names)} features {names})")
        values = []
        for name in names:
            raw = fields[name]
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise PatientRecordError(f"{where}: field {name!r} must be a number, got {raw!r}")
            try:
                value = float(raw.strip()) if isinstance(raw, str) else float(raw)
            except (ValueError, OverflowError):
                raise PatientRecordError(f"{where}: field {name!r} is not numeric: {raw!r}") from None
            if not math.isfinite(value):
                raise PatientRecordError(f"{where}: field {name!r} is {raw!r}: values must be finite numbers")
            if isinstance(raw, str) and not _PLAIN_DECIMAL.fullmatch(raw.strip()):
                raise PatientRecordError(
                    f"{where}: field {name!r} is not numeric: {raw!r} (only plain decimal numbers, e.g. 13.82 or 1e-3)"
                )
            if abs(value) > MAX_RAW_VALUE:
                raise PatientRecordError(
                    f"{where}: field {name!r} is {raw!r}: outside the range the inference circuit can represent "
                    f"(|value| <= {MAX_RAW_VALUE:g})"
                )
            values.append(value)
        return cls(names, tuple(values))

    @classmethod
    def parse_json(cls, text: str, feature_names: Sequence[str], *, where: str = "patient file") -> PatientRecord:
        def reject_constant(token: str) -> float:
            raise PatientRecordError(f"{where}: {token} is not a valid value (values must be finite numbers)")

        data = strict_json_loads(text, what=where, error=PatientRecordError, parse_constant=reject_constant)
        if not isinstance(data, dict) or set(data) != {"features"} or not isinstance(data["features"], dict):
            raise PatientRecordError(f'{where}: expected a JSON object {{"features": {{name: value, ...}}}}')
        return cls.from_mapping(data["features"], feature_names, where=where)

    @classmethod
    def parse_csv(cls, text: str, feature_names: Sequence[str], *, where: str = "patient file") -> PatientRecord:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
        if len(rows) < 2:
            raise PatientRecordError(f"{where}: a CSV record needs a header row of feature names and one data row")
        if len(rows) > 2:
            raise PatientRecordError(
                f"{where}: a CSV record holds exactly one patient, found {len(rows) - 1} data rows"
            )
        header, row = [h.strip() for h in rows[0]], rows[1]
        if len(set(header)) != len(header):
            duplicates = sorted({h for h in header if header.count(h) > 1})
            raise PatientRecordError(f"{where}: duplicate column(s) {duplicates}")
        if len(row) != len(header):
            raise PatientRecordError(f"{where}: the header has {len(header)} columns, the data row {len(row)}")
        return cls.from_mapping(dict(zip(header, row, strict=True)), feature_names, where=where)

    @classmethod
    def load(cls, path: Path, feature_names: Sequence[str]) -> PatientRecord:
        """Read a ``.csv`` or ``.json`` patient file (by extension; otherwise by its first character)."""
        where = f"patient file {path}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PatientRecordError(f"cannot read {where}: {exc.strerror or exc}") from None
        if len(data) > MAX_RECORD_BYTES:
            raise PatientRecordError(f"{where} is larger than {MAX_RECORD_BYTES} bytes")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PatientRecordError(f"{where} is not UTF-8 text") from None
        if not text.strip():
            raise PatientRecordError(f"{where} is empty")
        suffix = path.suffix.lower()
        if suffix == ".json" or (suffix != ".csv" and text.lstrip().startswith("{")):
            return cls.parse_json(text, feature_names, where=where)
        return cls.parse_csv(text, feature_names, where=where)
