"""The task, written as a Flower app writes it: its own PyTorch model (:class:`Net`), its own data loaders
(:func:`load_data`), plain ``train``/``test`` loops. None of it is zkFL's.

The app's zkFL wiring is the end of this file: the settings, the connected consortium, and ``hospital_for``
(the node's hospital: its account and the number of training examples its own loader holds, which it declares
on-chain). The only thing zkFL asks of the model is the deployed model's parameter count (31 for the default
consortium: 30 features and a bias) and no state beyond its parameters; the committed vector is its
``state_dict`` flattened in order.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch
from flwr.app import ArrayRecord, Context
from sklearn.datasets import load_breast_cancer
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from zkfl_dapp.config import Settings
from zkfl_dapp.protocol.hospital import HospitalClient
from zkfl_flower.consortium import DEV_FIRST_HOSPITAL, FlowerConsortium
from zkfl_flower.local import local_rpc_url

RESULT_FILE = "global-model.npz"
NUM_FEATURES = 30


# --- the app's own model and data ---------------------------------------------------------------------------


class Net(nn.Module):
    """The app's model: a linear risk score over the 30 features of a breast-cancer biopsy (31 parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(NUM_FEATURES, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(x).squeeze(-1)
        return out


@functools.cache
def _partitions(num_partitions: int, seed: int = 42) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """The app's split of scikit-learn's breast-cancer set: a held-out fifth, the rest in ``num_partitions`` parts
    (shuffled, near-equal), standardised with the training part's mean and std (the app's own choice)."""
    x, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(y))
    held_out = -(-len(y) // 5)  # a fifth, rounded up
    test, train = order[:held_out], order[held_out:]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    scaled = ((x - mean) / std).astype(np.float32)
    return list(np.array_split(train, num_partitions)), test, scaled, y.astype(np.float32)


def load_data(partition_id: int, num_partitions: int, batch_size: int = 32) -> tuple[DataLoader, DataLoader]:
    """This node's training loader and the shared test loader."""
    parts, test, x, y = _partitions(num_partitions)
    mine = parts[partition_id]
    generator = torch.Generator().manual_seed(partition_id)
    train_set = TensorDataset(torch.from_numpy(x[mine]), torch.from_numpy(y[mine]))
    test_set = TensorDataset(torch.from_numpy(x[test]), torch.from_numpy(y[test]))
    return DataLoader(train_set, batch_size, shuffle=True, generator=generator), DataLoader(test_set, batch_size)


def train(net: nn.Module, trainloader: DataLoader, *, epochs: int, lr: float) -> float:
    """Plain SGD on BCE-with-logits; returns the last epoch's mean loss."""
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    net.train()
    total = 0.0
    for _ in range(epochs):
        total = 0.0
        for xb, yb in trainloader:
            optimizer.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
    return total / len(trainloader.dataset)  # type: ignore[arg-type]


def test(net: nn.Module, testloader: DataLoader) -> tuple[float, float]:
    """(mean loss, accuracy) on the test loader."""
    net.eval()
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    loss, correct, n = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in testloader:
            logits = net(xb)
            loss += float(loss_fn(logits, yb))
            correct += int(((logits > 0).float() == yb).sum())
            n += len(yb)
    return loss / n, correct / n


# --- the app's zkFL wiring ----------------------------------------------------------------------------------


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
    """The deployed consortium, connected once per process (and per settings); the app's model checked against it."""
    s = settings(run_config)
    rpc_url = str(run_config.get("zkfl-rpc-url") or local_rpc_url(s))
    key = (s.model_dump_json(), rpc_url)
    if key not in _CONNECTED:
        connected = FlowerConsortium.connect(s, rpc_url)
        connected.check_model(Net())  # the deployed model's size, and parameters only
        _CONNECTED[key] = connected
    return _CONNECTED[key]


def hospital_for(context: Context) -> tuple[FlowerConsortium, HospitalClient]:
    """This node's hospital: partition ``i`` of the app's data, acting with the development account of hospital
    ``i``, declaring its training loader's size."""
    c = consortium(dict(context.run_config))
    index = int(context.node_config["partition-id"])
    trainloader, _ = load_data(index, int(context.node_config["num-partitions"]))
    examples = len(trainloader.dataset)  # type: ignore[arg-type]
    return c, c.hospital(index, c.dev_account(DEV_FIRST_HOSPITAL + index), num_examples=examples)


def save_result(run_config: dict[str, Any], arrays: ArrayRecord) -> Path:
    """The run's final global model, as the strategy returned it, to ``<workdir>/flower/global-model.npz``."""
    path = settings(run_config).workdir / "flower" / RESULT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{key: a.numpy() for key, a in arrays.items()})
    return path
