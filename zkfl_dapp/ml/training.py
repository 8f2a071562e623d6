"""Local training at a hospital and the plain floating-point FedAvg baseline."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from torch import nn

from zkfl_dapp.exceptions import ConfigError, DataError
from zkfl_dapp.ml.data import Dataset
from zkfl_dapp.ml.model import ModelSpec, flatten_params, load_params


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one hospital's local training.

    Attributes:
        local_epochs: Passes over the shard per round (>= 1).
        batch_size: Mini-batch size (>= 1).
        lr: SGD learning rate (> 0).
        weight_decay: L2 penalty of SGD (``torch.optim.SGD(weight_decay=...)``, >= 0; 0 = none). The
            ``mlp-large`` preset on SUPPORT2 needs it (it overfits within 5 epochs without).
        seed: Base seed; the shuffling stream is derived from ``(seed, round_id)``.
    """

    local_epochs: int = 5
    batch_size: int = 32
    lr: float = 0.1
    seed: int = 0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.local_epochs < 1:
            raise ConfigError(f"local_epochs must be >= 1, got {self.local_epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {self.batch_size}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"lr must be a positive finite number, got {self.lr}")
        if self.seed < 0:
            raise ConfigError(f"seed must be non-negative, got {self.seed}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"weight_decay must be a non-negative finite number, got {self.weight_decay}")


def _round_generator(seed: int, round_id: int) -> torch.Generator:
    """A private torch generator seeded from ``(seed, round_id)``; global RNG state is untouched."""
    if round_id < 0:
        raise ConfigError(f"round_id must be non-negative, got {round_id}")
    derived = int(np.random.SeedSequence([seed, round_id]).generate_state(1, dtype=np.uint64)[0])
    return torch.Generator().manual_seed(derived & ((1 << 63) - 1))


def train_local(
    spec: ModelSpec,
    global_params: ArrayLike,
    shard: Dataset,
    cfg: TrainConfig,
    *,
    round_id: int = 0,
) -> NDArray[np.float64]:
    """Runs mini-batch SGD on ``BCEWithLogitsLoss`` (plus ``cfg.weight_decay``) starting from the global model.

    Each epoch visits the shard in a fresh random order drawn from a generator seeded by
    ``(cfg.seed, round_id)``, so the result is a deterministic function of the arguments.

    Args:
        spec: The model architecture.
        global_params: Flat parameters to start from (see :mod:`zkfl_dapp.model`).
        shard: The hospital's training data.
        cfg: Training hyper-parameters.
        round_id: Federated round; varies the shuffling between rounds.

    Returns:
        The new local parameters as a float64 vector.

    Raises:
        DataError: If the shard is empty or its feature count does not match ``spec``.
        ModelFileError: If ``global_params`` does not fit ``spec`` or is not finite.
        ConfigError: If ``round_id`` is negative.
    """
    if shard.num_samples == 0:
        raise DataError("cannot train on an empty shard")
    if shard.num_features != spec.num_features:
        raise DataError(f"shard has {shard.num_features} features, model expects {spec.num_features}")
    generator = _round_generator(cfg.seed, round_id)
    model = spec.build()
    load_params(model, global_params)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    x = torch.tensor(shard.x)
    y = torch.tensor(shard.y)
    for _ in range(cfg.local_epochs):
        order = torch.randperm(shard.num_samples, generator=generator)
        for start in range(0, shard.num_samples, cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
    return flatten_params(model)


def fedavg_float(params: Sequence[ArrayLike], weights: Sequence[int]) -> NDArray[np.float64]:
    """Weighted mean of parameter vectors in float64 (the plain FedAvg baseline).

    Computes ``sum_i weights[i] * params[i] / sum_i weights[i]``.

    Args:
        params: One flat parameter vector per hospital, all of the same length.
        weights: Non-negative weight per hospital (normally its number of samples).

    Returns:
        The averaged vector (float64).

    Raises:
        DataError: On empty input, mismatched lengths or shapes, negative weights, a
            non-positive total weight, or non-finite parameters.
    """
    if len(params) == 0:
        raise DataError("fedavg_float needs at least one parameter vector")
    if len(params) != len(weights):
        raise DataError(f"got {len(params)} parameter vectors but {len(weights)} weights")
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError(f"weights must be finite and non-negative, got {list(weights)}")
    total = float(w.sum())
    if total <= 0:
        raise DataError(f"total weight must be positive, got {total}")
    stacked = [np.asarray(p, dtype=np.float64) for p in params]
    shape = stacked[0].shape
    if len(shape) != 1 or any(p.shape != shape for p in stacked):
        raise DataError(f"parameter vectors must be 1-D of equal length, got {[p.shape for p in stacked]}")
    matrix = np.stack(stacked)
    if not np.all(np.isfinite(matrix)):
        raise DataError("parameter vectors contain NaN or inf")
    return np.asarray((w @ matrix) / total, dtype=np.float64)


@dataclass(frozen=True)
class TrainingContext:
    """What a hospital knows when it builds its round's submission (what an update source gets).

    Attributes:
        spec: The model architecture.
        global_params: The round's global model ``g`` (flat float vector).
        shard: The hospital's own training data.
        train_config: Its local training configuration (``seed`` also seeds the Gaussian attack).
        round_id: The federated round (>= 0); varies training shuffles and the attack noise.
        hospital: The hospital's index in the consortium (seeds the Gaussian attack).
        norm_bound: The round's public L2 bound on ``||u - g||``, or ``None`` where none is enforced.
    """

    spec: ModelSpec
    global_params: NDArray[np.float64]
    shard: Dataset
    train_config: TrainConfig
    round_id: int
    hospital: int
    norm_bound: float | None = None

    def train(self, shard: Dataset | None = None) -> NDArray[np.float64]:
        """Honest local training from ``g`` on ``shard`` (default: the hospital's own shard)."""
        data = self.shard if shard is None else shard
        return train_local(self.spec, self.global_params, data, self.train_config, round_id=self.round_id)
