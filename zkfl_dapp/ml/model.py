"""Model architectures and their flat parameter vectors.

Every model is described by a :class:`ModelSpec` and exchanged as a flat float64 vector.

Flat layout: the module's parameters in ``named_parameters()`` order (registration order), each
flattened row-major (C order). With ``f`` features:

* ``"logreg"``: ``[w_0, ..., w_{f-1}, b]``: the ``Linear(f, 1)`` weight row, then the bias
  (length ``d = f + 1``; 31 for the breast-cancer data).
* ``"mlp"`` with ``h`` hidden units (``f -> h -> 1``, ReLU between the layers)::

      [W1[0, 0..f-1], W1[1, 0..f-1], ..., W1[h-1, 0..f-1],   # hidden.weight, [h, f], row by row
       b1[0..h-1],                                           # hidden.bias, [h]
       W2[0, 0..h-1],                                        # output.weight, [1, h]
       b2]                                                   # output.bias, [1]

  (length ``d = f*h + h + h + 1``; 513 for ``f = 30, h = 16``).
* ``"mlp"`` with several hidden layers ``hidden = (h_1, ..., h_k)`` (``f -> h_1 -> ... -> h_k -> 1``, ReLU
  between the layers; :class:`DeepMLP`): for each hidden layer in order its weight ``[h_i, h_{i-1}]`` row by
  row then its bias ``[h_i]`` (``h_0 = f``), then the output weight ``[1, h_k]`` and bias, i.e. the same
  rule as the one-layer MLP (length ``d = sum_i (h_{i-1} + 1) h_i + h_k + 1``; 114,177 for the
  :data:`MLP_LARGE_HIDDEN` preset over SUPPORT2's ``f = 59`` features).

Named presets (:data:`MODEL_PRESETS`, ``Settings.model`` / ``ZKFL_MODEL``; :func:`spec_for_preset`):
``"logreg"``; ``"mlp"`` (one hidden layer of ``Settings.mlp_hidden`` units); ``"mlp-large"`` (hidden layers
:data:`MLP_LARGE_HIDDEN` = (256, 256, 128), about 10^5 parameters: a protocol-scale model for the 9,105-patient
SUPPORT2 data set, ``ZKFL_DATASET=support2 ZKFL_MODEL=mlp-large``).

:meth:`ModelSpec.build` always returns all-zero parameters. Training starts from
:meth:`ModelSpec.initial_params`: zeros for logistic regression (a convex problem), a small
deterministic random vector for the MLP (all-zero hidden units would stay identical forever).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Final, Literal, get_args

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

from zkfl_dapp.core.formats import MODEL_KINDS as MODEL_KINDS  # the architectures are listed once, there
from zkfl_dapp.core.formats import ModelKind as ModelKind
from zkfl_dapp.exceptions import DataError, ModelFileError
from zkfl_dapp.ml.data import Dataset


class LogisticRegression(nn.Module):
    """Binary logistic regression: one linear layer; ``forward`` returns logits of shape ``[n]``.

    Parameters start at zero and construction does not touch torch's global RNG.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.linear: nn.Linear = nn.utils.skip_init(nn.Linear, num_features, 1)
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the logit of class 1 for each row of ``x`` (``[n, f]`` -> ``[n]``)."""
        logits: torch.Tensor = self.linear(x).squeeze(-1)
        return logits


class MLP(nn.Module):
    """One hidden ReLU layer: ``Linear(f, h) -> ReLU -> Linear(h, 1)``; ``forward`` returns logits ``[n]``.

    Parameters start at zero (load :meth:`ModelSpec.initial_params` before training) and
    construction does not touch torch's global RNG.
    """

    def __init__(self, num_features: int, hidden: int) -> None:
        super().__init__()
        self.hidden: nn.Linear = nn.utils.skip_init(nn.Linear, num_features, hidden)
        self.output: nn.Linear = nn.utils.skip_init(nn.Linear, hidden, 1)
        with torch.no_grad():
            for p in self.parameters():
                p.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the logit of class 1 for each row of ``x`` (``[n, f]`` -> ``[n]``)."""
        logits: torch.Tensor = self.output(torch.relu(self.hidden(x))).squeeze(-1)
        return logits


class DeepMLP(nn.Module):
    """Several hidden ReLU layers: ``Linear(f, h_1) -> ReLU -> ... -> Linear(h_k, 1)``; returns logits ``[n]``.

    Parameters start at zero (load :meth:`ModelSpec.initial_params` before training) and construction does
    not touch torch's global RNG. No dropout: the forward pass is deterministic.
    """

    def __init__(self, num_features: int, hidden: Sequence[int]) -> None:
        super().__init__()
        widths = (num_features, *hidden)
        self.hidden_layers: nn.ModuleList = nn.ModuleList(
            nn.utils.skip_init(nn.Linear, fan_in, fan_out) for fan_in, fan_out in pairwise(widths)
        )
        self.output: nn.Linear = nn.utils.skip_init(nn.Linear, widths[-1], 1)
        with torch.no_grad():
            for p in self.parameters():
                p.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Returns the logit of class 1 for each row of ``x`` (``[n, f]`` -> ``[n]``)."""
        for layer in self.hidden_layers:
            x = torch.relu(layer(x))
        logits: torch.Tensor = self.output(x).squeeze(-1)
        return logits


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ModelSpec:
    """Architecture description; everything needed to rebuild a model from a flat vector.

    Attributes:
        num_features: Input dimension ``f``.
        kind: Architecture: ``"logreg"`` or ``"mlp"``.
        hidden: Hidden units of the MLP: an int ``h >= 1`` (one hidden layer, :class:`MLP`) or a tuple of
            widths ``(h_1, ..., h_k)``, each ``>= 1`` (:class:`DeepMLP`; a 1-tuple or a list is normalized,
            so ``hidden=(16,)`` is ``hidden=16``); must be 0 for ``"logreg"``.
    """

    num_features: int
    kind: ModelKind = "logreg"
    hidden: int | tuple[int, ...] = 0

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ModelFileError(f"unsupported model kind {self.kind!r}; expected one of {MODEL_KINDS}")
        if not _is_int(self.num_features) or self.num_features < 1:
            raise ModelFileError(f"num_features must be a positive int, got {self.num_features!r}")
        hidden = self.hidden
        if isinstance(hidden, list | tuple):
            if self.kind != "mlp" or not hidden or not all(_is_int(h) for h in hidden):
                raise ModelFileError(f"hidden must be an int or, for an mlp, a non-empty tuple of ints, got {hidden!r}")
            hidden = hidden[0] if len(hidden) == 1 else tuple(hidden)
            object.__setattr__(self, "hidden", hidden)
        elif not _is_int(hidden):
            raise ModelFileError(f"hidden must be an int, got {hidden!r}")
        if self.kind == "mlp" and min(self.hidden_layers) < 1:
            raise ModelFileError(f"an mlp needs hidden >= 1, got {self.hidden}")
        if self.kind == "logreg" and self.hidden != 0:
            raise ModelFileError(f"logreg has no hidden layer; hidden must be 0, got {self.hidden}")

    @property
    def hidden_layers(self) -> tuple[int, ...]:
        """The hidden widths ``(h_1, ..., h_k)``; ``()`` for logistic regression."""
        if self.kind == "logreg":
            return ()
        return self.hidden if isinstance(self.hidden, tuple) else (self.hidden,)

    @property
    def num_params(self) -> int:
        """Length ``d`` of the flat parameter vector (layout in the module docstring)."""
        widths = (self.num_features, *self.hidden_layers, 1)
        return sum((fan_in + 1) * fan_out for fan_in, fan_out in pairwise(widths))

    def build(self) -> nn.Module:
        """Returns a fresh model with all parameters zero."""
        if self.kind == "mlp":
            if isinstance(self.hidden, tuple):
                return DeepMLP(self.num_features, self.hidden)
            return MLP(self.num_features, self.hidden)
        return LogisticRegression(self.num_features)

    def initial_params(self, seed: int = 0) -> NDArray[np.float64]:
        """The federation's starting point (the genesis model), a deterministic function of ``seed``.

        ``"logreg"``: all zeros. ``"mlp"``: weights drawn uniformly from ``+-1/sqrt(fan_in)``
        (torch's default ``Linear`` range) with a NumPy generator seeded by ``(seed, f, h_1, ..., h_k)``,
        layer by layer in the flat order, biases zero; nonzero so that the hidden units differ. Every value
        is well inside the circuit's range (at most 1). Torch's and NumPy's global RNGs are untouched.
        """
        if self.kind == "logreg":
            return np.zeros(self.num_params, dtype=np.float64)
        widths = (self.num_features, *self.hidden_layers, 1)
        rng = np.random.default_rng(np.random.SeedSequence([seed, *widths[:-1]]))
        chunks = []
        for fan_in, fan_out in pairwise(widths):
            chunks += [rng.uniform(-1.0, 1.0, size=fan_in * fan_out) / np.sqrt(fan_in), np.zeros(fan_out)]
        return np.concatenate(chunks).astype(np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"kind", "num_features"}``, plus ``"hidden"`` for an MLP (an int for one hidden
        layer, a list of widths for several)."""
        out: dict[str, Any] = {"kind": self.kind, "num_features": self.num_features}
        if self.kind == "mlp":
            out["hidden"] = list(self.hidden) if isinstance(self.hidden, tuple) else self.hidden
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ModelSpec:
        """Inverse of :meth:`to_dict`.

        Raises:
            ModelFileError: If ``data`` is not a valid spec mapping.
        """
        if not isinstance(data, dict):
            raise ModelFileError(f"model spec must be a mapping, got {data!r}")
        expected = {"kind", "num_features", "hidden"} if data.get("kind") == "mlp" else {"kind", "num_features"}
        if set(data) != expected:
            raise ModelFileError(f"model spec must have exactly {sorted(expected)}, got {data!r}")
        return cls(num_features=data["num_features"], kind=data["kind"], hidden=data.get("hidden", 0))


def num_params(spec: ModelSpec) -> int:
    """Length of the flat parameter vector of ``spec`` (``f + 1`` for logreg, ``f*h + 2h + 1`` for a one-layer
    mlp; the general rule is in the module docstring)."""
    return spec.num_params


ModelPreset = Literal["logreg", "mlp", "mlp-large"]
"""A named architecture (``Settings.model``)."""
MODEL_PRESETS: Final[tuple[ModelPreset, ...]] = get_args(ModelPreset)
MLP_LARGE_HIDDEN: Final = (256, 256, 128)
"""Hidden widths of the ``"mlp-large"`` preset: 114,177 parameters over SUPPORT2's 59 features (108,801 over
38; 106,753 over the breast-cancer set's 30)."""


def spec_for_preset(preset: str, num_features: int, *, mlp_hidden: int = 16) -> ModelSpec:
    """The :class:`ModelSpec` of a named preset (module docstring) over ``num_features`` features.

    Args:
        preset: One of :data:`MODEL_PRESETS`.
        num_features: Input dimension.
        mlp_hidden: Hidden units of the ``"mlp"`` preset (``Settings.mlp_hidden``); unused otherwise.

    Raises:
        ModelFileError: On an unknown preset or invalid sizes.
    """
    if preset == "mlp":
        return ModelSpec(num_features=num_features, kind="mlp", hidden=mlp_hidden)
    if preset == "mlp-large":
        return ModelSpec(num_features=num_features, kind="mlp", hidden=MLP_LARGE_HIDDEN)
    if preset == "logreg":
        return ModelSpec(num_features=num_features)
    raise ModelFileError(f"unknown model preset {preset!r}; expected one of {MODEL_PRESETS}")


def zero_params(spec: ModelSpec) -> NDArray[np.float64]:
    """An all-zero float64 parameter vector for ``spec`` (logreg's start point; see ``initial_params``)."""
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
