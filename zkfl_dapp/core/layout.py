"""How a model's values are laid out in the vectors the consortium commits to.

A committed vector is ``chunk`` model rows followed by ``pad_rows`` hiding-pad rows. A small model is ONE
such vector (``chunk = d``): ``d + P`` rows, one KZG point. A model too large for one norm circuit is
split into ``n = ceil(d / chunk)`` chunks of ``chunk`` model rows (the last one zero-filled), each followed
by its own ``P`` pad rows (each chunk's point is public, so each needs its own hiding pad): ``n`` points,
one per chunk, in one shared basis (zkfl_dapp.circuits.kzg_chunk_norm).

Files and payloads hold the concatenation of the ``n`` vectors (``n * (chunk + P)`` values: the *flat*
layout); :meth:`CommitmentLayout.vectors` cuts it back into the committed vectors and
:meth:`CommitmentLayout.model_values` takes the ``d`` model rows out of it. For one chunk the flat layout
is exactly the historical ``d`` model rows then ``P`` pad rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zkfl_dapp.exceptions import ModelFileError


@dataclass(frozen=True)
class CommitmentLayout:
    """``d`` model rows in ``chunks`` vectors of ``chunk`` model rows plus ``pad_rows`` pad rows each."""

    model_size: int
    chunk: int
    pad_rows: int

    def __post_init__(self) -> None:
        if self.model_size < 1 or not 1 <= self.chunk <= self.model_size or self.pad_rows < 0:
            raise ModelFileError(
                f"invalid commitment layout: d = {self.model_size}, chunk = {self.chunk}, pad rows = {self.pad_rows} "
                "(need 1 <= chunk <= d and pad rows >= 0)"
            )

    @classmethod
    def single(cls, model_size: int, pad_rows: int) -> CommitmentLayout:
        """The whole model in one committed vector (one point)."""
        return cls(model_size, model_size, pad_rows)

    @property
    def chunks(self) -> int:
        """Points per commitment: ``ceil(d / chunk)``."""
        return -(-self.model_size // self.chunk)

    @property
    def chunked(self) -> bool:
        return self.chunks > 1

    @property
    def rows(self) -> int:
        """Values of one committed vector (``chunk`` model rows plus the pad rows)."""
        return self.chunk + self.pad_rows

    @property
    def total_rows(self) -> int:
        """Values of the flat layout: every vector, in chunk order."""
        return self.chunks * self.rows

    def check_flat(self, values: Sequence[int], what: str = "vector") -> None:
        if len(values) != self.total_rows:
            raise ModelFileError(
                f"{what} has {len(values)} values, the layout takes {self.total_rows} "
                f"({self.chunks} x ({self.chunk} model + {self.pad_rows} pad rows))"
            )

    def vectors(self, values: Sequence[int]) -> list[tuple[int, ...]]:
        """The committed vectors of a flat layout, in chunk order."""
        self.check_flat(values)
        r = self.rows
        return [tuple(int(v) for v in values[c * r : (c + 1) * r]) for c in range(self.chunks)]

    def model_values(self, values: Sequence[int]) -> tuple[int, ...]:
        """The ``d`` model rows of a flat layout (pad rows and the last chunk's zero fill left out)."""
        self.check_flat(values)
        r, k = self.rows, self.chunk
        out = [int(v) for c in range(self.chunks) for v in values[c * r : c * r + k]]
        return tuple(out[: self.model_size])

    def assemble(self, model_values: Sequence[int], pads: Sequence[Sequence[int]]) -> tuple[int, ...]:
        """The flat layout of ``d`` model values (zero-filled to whole chunks) with ``pads[c]`` after chunk ``c``."""
        if len(model_values) != self.model_size:
            raise ModelFileError(f"the model has {self.model_size} values, got {len(model_values)}")
        if len(pads) != self.chunks or any(len(p) != self.pad_rows for p in pads):
            raise ModelFileError(f"need {self.chunks} pads of {self.pad_rows} rows")
        filled = [int(v) for v in model_values] + [0] * (self.chunks * self.chunk - self.model_size)
        out: list[int] = []
        for c in range(self.chunks):
            out.extend(filled[c * self.chunk : (c + 1) * self.chunk])
            out.extend(int(v) for v in pads[c])
        return tuple(out)
