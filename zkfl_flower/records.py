"""How zkFL values travel in Flower's records: the keys both sides use, and flat model vectors <-> ArrayRecord.

A zkFL model is one flat vector in the consortium's parameter order (:func:`zkfl_dapp.ml.model.flatten_params`:
the torch model's parameters in ``state_dict`` order). Flower's ``ArrayRecord`` holds the same numbers as
named arrays; converting keeps the record's keys and shapes and concatenates the arrays in insertion order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flwr.app import Array, ArrayRecord
from numpy.typing import NDArray

from zkfl_dapp.core.fixedpoint import dequantize
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.exceptions import ConfigError, DataError

#: ConfigRecord entry of a train message: the on-chain round the client submits to.
ROUND_KEY = "zkfl-round-id"
#: ConfigRecord entry of a train message: the round's L2 norm bound (0.0: none), for the client's information.
NORM_BOUND_KEY = "zkfl-norm-bound"
#: ConfigRecord of a train reply: what the client submitted on-chain (round, CID, transaction).
RECEIPT_KEY = "zkfl-receipt"


def flatten(record: ArrayRecord) -> NDArray[np.float64]:
    """The record's arrays, flattened and concatenated in insertion order, as float64.

    Raises:
        DataError: an empty record or a non-finite value.
    """
    if not record:
        raise DataError("the ArrayRecord is empty: no model parameters to submit")
    flat = np.concatenate([np.asarray(a.numpy(), dtype=np.float64).ravel() for a in record.values()])
    if not np.all(np.isfinite(flat)):
        raise DataError("the model parameters contain NaN or inf")
    return flat


def unflatten(values: NDArray[np.float64], template: ArrayRecord) -> ArrayRecord:
    """``values`` (float64) in the template's keys and shapes.

    Raises:
        DataError: ``values`` does not have as many entries as the template.
    """
    shapes = [(key, tuple(a.shape)) for key, a in template.items()]
    sizes = [int(np.prod(shape, dtype=np.int64)) for _, shape in shapes]
    if sum(sizes) != len(values):
        raise DataError(
            f"the model has {len(values)} parameters but the ArrayRecord holds {sum(sizes)} "
            f"({', '.join(f'{k}{list(s)}' for k, s in shapes)}): the Flower app's model is not the consortium's"
        )
    out: dict[str, Array] = {}
    offset = 0
    for (key, shape), size in zip(shapes, sizes, strict=True):
        out[key] = Array(np.asarray(values[offset : offset + size], dtype=np.float64).reshape(shape))
        offset += size
    return ArrayRecord(out)


def model_values(model: ModelFile) -> NDArray[np.float64]:
    """The parameters to train from: the aggregate rounded to the model's scale, as floats."""
    return dequantize(model.training_values(), model.scale_bits)


def model_record(model: ModelFile, template: ArrayRecord) -> ArrayRecord:
    """A zkFL model file's parameters in the template's keys and shapes (float64: exactly the file's values)."""
    return unflatten(model_values(model), template)


def check_model(model: Any, model_size: int) -> None:
    """Whether a Flower app's own PyTorch model (``nn.Module``) can train in a consortium whose deployed model
    has ``model_size`` parameters: any architecture whose ``state_dict`` is exactly its parameters, ``model_size``
    numbers in all. The committed vector is its ``state_dict`` flattened in order (:func:`flatten`); the genesis
    and every finalized model reach it in the same order (:func:`unflatten`).

    Raises:
        ConfigError: another parameter count, or state beyond the parameters (buffers such as BatchNorm's running
            statistics: they are not trained by SGD and would be averaged as if they were).
    """
    params = dict(model.named_parameters())
    state = model.state_dict()
    extra = [k for k in state if k not in params]
    if extra:
        raise ConfigError(
            f"the app's model has state beyond its parameters ({', '.join(extra)}): zkFL commits and averages "
            "parameters only; use a model without buffers (e.g. LayerNorm instead of BatchNorm)"
        )
    count = sum(int(p.numel()) for p in params.values())
    if count != model_size:
        shapes = ", ".join(f"{k}{list(p.shape)}" for k, p in params.items())
        raise ConfigError(
            f"the app's model has {count} parameters ({shapes}), the consortium's deployed model {model_size}: "
            "deploy the consortium for this model's size, or use a model of that size"
        )
