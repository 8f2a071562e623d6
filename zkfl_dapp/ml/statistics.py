"""The consortium's published standardisation statistics (format ``zkfl-stats/v1``), and how they are made
and checked.

Every hospital standardises each feature as ``(x - mean) / std`` with the *same* mean and std, the ones the
consortium publishes, so that one global model fits all of them. They are not computed from pooled patient
rows (no party ever holds those). Two ways are recorded in :attr:`PublishedStatistics.method`:

``"combined-sufficient-statistics"``
    Each hospital computes, over its own rows, the count ``n_i`` and per feature the sum ``Σx`` and the sum
    of squares ``Σx²`` (:class:`SufficientStatistics`), and hands only these to the consortium;
    :func:`combine_statistics` adds them up: ``mean = ΣΣx / Σn``, ``std = sqrt(ΣΣx² / Σn - mean²)`` (the
    population std, as :func:`numpy.std` with ``ddof=0``).

    *Privacy trade-off, honestly*: the three sums of one hospital are equivalent to its row count and its
    local per-feature mean and variance. They reveal no individual row, but they do reveal that hospital's
    case mix per feature (a hospital with few patients reveals more about each one; a single-row hospital
    would reveal that row, so :func:`combine_statistics` wants at least 2 rows per contribution). The row
    count is already public on chain (the FedAvg sample count). Sums are additive, so they could be
    aggregated without anyone seeing one hospital's (encrypted to the enclave, or masked pairwise); this
    code does not do that yet: the coordinator that combines them sees each hospital's sums.

    Numerics: the sums are float64; ``Σx²/n - mean²`` loses relative precision ~1e-16 x ``mean²/var``
    (negligible for clinical features, whose means are within a few orders of magnitude of their spread).
    A feature whose variance is below 1e-12 of its mean square (what rounding leaves of a constant) gets
    std 0, and a feature with std 0 is only centred, as in :func:`zkfl_dapp.ml.data.standardize`.

``"reference-data"``
    The consortium computed them from a reference data set it may use as a whole
    (:func:`reference_statistics`; :attr:`PublishedStatistics.note` says which).

The file names the digest of the :class:`~zkfl_dapp.ml.schema.RecordSchema` it was made for, and each
feature's name, unit, mean and std. It is published to the content store and its CID and SHA-256 go into
the circuit manifest whose CID RoundManager holds (``circuitCid``), see
:mod:`zkfl_dapp.protocol.standardization`.

A hospital checks its own data against the file before training (:func:`check_local_statistics`): same
schema digest, same feature names and units, and each local feature mean within :data:`MAX_MEAN_SHIFT`
published standard deviations of the published mean, else a :class:`~zkfl_dapp.exceptions.StatisticsError`
(a shift that large is almost always a unit or column mistake: mm for cm is 10x, mg/dL for mmol/L 18x;
legitimate case-mix differences between hospitals move a local mean by well under that: at most 1.1 std in
the bundled breast-cancer Dirichlet(0.5) label-skewed 5-hospital splits over 10 seeds, 1.6 at alpha = 0.1,
``tests/unit/test_statistics.py``); beyond :data:`WARN_MEAN_SHIFT` the check returns a warning, which the
hospital process logs. The limit is a setting (``ZKFL_STATISTICS_MAX_SHIFT``) for a consortium whose
hospitals serve truly different populations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from zkfl_dapp.core.formats import strict_json_loads
from zkfl_dapp.exceptions import StatisticsError
from zkfl_dapp.ml.schema import RecordSchema

STATS_FORMAT: Literal["zkfl-stats/v1"] = "zkfl-stats/v1"
#: A local feature mean more than this many published stds from the published mean is refused.
MAX_MEAN_SHIFT = 3.0
#: A local feature mean more than this many published stds from the published mean is reported as a warning.
WARN_MEAN_SHIFT = 1.5
#: Relative variance below which a feature counts as constant (std 0): rounding of ``Σx²/n - mean²``.
CONSTANT_RELATIVE_VARIANCE = 1e-12
#: Largest statistics file read.
MAX_STATS_BYTES = 4 << 20

Method = Literal["combined-sufficient-statistics", "reference-data"]


@dataclass(frozen=True)
class SufficientStatistics:
    """What one hospital reveals for the standardisation statistics: its row count and, per feature, the sum
    and the sum of squares of its raw values (float64)."""

    count: int
    total: NDArray[np.float64]
    total_sq: NDArray[np.float64]

    def __post_init__(self) -> None:
        total = np.asarray(self.total, dtype=np.float64)
        total_sq = np.asarray(self.total_sq, dtype=np.float64)
        if total.ndim != 1 or total.shape != total_sq.shape:
            raise StatisticsError(f"sums must be two vectors of one length, got {total.shape} and {total_sq.shape}")
        if self.count < 0 or not (np.all(np.isfinite(total)) and np.all(np.isfinite(total_sq))):
            raise StatisticsError("sufficient statistics need a non-negative count and finite sums")
        if np.any(total_sq < 0):
            raise StatisticsError("a sum of squares is negative")
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "total_sq", total_sq)

    @classmethod
    def of(cls, x: NDArray[np.floating[Any]]) -> SufficientStatistics:
        """The sums over the raw feature rows ``x [n, f]`` (computed in float64)."""
        values = np.asarray(x, dtype=np.float64)
        if values.ndim != 2:
            raise StatisticsError(f"features must be a 2-D array [n, f], got shape {values.shape}")
        return cls(int(values.shape[0]), values.sum(axis=0), np.square(values).sum(axis=0))

    @property
    def num_features(self) -> int:
        return int(self.total.shape[0])


def combined_mean_std(parts: Sequence[SufficientStatistics]) -> tuple[int, NDArray[np.float64], NDArray[np.float64]]:
    """``(n, mean, std)`` of the union of the hospitals' rows, from their sums alone (see the module docstring).

    Raises:
        StatisticsError: With no contribution, mismatched feature counts, or fewer than 2 rows in all.
    """
    if not parts:
        raise StatisticsError("no hospital contributed statistics")
    widths = {p.num_features for p in parts}
    if len(widths) != 1:
        raise StatisticsError(f"contributions have different feature counts {sorted(widths)}")
    n = sum(p.count for p in parts)
    if n < 2:
        raise StatisticsError(f"{n} rows in all: standardisation statistics need at least 2")
    mean = sum((p.total for p in parts), np.zeros(widths.pop())) / n
    mean_sq = sum((p.total_sq for p in parts), np.zeros_like(mean)) / n
    var = mean_sq - np.square(mean)
    var = np.where(var > CONSTANT_RELATIVE_VARIANCE * mean_sq, var, 0.0)
    return n, mean, np.sqrt(var)


class _StrictModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class PublishedFeature(_StrictModel):
    """One feature's published statistics (raw units)."""

    name: Annotated[str, Field(min_length=1, max_length=256)]
    unit: Annotated[str, Field(min_length=1, max_length=64)]
    mean: float
    std: Annotated[float, Field(ge=0)]


class PublishedStatistics(_StrictModel):
    """The consortium's standardisation statistics; see the module docstring.

    Attributes:
        schema_digest: :meth:`RecordSchema.digest` of the schema the statistics were made for.
        method: How they were obtained.
        count: Number of rows they summarise.
        contributions: Number of hospitals whose sums were combined (``None`` for reference data).
        note: Free-text provenance (which data, which round of collection).
        features: Per feature, in the schema's order: name, unit, mean, std (0 = constant: only centred).
    """

    format: Literal["zkfl-stats/v1"] = STATS_FORMAT
    schema_digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    method: Method
    count: Annotated[int, Field(ge=2)]
    contributions: Annotated[int, Field(ge=1)] | None = None
    note: Annotated[str, Field(max_length=1000)] = ""
    features: Annotated[tuple[PublishedFeature, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> PublishedStatistics:
        names = self.feature_names
        if len(set(names)) != len(names):
            raise ValueError("feature names repeat")
        if (self.method == "combined-sufficient-statistics") != (self.contributions is not None):
            raise ValueError("contributions is set exactly when the method is combined-sufficient-statistics")
        return self

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def units(self) -> tuple[str, ...]:
        return tuple(f.unit for f in self.features)

    @property
    def mean(self) -> NDArray[np.float64]:
        return np.array([f.mean for f in self.features], dtype=np.float64)

    @property
    def std(self) -> NDArray[np.float64]:
        """The published stds (0 for a constant feature)."""
        return np.array([f.std for f in self.features], dtype=np.float64)

    @property
    def divisor(self) -> NDArray[np.float64]:
        """What values are divided by: the std, or 1.0 for a constant feature (only centred)."""
        std = self.std
        return np.where(std > 0, std, 1.0)

    def standardize(self, raw: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """Raw feature values ``[..., f]`` on the scale the consortium's models are trained on."""
        values = np.asarray(raw, dtype=np.float64)
        if values.shape[-1:] != (len(self.features),):
            raise StatisticsError(f"expected {len(self.features)} features, got shape {values.shape}")
        return (values - self.mean) / self.divisor

    def to_bytes(self) -> bytes:
        """Canonical JSON (sorted keys, no whitespace): the same statistics always have the same CID."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, data: bytes, *, where: str = "statistics file") -> PublishedStatistics:
        """Strictly parse a statistics file (format tag required, no duplicate key, finite numbers).

        Raises:
            StatisticsError: On anything malformed, naming the place.
        """

        return parse_tagged(cls, data, where=where, fmt=STATS_FORMAT)

    @classmethod
    def load(cls, path: Path) -> PublishedStatistics:
        """Read a statistics file from disk (see :meth:`parse`)."""
        return cls.parse(read_bounded(path, MAX_STATS_BYTES, "statistics file"), where=str(path))


def _features(
    schema: RecordSchema, mean: NDArray[np.float64], std: NDArray[np.float64]
) -> tuple[PublishedFeature, ...]:
    if mean.shape != (len(schema.features),):
        raise StatisticsError(f"the schema has {len(schema.features)} features, the statistics {mean.shape[0]}")
    return tuple(
        PublishedFeature(name=f.name, unit=f.unit, mean=float(m), std=float(s))
        for f, m, s in zip(schema.features, mean, std, strict=True)
    )


def combine_statistics(
    schema: RecordSchema, parts: Sequence[SufficientStatistics], *, note: str = ""
) -> PublishedStatistics:
    """The published statistics from each hospital's sums (method ``"combined-sufficient-statistics"``).

    Raises:
        StatisticsError: See :func:`combined_mean_std`; also when a contribution has under 2 rows (its sums
            would be its rows) or the feature count is not the schema's.
    """
    small = [i for i, p in enumerate(parts) if p.count < 2]
    if small:
        raise StatisticsError(f"contribution(s) {small} summarise fewer than 2 rows: their sums would reveal a row")
    n, mean, std = combined_mean_std(parts)
    return PublishedStatistics(
        schema_digest=schema.digest(),
        method="combined-sufficient-statistics",
        count=n,
        contributions=len(parts),
        note=note,
        features=_features(schema, mean, std),
    )


def reference_statistics(schema: RecordSchema, x: NDArray[np.floating[Any]], *, note: str) -> PublishedStatistics:
    """The published statistics of a reference data set the consortium may use whole (method
    ``"reference-data"``; ``note`` should say which data)."""
    n, mean, std = combined_mean_std([SufficientStatistics.of(x)])
    return PublishedStatistics(
        schema_digest=schema.digest(),
        method="reference-data",
        count=n,
        note=note,
        features=_features(schema, mean, std),
    )


@dataclass(frozen=True)
class LocalStatisticsCheck:
    """A hospital's data against the published statistics.

    Attributes:
        shifts: Per feature, ``(local mean - published mean) / published std`` (std 0: divided by 1).
        warnings: One line per feature whose ``|shift|`` exceeds the warning level.
    """

    shifts: NDArray[np.float64]
    warnings: tuple[str, ...]


def check_local_statistics(
    published: PublishedStatistics,
    schema: RecordSchema,
    x: NDArray[np.floating[Any]],
    *,
    max_shift: float = MAX_MEAN_SHIFT,
    warn_shift: float = WARN_MEAN_SHIFT,
) -> LocalStatisticsCheck:
    """Check a hospital's raw rows ``x [n, f]`` (read with ``schema``) against the published statistics.

    Raises:
        StatisticsError: When the published file names another schema digest or other features or units, or
            a local feature mean lies more than ``max_shift`` published stds from the published mean (the
            message names the feature with the largest shift).
    """
    if published.schema_digest != schema.digest():
        raise StatisticsError(
            f"the published statistics were made for schema {published.schema_digest[:16]}..., this hospital's "
            f"schema is {schema.digest()[:16]}...: use the consortium's schema file (same features, units, ranges "
            "and labels)"
        )
    published_columns = list(zip(published.feature_names, published.units, strict=True))
    schema_columns = list(zip(schema.feature_names, schema.units, strict=True))
    if published_columns != schema_columns:
        i = next(
            (i for i, (a, b) in enumerate(zip(published_columns, schema_columns, strict=False)) if a != b),
            min(len(published_columns), len(schema_columns)),
        )
        got = published_columns[i] if i < len(published_columns) else "nothing"
        want = schema_columns[i] if i < len(schema_columns) else "nothing"
        raise StatisticsError(
            f"feature {i}: the published statistics have {got}, the schema {want} (name, unit); the file "
            "contradicts the schema digest it names"
        )
    values = np.asarray(x, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(schema.features) or values.shape[0] == 0:
        raise StatisticsError(f"expected local rows [n >= 1, {len(schema.features)}], got shape {values.shape}")
    shifts = (values.mean(axis=0) - published.mean) / published.divisor
    worst = int(np.argmax(np.abs(shifts)))

    def line(i: int) -> str:
        f = published.features[i]
        return (
            f"feature {f.name!r} ({f.unit}): local mean {values[:, i].mean():.6g} is {shifts[i]:+.2f} published "
            f"stds from the published mean {f.mean:.6g} (std {f.std:.6g})"
        )

    if not abs(shifts[worst]) <= max_shift:
        raise StatisticsError(
            f"{line(worst)}: more than {max_shift:g} stds away; check that column's unit and content "
            "(or the statistics file) before training"
        )
    warnings = tuple(line(i) for i in np.flatnonzero(np.abs(shifts) > warn_shift))
    return LocalStatisticsCheck(shifts=shifts, warnings=warnings)


ModelT = TypeVar("ModelT", bound=BaseModel)


def parse_tagged(cls: type[ModelT], data: bytes, *, where: str, fmt: str) -> ModelT:
    """Strictly parse a JSON file of ``cls`` whose ``"format"`` must be ``fmt`` (no duplicate key, finite
    numbers). Raises StatisticsError naming ``where`` and the first invalid field."""

    def reject(token: str) -> float:
        raise StatisticsError(f"{where}: {token} is not a valid value (numbers must be finite)")

    raw = strict_json_loads(data, what=where, error=StatisticsError, parse_constant=reject)
    if not isinstance(raw, dict) or raw.get("format") != fmt:
        raise StatisticsError(f'{where}: expected an object with "format": "{fmt}"')
    try:
        return cls.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "file"
        raise StatisticsError(f"{where}: invalid at '{loc}': {first['msg']}") from None


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of ``path`` (a ``what``), refused above ``limit`` bytes before reading; StatisticsError."""
    try:
        if path.stat().st_size > limit:
            raise StatisticsError(f"{path}: larger than a {what} may be ({limit} bytes)")
        return path.read_bytes()
    except OSError as exc:
        raise StatisticsError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
