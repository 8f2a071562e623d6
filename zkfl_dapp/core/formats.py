"""The files that travel through IPFS, with strict parsing.

* :class:`ModelFile`: a global model, quantized (what RoundManager's commitment covers).
* :class:`UpdatePayload`: one hospital's quantized update, the plaintext inside an encrypted envelope.

Both serialize to canonical JSON (sorted keys, no whitespace) so the same content always has the same
CID. Parsing rejects anything malformed: bad JSON, wrong format tag, wrong length, NaN or non-integer
values, out-of-range integers, and says which.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from zkfl_dapp.core.commitments import model_commitment, poseidon_commitment
from zkfl_dapp.core.fixedpoint import MAX_QUANTIZED
from zkfl_dapp.exceptions import ModelFileError

#: Bound on a global model's values. Updates are bounded by MAX_QUANTIZED; their weighted average can
#: exceed that slightly, because the rounded weights may sum to a little more than 2^s (at most by
#: slots/2 units), so a proven model gets twice the room. Models are never circuit inputs themselves:
#: hospitals train from them and quantize a fresh, bounded update.
MAX_MODEL_VALUE = 2 * MAX_QUANTIZED


def _check_values(values: Sequence[int], limit: int = MAX_QUANTIZED) -> Sequence[int]:
    for i, v in enumerate(values):
        if abs(v) >= limit:
            raise ValueError(f"values[{i}] = {v} is outside the allowed range (|v| < {limit})")
    return values


ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_json(cls: type[ModelT], data: bytes, *, what: str) -> ModelT:
    """Strict JSON validation of ``data`` as ``cls``; any problem becomes a ModelFileError naming its place."""
    try:
        return cls.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ModelFileError(f"{what} is malformed at '{where}': {first['msg']}") from exc


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
    """A quantized global model."""

    format: Literal["zkfl-model/v1"] = "zkfl-model/v1"
    model_kind: str
    num_features: int
    scale_bits: int
    values: tuple[int, ...]

    @field_validator("values")
    @classmethod
    def _in_range(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(_check_values(values, MAX_MODEL_VALUE))

    def keccak_commitment(self) -> int:
        """The model commitment RoundManager records for this model (keccak over the field elements)."""
        return model_commitment(self.values)

    @classmethod
    def parse(cls, data: bytes, *, expected_size: int | None = None) -> ModelFile:
        model = cls.from_bytes(data, what="model file")
        assert isinstance(model, ModelFile)
        if expected_size is not None and len(model.values) != expected_size:
            raise ModelFileError(f"model file has {len(model.values)} values, the circuit expects {expected_size}")
        return model


class UpdatePayload(_CanonicalFile):
    """A hospital's quantized update: the plaintext that only the enclave sees."""

    format: Literal["zkfl-update/v1"] = "zkfl-update/v1"
    round_id: int
    hospital: str
    sample_count: int
    scale_bits: int
    values: tuple[int, ...]

    @field_validator("values")
    @classmethod
    def _in_range(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(_check_values(values))

    def poseidon_commitment(self) -> int:
        """The update commitment the hospital submits and the proof exposes (ezkl's Poseidon hash)."""
        return poseidon_commitment(self.values)

    @classmethod
    def parse(cls, data: bytes, *, expected_size: int | None = None) -> UpdatePayload:
        update = cls.from_bytes(data, what="update payload")
        assert isinstance(update, UpdatePayload)
        if expected_size is not None and len(update.values) != expected_size:
            raise ModelFileError(f"update has {len(update.values)} values, the circuit expects {expected_size}")
        return update
