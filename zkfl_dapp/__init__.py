"""zkFL dApp: verifiable, privacy-preserving federated learning for hospital consortia.

The package's folders are its layers; imports run one way, from the top of this list down (a test,
``tests/unit/test_layers.py``, keeps it so):

* :mod:`~zkfl_dapp.exceptions`, :mod:`~zkfl_dapp.config`: the error hierarchy and the settings.
* :mod:`~zkfl_dapp.core`: pure and deterministic: fixed point, commitments, the aggregation rules
  (FedAvg, median), norm bounds and their policy, the strict file formats.
* :mod:`~zkfl_dapp.ml`: the medical data set and its federated split, the models, local training.
* :mod:`~zkfl_dapp.storage`: IPFS-compatible content addressing (embedded store, Kubo RPC client).
* :mod:`~zkfl_dapp.crypto`: ML-KEM-768 + HKDF + AES-256-GCM envelopes to the enclave.
* :mod:`~zkfl_dapp.circuits`: the ezkl circuits (aggregation, norm, median, inference), their instance
  layouts and one build/prove/verify path.
* :mod:`~zkfl_dapp.chain`: the contracts' enums, typed views, deployment, the local anvil.
* :mod:`~zkfl_dapp.protocol`: the parties (hospital, enclave), the consortium and its round driver.
* :mod:`~zkfl_dapp.audit`, :mod:`~zkfl_dapp.prediction`: the independent audit of every round; proven
  private predictions from a finalized model.
* :mod:`~zkfl_dapp.apps`: entry points (``ape run`` options, chain sessions, the web-UI gateway).
* :mod:`~zkfl_dapp.experiments`: attacks, the attack evaluation and the benchmark; nothing imports it.

``core``, ``ml``, ``storage``, ``crypto``, ``circuits`` and ``chain`` import without ape, so an environment
without ape (a Flower app's) can use them. This module re-exports the public API lazily: importing
``zkfl_dapp`` loads nothing heavy until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "ZkflError": "zkfl_dapp.exceptions",
    "Settings": "zkfl_dapp.config",
    "quantize": "zkfl_dapp.core.fixedpoint",
    "dequantize": "zkfl_dapp.core.fixedpoint",
    "aggregate": "zkfl_dapp.core.aggregation",
    "normalized_weights": "zkfl_dapp.core.aggregation",
    "median_quantized": "zkfl_dapp.core.median",
    "NormBoundPolicy": "zkfl_dapp.core.policy",
    "ModelFile": "zkfl_dapp.core.formats",
    "UpdatePayload": "zkfl_dapp.core.formats",
    "Cid": "zkfl_dapp.storage",
    "Storage": "zkfl_dapp.storage",
    "EmbeddedStore": "zkfl_dapp.storage",
    "KuboRpcStore": "zkfl_dapp.storage",
    "compute_cid": "zkfl_dapp.storage",
    "open_storage": "zkfl_dapp.storage",
    "EnclaveKeyPair": "zkfl_dapp.crypto",
    "associated_data": "zkfl_dapp.crypto",
    "seal": "zkfl_dapp.crypto",
    "open_sealed": "zkfl_dapp.crypto",
    "G1Point": "zkfl_dapp.circuits.kzg",
    "KzgBasis": "zkfl_dapp.circuits.kzg",
    "CircuitSuite": "zkfl_dapp.circuits.suite",
    "CircuitProof": "zkfl_dapp.circuits.proving",
    "HospitalClient": "zkfl_dapp.protocol.hospital",
    "PreparedUpdate": "zkfl_dapp.protocol.hospital",
    "AggregatorEnclave": "zkfl_dapp.protocol.enclave",
    "Finalization": "zkfl_dapp.protocol.enclave",
    "SlotOutcome": "zkfl_dapp.protocol.enclave",
    "Consortium": "zkfl_dapp.protocol.consortium",
    "Roles": "zkfl_dapp.protocol.roles",
    "RoundReport": "zkfl_dapp.protocol.reports",
    "AuditReport": "zkfl_dapp.audit",
}

__all__ = [
    "AggregatorEnclave",
    "AuditReport",
    "Cid",
    "CircuitProof",
    "CircuitSuite",
    "Consortium",
    "EmbeddedStore",
    "EnclaveKeyPair",
    "Finalization",
    "G1Point",
    "HospitalClient",
    "KuboRpcStore",
    "KzgBasis",
    "ModelFile",
    "NormBoundPolicy",
    "PreparedUpdate",
    "Roles",
    "RoundReport",
    "Settings",
    "SlotOutcome",
    "Storage",
    "UpdatePayload",
    "ZkflError",
    "aggregate",
    "associated_data",
    "compute_cid",
    "dequantize",
    "median_quantized",
    "normalized_weights",
    "open_sealed",
    "open_storage",
    "quantize",
    "seal",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zkfl_dapp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from zkfl_dapp.audit import AuditReport
    from zkfl_dapp.circuits.kzg import G1Point, KzgBasis
    from zkfl_dapp.circuits.proving import CircuitProof
    from zkfl_dapp.circuits.suite import CircuitSuite
    from zkfl_dapp.config import Settings
    from zkfl_dapp.core.aggregation import aggregate, normalized_weights
    from zkfl_dapp.core.fixedpoint import dequantize, quantize
    from zkfl_dapp.core.formats import ModelFile, UpdatePayload
    from zkfl_dapp.core.median import median_quantized
    from zkfl_dapp.core.policy import NormBoundPolicy
    from zkfl_dapp.crypto import EnclaveKeyPair, associated_data, open_sealed, seal
    from zkfl_dapp.exceptions import ZkflError
    from zkfl_dapp.protocol.consortium import Consortium
    from zkfl_dapp.protocol.enclave import AggregatorEnclave, Finalization, SlotOutcome
    from zkfl_dapp.protocol.hospital import HospitalClient, PreparedUpdate
    from zkfl_dapp.protocol.reports import RoundReport
    from zkfl_dapp.protocol.roles import Roles
    from zkfl_dapp.storage import Cid, EmbeddedStore, KuboRpcStore, Storage, compute_cid, open_storage
