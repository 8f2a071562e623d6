"""The task: the consortium's logistic regression on its breast-cancer split, trained with plain torch.

Also the app's zkFL wiring (settings, the connected consortium, the node's hospital), built once per process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from flwr.app import ArrayRecord, Context
from torch import nn

from zkfl_dapp.config import Settings
from zkfl_dapp.ml.data import Dataset
from zkfl_dapp.protocol.hospital import HospitalClient
from zkfl_flower.consortium import DEV_FIRST_HOSPITAL, FlowerConsortium
from zkfl_flower.local import local_rpc_url

RESULT_FILE = "global-model.npz"


def settings(run_config: dict[str, Any]) -> Settings:
    """The consortium's settings: the ZKFL_* environment, overridden by the non-empty ``zkfl-*`` run config."""
    overrides: dict[str, Any] = {}
    if run_config.get("zkfl-workdir"):
        overrides["workdir"] = Path(str(run_config["zkfl-workdir"]))
    if run_config.get("zkfl-hospitals"):
        overrides["hospitals"] = int(run_config["zkfl-hospitals"])
    return Settings(**overrides)


_CONNECTED: dict[tuple[str, str], FlowerConsortium] = {}


def consortium(run_config: dict[str, Any]) -> FlowerConsortium:
    """The deployed consortium, connected once per process (and per settings)."""
    s = settings(run_config)
    rpc_url = str(run_config.get("zkfl-rpc-url") or local_rpc_url(s))
    key = (s.model_dump_json(), rpc_url)
    if key not in _CONNECTED:
        _CONNECTED[key] = FlowerConsortium.connect(s, rpc_url)
    return _CONNECTED[key]


def hospital_for(context: Context) -> tuple[FlowerConsortium, HospitalClient]:
    """This node's hospital: partition ``i`` of the split, acting with the development account of hospital ``i``."""
    c = consortium(dict(context.run_config))
    index = int(context.node_config["partition-id"])
    return c, c.hospital(index, c.dev_account(DEV_FIRST_HOSPITAL + index))


def build_model(run_config: dict[str, Any]) -> nn.Module:
    """The consortium's model architecture (its ModelSpec's torch module)."""
    return consortium(run_config).spec.build()


def load_data(run_config: dict[str, Any], partition_id: int) -> tuple[Dataset, Dataset]:
    """Hospital ``partition_id``'s training shard and the shared held-out test set."""
    split = consortium(run_config).split
    return split.shards[partition_id], split.test


def train(model: nn.Module, data: Dataset, *, epochs: int, lr: float, batch_size: int, seed: int) -> float:
    """Plain mini-batch SGD on BCE-with-logits; returns the last epoch's mean loss."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    x, y = torch.tensor(data.x), torch.tensor(data.y)
    model.train()
    loss_sum = 0.0
    for _ in range(epochs):
        loss_sum = 0.0
        order = torch.randperm(data.num_samples, generator=generator)
        for start in range(0, data.num_samples, batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
    return loss_sum / data.num_samples


def evaluate(model: nn.Module, data: Dataset) -> tuple[float, float]:
    """(mean loss, accuracy) on ``data``."""
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor(data.x))
        loss = float(nn.BCEWithLogitsLoss()(logits, torch.tensor(data.y)))
        acc = float(((logits > 0).float() == torch.tensor(data.y)).float().mean())
    return loss, acc


def save_result(run_config: dict[str, Any], arrays: ArrayRecord) -> Path:
    """The run's final global model, as the strategy returned it, to ``<workdir>/flower/global-model.npz``."""
    path = settings(run_config).workdir / "flower" / RESULT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{key: a.numpy() for key, a in arrays.items()})
    return path
