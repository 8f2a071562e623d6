"""zkFL dApp: verifiable, privacy-preserving federated learning for hospital consortia.

The public API, one concept per module:

* :mod:`~zkfl_dapp.data`, :mod:`~zkfl_dapp.model`, :mod:`~zkfl_dapp.training`: the medical data set,
  its federated split, the model and local training (and the plain float FedAvg baseline).
* :mod:`~zkfl_dapp.quantization`, :mod:`~zkfl_dapp.aggregation`: fixed-point values, commitments, and
  the exact weighted average that the circuit proves.
* :mod:`~zkfl_dapp.circuits`: the ezkl aggregation circuit: artifacts, proving, verification.
* :mod:`~zkfl_dapp.robust`, :mod:`~zkfl_dapp.robust_circuits`: the poisoning defence: norm bounds, the
  coordinate-wise median, the bound policy, and their circuits (norm proofs, median proofs).
* :mod:`~zkfl_dapp.attacks`, :mod:`~zkfl_dapp.attack_eval`: poisoning hospitals and the evaluation of the
  defences against them (``make attack-eval``).
* :mod:`~zkfl_dapp.crypto`: ML-KEM-768 + HKDF + AES-256-GCM envelopes to the enclave.
* :mod:`~zkfl_dapp.storage`: IPFS-compatible content addressing (embedded store, Kubo RPC client).
* :mod:`~zkfl_dapp.formats`: the model and update files that travel through the store.
* :mod:`~zkfl_dapp.hospital`, :mod:`~zkfl_dapp.enclave`, :mod:`~zkfl_dapp.consortium`: the protocol's parties.
* :mod:`~zkfl_dapp.publication`, :mod:`~zkfl_dapp.auditor`: what the system publishes, and the audit of
  every round from the chain and IPFS alone.
* :mod:`~zkfl_dapp.inference`, :mod:`~zkfl_dapp.prediction`: proven private predictions from a
  finalized global model.
* :mod:`~zkfl_dapp.gateway`: the loopback IPFS gateway and web-UI server.
* :mod:`~zkfl_dapp.chain`, :mod:`~zkfl_dapp.config`, :mod:`~zkfl_dapp.runner`, :mod:`~zkfl_dapp.cli`,
  :mod:`~zkfl_dapp.bench`: chain access, settings, entry points, the benchmark.
"""

from zkfl_dapp.aggregation import fedavg_quantized, normalized_weights
from zkfl_dapp.circuits import AggregationCircuitSpec, AggregationProof, CircuitArtifacts
from zkfl_dapp.config import Settings
from zkfl_dapp.consortium import Consortium, Roles, RoundReport
from zkfl_dapp.crypto import EnclaveKeyPair, associated_data, open_sealed, seal
from zkfl_dapp.enclave import AggregatorEnclave, Finalization, SlotOutcome
from zkfl_dapp.exceptions import ZkflError
from zkfl_dapp.formats import ModelFile, UpdatePayload
from zkfl_dapp.hospital import HospitalClient, PreparedUpdate
from zkfl_dapp.quantization import model_commitment, poseidon_commitment, quantize
from zkfl_dapp.storage import Cid, EmbeddedStore, KuboRpcStore, Storage, compute_cid, open_storage

__all__ = [
    "AggregationCircuitSpec",
    "AggregationProof",
    "AggregatorEnclave",
    "Cid",
    "CircuitArtifacts",
    "Consortium",
    "EmbeddedStore",
    "EnclaveKeyPair",
    "Finalization",
    "HospitalClient",
    "KuboRpcStore",
    "ModelFile",
    "PreparedUpdate",
    "Roles",
    "RoundReport",
    "Settings",
    "SlotOutcome",
    "Storage",
    "UpdatePayload",
    "ZkflError",
    "associated_data",
    "compute_cid",
    "fedavg_quantized",
    "model_commitment",
    "normalized_weights",
    "open_sealed",
    "open_storage",
    "poseidon_commitment",
    "quantize",
    "seal",
]
