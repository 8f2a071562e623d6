"""Model architectures and their flat parameter vectors.

Every model is described by a :class:`ModelSpec` and exchanged as a flat float64 vector.

Flat layout: the module's parameters in ``named_parameters()`` order (registration order), each
flattened row-major (C order). For ``"logreg"`` with ``f`` features that is
``[w_0, ..., w_{f-1}, b]``: the ``Linear(f, 1)`` weight row, then the bias (length ``f + 1``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

from zkfl_dapp.data import Dataset
from zkfl_dapp.exceptions import DataError, ModelFileError

ModelKind = Literal["logreg"]
"""Supported architectures."""


class LogisticRegression(nn.Module):
    """Binary logistic regression: one linear layer; ``forward`` returns logits of shape ``[n]``.

    Parameters start at zero and construction does not touch torch's global RNG.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.linear: nn.Linear = nn.utils.skip_init(nn.Linear, num_features, 1)  # type: ignore[no-untyped-call]
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the logit of class 1 for each row of ``x`` (``[n, f]`` -> ``[n]``)."""
        logits: torch.Tensor = self.linear(x).squeeze(-1)
        return logits


@dataclass(frozen=True)
class ModelSpec:
    """Architecture description; everything needed to rebuild a model from a flat vector.

    Attributes:
        num_features: Input dimension ``f``.
        kind: Architecture; only ``"logreg"`` today.
    """

    num_features: int
    kind: ModelKind = "logreg"

    def __post_init__(self) -> None:
        if self.kind != "logreg":
            raise ModelFileError(f"unsupported model kind {self.kind!r}; expected 'logreg'")
        if (
            isinstance(self.num_features, bool)
            or not isinstance(self.num_features, int)
            or self.num_features < 1
        ):
            raise ModelFileError(f"num_features must be a positive int, got {self.num_features!r}")

    def build(self) -> nn.Module:
        """Returns a fresh model with all parameters zero."""
        return LogisticRegression(self.num_features)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"kind": ..., "num_features": ...}``."""
        return {"kind": self.kind, "num_features": self.num_features}

    @classmethod
    def from_dict(cls, data: Any) -> ModelSpec:
        """Inverse of :meth:`to_dict`.

        Raises:
            ModelFileError: If ``data`` is not a valid spec mapping.
        """
        if not isinstance(data, dict) or set(data) != {"kind", "num_features"}:
            raise ModelFileError(
                f"model spec must have exactly 'kind' and 'num_features', got {data!r}"
            )
        return cls(num_features=data["num_features"], kind=data["kind"])


def num_params(spec: ModelSpec) -> int:
    """Length of the flat parameter vector of ``spec`` (``f + 1`` for logreg)."""
    return sum(p.numel() for p in spec.build().parameters())


def zero_params(spec: ModelSpec) -> NDArray[np.float64]:
    """An all-zero float64 parameter vector for ``spec`` (the usual logreg start point)."""
    return np.zeros(num_params(spec), dtype=np.float64)


def flatten_params(model: nn.Module) -> NDArray[np.float64]:
    """Returns the model's parameters as one float64 vector (layout in the module docstring)."""
    with torch.no_grad():
        chunks = [p.detach().cpu().reshape(-1).to(torch.float64) for p in model.parameters()]
    return torch.cat(chunks).numpy() if chunks else np.zeros(0, dtype=np.float64)


def _checked_vector(vec: ArrayLike, expected: int) -> NDArray[np.float64]:
    """Validates a flat parameter vector: 1-D, numeric, length ``expected``, all finite."""
    try:
        arr = np.asarray(vec, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"parameter vector is not numeric: {exc}") from exc
    if arr.ndim != 1:
        raise ModelFileError(f"parameter vector must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != expected:
        raise ModelFileError(f"parameter vector has length {arr.shape[0]}, model needs {expected}")
    if not np.all(np.isfinite(arr)):
        raise ModelFileError("parameter vector contains NaN or inf")
    return arr


def load_params(model: nn.Module, vec: ArrayLike) -> None:
    """Copies a flat parameter vector into ``model`` in place (cast to each parameter's dtype).

    Raises:
        ModelFileError: If the length is wrong or any entry is NaN or inf.
    """
    params = list(model.parameters())
    arr = _checked_vector(vec, sum(p.numel() for p in params))
    offset = 0
    with torch.no_grad():
        for p in params:
            chunk = torch.from_numpy(arr[offset : offset + p.numel()].copy())
            p.copy_(chunk.reshape(p.shape).to(p.dtype))
            offset += p.numel()


def _features_tensor(spec: ModelSpec, x: ArrayLike) -> torch.Tensor:
    """Validates features ``[n, f]`` for ``spec`` and converts them to a float32 tensor."""
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != spec.num_features:
        raise DataError(f"features must have shape [n, {spec.num_features}], got {arr.shape}")
    return torch.tensor(arr)


def predict_proba(spec: ModelSpec, params_vec: ArrayLike, x: ArrayLike) -> NDArray[np.float64]:
    """Returns P(y = 1) for each row of ``x`` as a float64 array of shape ``[n]``.

    Raises:
        ModelFileError: If ``params_vec`` does not fit ``spec`` or is not finite.
        DataError: If ``x`` does not have ``spec.num_features`` columns.
    """
    model = spec.build()
    load_params(model, params_vec)
    model.eval()
    with torch.no_grad():
        return torch.sigmoid(model(_features_tensor(spec, x))).to(torch.float64).numpy()


def accuracy(spec: ModelSpec, params_vec: ArrayLike, dataset: Dataset) -> float:
    """Fraction of ``dataset`` classified correctly at threshold 0.5.

    Raises:
        DataError: If the data set is empty or has the wrong feature count.
        ModelFileError: If ``params_vec`` does not fit ``spec``.
    """
    if dataset.num_samples == 0:
        raise DataError("cannot compute accuracy on an empty data set")
    predictions = predict_proba(spec, params_vec, dataset.x) >= 0.5
    return float(np.mean(predictions == (dataset.y == 1)))
