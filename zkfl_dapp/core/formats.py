"""The files that travel through IPFS, with strict parsing.

* :class:`ModelFile`: a global model: the exact aggregate ``S`` (scale ``2**(2 s)``, model rows then
  hiding-pad rows) whose KZG commitment RoundManager holds.
* :class:`UpdatePayload`: one hospital's quantized update with its hiding pad, the plaintext inside an
  encrypted envelope (its KZG commitment is what the hospital submits).

Both serialize to canonical JSON (sorted keys, no whitespace) so the same content always has the same
CID. Parsing rejects anything malformed: bad JSON, wrong format tag, wrong length, NaN or non-integer
values, out-of-range integers, and says which.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from zkfl_dapp.core.aggregation import training_values
from zkfl_dapp.core.fixedpoint import AGGREGATE_RANGE, MAX_QUANTIZED
from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.exceptions import ModelFileError, ZkflError

#: Bound on a global model's values: the aggregate's range (``|S_j| < 2**36``), which the circuits over
#: committed vectors range-check.
MAX_MODEL_VALUE = AGGREGATE_RANGE
#: Most hiding-pad rows a file may declare.
MAX_PAD_ROWS = 1024

#: The model architectures a model file may declare (:mod:`zkfl_dapp.ml.model` builds them).
ModelKind = Literal["logreg", "mlp"]
MODEL_KINDS: tuple[ModelKind, ...] = ("logreg", "mlp")

#: Fixed-point scales the circuits support (``2^1 .. 2^20``; the consortium pins one, 13 by default).
MIN_SCALE_BITS, MAX_SCALE_BITS = 1, 20

#: Bounds on the other metadata: far beyond any model or round here, small enough to stay cheap.
MAX_NUM_FEATURES = 100_000
MAX_VALUES = 10_000_000
#: Largest declared sample count: RoundManager.MAX_SAMPLE_COUNT (tests/contracts/test_round_manager.py checks it).
MAX_SAMPLE_COUNT = 1_000_000
MAX_ROUND_ID = 2**256 - 1

ScaleBits = Annotated[int, Field(ge=MIN_SCALE_BITS, le=MAX_SCALE_BITS)]


def _check_values(values: Sequence[int], limit: int = MAX_QUANTIZED) -> Sequence[int]:
    for i, v in enumerate(values):
        if abs(v) >= limit:
            raise ValueError(f"values[{i}] = {v} is outside the allowed range (|v| < {limit})")
    return values


ModelT = TypeVar("ModelT", bound=BaseModel)


def strict_json_loads(
    data: str | bytes,
    *,
    what: str,
    error: type[ZkflError],
    parse_constant: Callable[[str], Any] | None = None,
) -> Any:
    """``json.loads`` for untrusted input: a duplicate key in any object is an ``error`` (Python's json keeps
    the last one silently), and so is nesting beyond ~200 levels (checked first by pydantic's parser, which
    has a recursion limit: the standard library's C parser can overflow the stack on deep input).
    """
    try:
        pydantic_core.from_json(data)
    except ValueError as exc:
        raise error(f"{what} is not valid JSON: {exc}") from None

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                raise error(f"{what} holds the duplicate key {key!r}: each key may appear once")
            obj[key] = value
        return obj

    try:
        return json.loads(data, object_pairs_hook=unique, parse_constant=parse_constant)
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise error(f"{what} is not valid JSON: {exc}") from None


def validate_json(cls: type[ModelT], data: bytes, *, what: str) -> ModelT:
    """Strict JSON validation of ``data`` as ``cls``; any problem (a duplicate key included) becomes a
    ModelFileError naming its place."""
    try:
        parsed = cls.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ModelFileError(f"{what} is malformed at '{where}': {first['msg']}") from exc
    strict_json_loads(data, what=what, error=ModelFileError)  # pydantic keeps the last of duplicate keys
    return parsed


class _CanonicalFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes, *, what: str) -> _CanonicalFile:
        # Strict JSON validation: NaN/Infinity, floats, bools and strings never pass as integers.
        parsed = validate_json(cls, data, what=what)
        # The tag has a default for constructing files in code; a file read from outside must carry it.
        if "format" not in parsed.model_fields_set:
            raise ModelFileError(f"{what} is malformed at 'format': Field required (the format tag)")
        return parsed


class ModelFile(_CanonicalFile):
    """A global model: the exact aggregate ``S = sum_i w_i u_i`` at scale ``2**(2 * scale_bits)``.

    ``values`` holds the model rows followed by ``pad_rows`` rows that carry the aggregated hiding pads
    (nobody reads them); a chunked model (``chunk > 0``, ``model_rows = d``) holds the flat layout of
    :class:`zkfl_dapp.core.layout.CommitmentLayout` instead: per chunk, ``chunk`` model rows then its pad rows.
    Hospitals train from :meth:`training_values`, ``round_half_away(S_j / 2**s)`` over the model rows.
    The file opens the round's on-chain KZG commitment (zkfl_dapp.protocol.hospital checks
    it with one commitment computation); the metadata is not committed, so readers pass the consortium's own.
    """

    format: Literal["zkfl-model/v2"] = "zkfl-model/v2"
    model_kind: ModelKind
    num_features: Annotated[int, Field(ge=1, le=MAX_NUM_FEATURES)]
    #: The updates' scale ``s``; the values are at ``2**(2 s)``.
    scale_bits: ScaleBits
    pad_rows: Annotated[int, Field(ge=0, le=MAX_PAD_ROWS)]
    #: Model rows per committed chunk; 0: one vector, the model rows then the pad rows.
    chunk: Annotated[int, Field(ge=0, le=MAX_VALUES)] = 0
    #: The model's size d when chunked (the last chunk is zero-filled, so the length alone does not say).
    model_rows: Annotated[int, Field(ge=0, le=MAX_VALUES)] = 0
    values: Annotated[tuple[int, ...], Field(max_length=MAX_VALUES)]

    @field_validator("values")
    @classmethod
    def _in_range(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(_check_values(values, MAX_MODEL_VALUE))

    @property
    def model_size(self) -> int:
        return self.model_rows if self.chunk else len(self.values) - self.pad_rows

    def to_bytes(self) -> bytes:
        """Canonical JSON; a one-vector file leaves the chunk fields out (its bytes, and so its CID, are those
        of a file that predates chunking)."""
        doc = self.model_dump(mode="json")
        if not self.chunk and not self.model_rows:
            del doc["chunk"], doc["model_rows"]
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    def layout(self) -> CommitmentLayout:
        """The layout of :attr:`values` (raises ModelFileError when the file's fields contradict it)."""
        if self.chunk:
            layout = CommitmentLayout(self.model_rows, self.chunk, self.pad_rows)
        else:
            layout = CommitmentLayout.single(self.model_size, self.pad_rows)
        layout.check_flat(self.values, "model file")
        return layout

    @property
    def aggregate_scale_bits(self) -> int:
        return 2 * self.scale_bits

    def training_values(self) -> tuple[int, ...]:
        """The model to train from, at scale ``2**s``: ``round_half_away(S_j / 2**s)`` over the model rows."""
        model = self.layout().model_values(self.values)
        return training_values(model, self.model_size, self.scale_bits)

    @classmethod
    def genesis(
        cls,
        model_kind: ModelKind,
        num_features: int,
        scale_bits: int,
        quantized: tuple[int, ...],
        pad_rows: int,
        *,
        chunk: int = 0,
    ) -> ModelFile:
        """The genesis aggregate of quantized initial parameters: ``S0 = 2**s * q0`` with zero pad rows (in
        chunks of ``chunk`` model rows when ``chunk`` is given)."""
        one = 1 << scale_bits
        d = len(quantized)
        layout = CommitmentLayout(d, chunk, pad_rows) if chunk else CommitmentLayout.single(d, pad_rows)
        values = layout.assemble([one * q for q in quantized], [[0] * pad_rows for _ in range(layout.chunks)])
        return cls.of_layout(
            layout, model_kind=model_kind, num_features=num_features, scale_bits=scale_bits, values=values
        )

    @classmethod
    def of_layout(
        cls,
        layout: CommitmentLayout,
        *,
        model_kind: ModelKind,
        num_features: int,
        scale_bits: int,
        values: tuple[int, ...],
    ) -> ModelFile:
        """A model file of flat ``values`` in ``layout`` (chunk fields set only for a chunked layout)."""
        return cls(
            model_kind=model_kind,
            num_features=num_features,
            scale_bits=scale_bits,
            pad_rows=layout.pad_rows,
            chunk=layout.chunk if layout.chunked else 0,
            model_rows=layout.model_size if layout.chunked else 0,
            values=values,
        )

    @classmethod
    def parse(
        cls,
        data: bytes,
        *,
        expected_size: int | None = None,
        chunk: int | None = None,
        pad_rows: int | None = None,
        kind: str | None = None,
        num_features: int | None = None,
        scale_bits: int | None = None,
    ) -> ModelFile:
        """Parse a model file; each expectation given (model rows, pad rows, kind, feature count, scale) must hold.

        The metadata is not covered by the model commitment, so whoever reads a global model passes the
        consortium's own values: a file that declares others is refused, never reinterpreted.
        """
        model = cls.from_bytes(data, what="model file")
        assert isinstance(model, ModelFile)
        if model.pad_rows >= len(model.values) and model.values:
            raise ModelFileError(f"model file declares {model.pad_rows} pad rows but holds {len(model.values)} values")
        if bool(model.chunk) != bool(model.model_rows):
            raise ModelFileError("model file declares only one of 'chunk' and 'model_rows' (a chunked file needs both)")
        if model.values:
            model.layout()
        if pad_rows is not None and model.pad_rows != pad_rows:
            raise ModelFileError(f"model file declares {model.pad_rows} pad rows, the consortium commits {pad_rows}")
        if expected_size is not None and model.model_size != expected_size:
            raise ModelFileError(
                f"model file has {model.model_size} model values, the consortium's model has {expected_size}"
            )
        if chunk is not None and model.chunk != chunk:
            raise ModelFileError(
                f"model file declares chunks of {model.chunk or 'all'} rows, "
                f"the consortium commits {chunk or 'one vector'}"
            )
        if kind is not None and model.model_kind != kind:
            raise ModelFileError(f"model file declares kind {model.model_kind!r}, the consortium trains {kind!r}")
        if num_features is not None and model.num_features != num_features:
            raise ModelFileError(
                f"model file declares {model.num_features} features, the consortium's models take {num_features}"
            )
        if scale_bits is not None and model.scale_bits != scale_bits:
            raise ModelFileError(
                f"model file declares scale 2^{model.scale_bits}, the consortium's circuits use 2^{scale_bits}"
            )
        return model


class UpdatePayload(_CanonicalFile):
    """A hospital's quantized update (model rows, then its random hiding-pad rows): the plaintext that only
    the enclave sees. Its KZG commitment is what the hospital submitted."""

    format: Literal["zkfl-update/v1"] = "zkfl-update/v1"
    round_id: Annotated[int, Field(ge=0, le=MAX_ROUND_ID)]
    hospital: Annotated[str, Field(min_length=1, max_length=256)]
    sample_count: Annotated[int, Field(ge=0, le=MAX_SAMPLE_COUNT)]
    scale_bits: ScaleBits
    values: Annotated[tuple[int, ...], Field(max_length=MAX_VALUES)]

    @field_validator("values")
    @classmethod
    def _in_range(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(_check_values(values))

    @classmethod
    def parse(cls, data: bytes, *, expected_size: int | None = None) -> UpdatePayload:
        update = cls.from_bytes(data, what="update payload")
        assert isinstance(update, UpdatePayload)
        if expected_size is not None and len(update.values) != expected_size:
            raise ModelFileError(
                f"update has {len(update.values)} values (model and pad rows), expected {expected_size}"
            )
        return update
