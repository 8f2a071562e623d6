"""zkFL for Flower apps: keep your ``ClientApp``/``ServerApp``, make every aggregate verifiable on-chain.

* :class:`ZkflStrategy` wraps Flower's ``FedAvg`` (or ``FedMedian``): rounds are opened, aggregated by the
  enclave from the chain's submissions and finalized on-chain; the global model is the finalized one.
* :func:`zkfl_mod` is a ``ClientApp`` mod: the client trains from the chain's verified model, and its update
  is committed, norm-proven, sealed to the enclave and submitted on-chain instead of sent to the server.
* :class:`FlowerConsortium` connects both to a deployment over web3.py (ape cannot share an environment
  with flwr; :mod:`.chain` speaks the subset of ape's contract interface the parties use).

Needs the ``flower`` extra's environment (``make flower-env``: ``.venv-flower``). Importing this package
loads nothing heavy until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "ZkflStrategy": "zkfl_flower.strategy",
    "zkfl_mod": "zkfl_flower.mod",
    "TrainedParameters": "zkfl_flower.mod",
    "FlowerConsortium": "zkfl_flower.consortium",
    "Chain": "zkfl_flower.chain",
    "Contract": "zkfl_flower.chain",
    "dev_account": "zkfl_flower.chain",
}

__all__ = [
    "Chain",
    "Contract",
    "FlowerConsortium",
    "TrainedParameters",
    "ZkflStrategy",
    "dev_account",
    "zkfl_mod",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zkfl_flower' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from zkfl_flower.chain import Chain, Contract, dev_account
    from zkfl_flower.consortium import FlowerConsortium
    from zkfl_flower.mod import TrainedParameters, zkfl_mod
    from zkfl_flower.strategy import ZkflStrategy
