"""Proven predictions: :func:`prove_prediction` proves the risk with the inference circuit (features
private, model public and equal to the round's ModelFile values); :func:`verify_prediction_offchain`
checks it with ezkl; :func:`record_prediction` submits it to ``PredictionRegistry``, which accepts it
only for the model the chain finalized in that round, and returns the receipt (the
``PredictionRecorded`` event).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from eth_utils import keccak
from numpy.typing import ArrayLike

from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.circuits.artifacts import verify_offchain
from zkfl_dapp.circuits.inference import InferenceArtifacts, InferenceProof, prove_inference
from zkfl_dapp.core.commitments import model_commitment
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.exceptions import ChainError, CircuitError

# --- proving and recording ----------------------------------------------------------------------


@dataclass(frozen=True)
class Prediction:
    """A proven prediction, ready for the chain."""

    proof: InferenceProof
    risk: int  # round(P(y = 1) * 2^scale_bits), as the chain records it
    probability: float  # risk / 2^scale_bits
    float_probability: float  # the floating-point sigmoid of the same quantized model

    @property
    def proof_hash(self) -> bytes:
        return keccak(self.proof.proof)


@dataclass(frozen=True)
class PredictionReceipt:
    """What ``PredictionRegistry`` recorded (from its ``PredictionRecorded`` event)."""

    round_id: int
    requester: str
    risk: int
    proof_hash: str
    tx_hash: str
    gas_used: int


def float_probability(model: ModelFile, features_std: ArrayLike) -> float:
    """The floating-point model's probability for the same quantized parameters (dequantized)."""
    params = np.asarray(model.values, dtype=np.float64) / float(2**model.scale_bits)
    logit = float(np.dot(np.asarray(features_std, dtype=np.float64), params[:-1]) + params[-1])
    return 1.0 / (1.0 + math.exp(-logit))


def prove_prediction(
    artifacts: InferenceArtifacts, model_file: ModelFile, features_std: ArrayLike, workdir: Path
) -> Prediction:
    """Prove the risk ``model_file`` gives the standardized features (kept private in the proof).

    Raises:
        CircuitError: the model does not fit the circuit, or proving failed.
    """
    spec = artifacts.spec
    if model_file.model_kind != "logreg" or model_file.num_features != spec.num_features:
        raise CircuitError(
            f"the inference circuit takes a logreg model over {spec.num_features} features, "
            f"got {model_file.model_kind} over {model_file.num_features}"
        )
    if model_file.scale_bits != spec.scale_bits:
        raise CircuitError(f"model scale 2^{model_file.scale_bits} differs from the circuit's 2^{spec.scale_bits}")
    proof = prove_inference(artifacts, np.asarray(features_std, dtype=np.float64).tolist(), model_file.values, workdir)
    risk = proof.risk
    return Prediction(proof, risk, risk / float(2**spec.scale_bits), float_probability(model_file, features_std))


def verify_prediction_offchain(artifacts: InferenceArtifacts, prediction: Prediction, model_file: ModelFile) -> bool:
    """ezkl accepts the proof, and its model instances are exactly ``model_file`` (the round's model)."""
    if model_commitment(prediction.proof.model_values) != model_file.keccak_commitment():
        return False
    return verify_offchain(artifacts, prediction.proof.proof_path)


def record_prediction(registry: Any, round_id: int, prediction: Prediction, sender: Any) -> PredictionReceipt:
    """Submit the proof to ``PredictionRegistry`` and return the receipt of its ``PredictionRecorded`` event."""
    tx = registry.recordPrediction(round_id, prediction.proof.proof, list(prediction.proof.instances), sender=sender)
    events = list(tx.events.filter(registry.PredictionRecorded))
    if len(events) != 1:
        raise ChainError(f"expected one PredictionRecorded event in {tx.txn_hash}, got {len(events)}")
    (event,) = events
    return PredictionReceipt(
        round_id=int(event.roundId),
        requester=str(event.requester),
        risk=int(event.risk),
        proof_hash="0x" + bytes(event.proofHash).hex(),
        tx_hash=str(tx.txn_hash),
        gas_used=int(tx.gas_used),
    )


def latest_finalized_round(round_manager: Any) -> int:
    """The id of the newest finalized round.

    Raises:
        ChainError: no round has been finalized yet.
    """
    for round_id in range(int(round_manager.currentRoundId()), 0, -1):
        if read_round(round_manager, round_id).phase == Phase.FINALIZED:
            return round_id
    raise ChainError("no round has been finalized yet: there is no proven global model to predict with")

