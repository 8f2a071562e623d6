"""A hospital's contribution to its consortium's standardisation statistics (format ``zkfl-stats-contribution/v1``).

A consortium deployed on its own schema (``zkfl admin deploy --schema``) publishes statistics combined from its
members' own records files, never from pooled rows: each hospital runs
``zkfl hospital --index I --contribute-statistics FILE`` on its own machine, which reads its records file
against the consortium's schema and writes only its row count and, per feature, the sum and the sum of squares
of its raw values (:class:`~zkfl_dapp.ml.statistics.SufficientStatistics`), naming the schema's digest and the
hospital. The admin combines one contribution per hospital (:func:`combine_contributions`) into the
:class:`~zkfl_dapp.ml.statistics.PublishedStatistics` the deployment publishes. What one contribution reveals
(the hospital's case mix per feature) is discussed in :mod:`zkfl_dapp.ml.statistics`: the admin sees each
hospital's sums, the published file only their combination. The row count is what the admin agrees as the
hospital's sample cap at admission.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from zkfl_dapp.exceptions import StatisticsError
from zkfl_dapp.ml.records import Records
from zkfl_dapp.ml.schema import RecordSchema
from zkfl_dapp.ml.statistics import (
    PublishedStatistics,
    SufficientStatistics,
    combine_statistics,
    parse_tagged,
    read_bounded,
)

CONTRIBUTION_FORMAT: Literal["zkfl-stats-contribution/v1"] = "zkfl-stats-contribution/v1"
#: Largest contribution file read (10,000 features of two floats each is well under it).
MAX_CONTRIBUTION_BYTES = 4 << 20


class StatisticsContribution(BaseModel):
    """One hospital's sums over its own records file (see the module docstring).

    Attributes:
        hospital: The contributing hospital's role (``hospital-<i>``).
        schema_digest: :meth:`RecordSchema.digest` of the schema the records were read with.
        count: Rows summarised (at least 2: the sums of one row would be that row).
        sum: Per feature, the sum of the raw values.
        sum_sq: Per feature, the sum of their squares.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    format: Literal["zkfl-stats-contribution/v1"] = CONTRIBUTION_FORMAT
    hospital: Annotated[str, Field(pattern=r"^hospital-[0-9]{1,2}$")]
    schema_digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    count: Annotated[int, Field(ge=2)]
    sum: Annotated[tuple[float, ...], Field(min_length=1)]
    sum_sq: Annotated[tuple[float, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> StatisticsContribution:
        if len(self.sum) != len(self.sum_sq):
            raise ValueError(f"sum has {len(self.sum)} features, sum_sq {len(self.sum_sq)}")
        if any(v < 0 for v in self.sum_sq):
            raise ValueError("a sum of squares is negative")
        return self

    @property
    def sufficient(self) -> SufficientStatistics:
        return SufficientStatistics(self.count, self.sum, self.sum_sq)  # type: ignore[arg-type]

    def to_bytes(self) -> bytes:
        """Canonical JSON (float64 values written as the shortest text that reads back to the same float)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def parse(cls, data: bytes, *, where: str = "contribution") -> StatisticsContribution:
        """Strictly parse a contribution (format tag required, no duplicate key, finite numbers).

        Raises:
            StatisticsError: On anything malformed, naming ``where``.
        """

        return parse_tagged(cls, data, where=where, fmt=CONTRIBUTION_FORMAT)

    @classmethod
    def load(cls, path: Path) -> StatisticsContribution:
        """Read a contribution file (see :meth:`parse`)."""
        return cls.parse(read_bounded(path, MAX_CONTRIBUTION_BYTES, "contribution file"), where=str(path))


def contribution_of(records: Records, hospital: str) -> StatisticsContribution:
    """``hospital``'s contribution from its checked records file (read with the consortium's schema).

    Raises:
        StatisticsError: Fewer than 2 rows.
    """
    part = records.sufficient_statistics()
    if part.count < 2:
        raise StatisticsError(f"{records.path}: {part.count} row: a contribution needs 2 (its sums would be the row)")
    return StatisticsContribution(
        hospital=hospital,
        schema_digest=records.schema.digest(),
        count=part.count,
        sum=tuple(float(v) for v in part.total),
        sum_sq=tuple(float(v) for v in part.total_sq),
    )


def combine_contributions(
    schema: RecordSchema, contributions: Sequence[StatisticsContribution], hospitals: Sequence[str]
) -> PublishedStatistics:
    """The consortium's published statistics from exactly one contribution per hospital in ``hospitals``.

    Raises:
        StatisticsError: A contribution made with another schema (or another feature count), from a hospital not
            listed, twice from one hospital, or a listed hospital without one.
    """
    digest = schema.digest()
    width = len(schema.features)
    seen: dict[str, StatisticsContribution] = {}
    for c in contributions:
        if c.schema_digest != digest:
            raise StatisticsError(
                f"{c.hospital}'s contribution was made with schema {c.schema_digest[:16]}..., the consortium's is "
                f"{digest[:16]}...: it must read its records with the consortium's schema file"
            )
        if len(c.sum) != width:
            raise StatisticsError(f"{c.hospital}'s contribution has {len(c.sum)} features, the schema {width}")
        if c.hospital not in hospitals:
            raise StatisticsError(f"a contribution from {c.hospital}, which is not one of {', '.join(hospitals)}")
        if c.hospital in seen:
            raise StatisticsError(f"two contributions from {c.hospital}: each hospital contributes once")
        seen[c.hospital] = c
    missing = [h for h in hospitals if h not in seen]
    if missing:
        raise StatisticsError(
            f"no statistics contribution from {', '.join(missing)}: each hospital runs "
            "`zkfl hospital --index I --contribute-statistics FILE` on its own records and hands the file to the admin"
        )
    return combine_statistics(
        schema,
        [seen[h].sufficient for h in hospitals],
        note=f"combined from {len(hospitals)} hospitals' own records files ({', '.join(hospitals)})",
    )
