"""Proven predictions over the committed global model.

:func:`prove_prediction` proves the logit that a finalized round's aggregate ``S`` gives a patient's
standardized features (private, hidden behind a random pad in the proof's second point) for one requester
(:mod:`zkfl_dapp.circuits.kzg_inference`); :func:`verify_prediction_offchain` checks it with ezkl and checks
that its first point is the round's model commitment; :func:`record_prediction` submits it to
``PredictionRegistry``, which accepts it only for that round's model and that caller, and returns the
receipt (the ``PredictionRecorded`` event).

The circuit proves the *logit* (scale ``2**26``); the risk is :func:`risk_of_logit`, the logistic
function of it. That function is public and monotone, so applying it outside the circuit loses nothing:
anyone recomputes the same probability from the recorded logit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

import numpy as np
from eth_utils import keccak
from numpy.typing import ArrayLike

from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.views import model_record
from zkfl_dapp.circuits.kzg import G1Point
from zkfl_dapp.circuits.kzg_inference import (
    KzgInferenceArtifacts,
    KzgInferenceProof,
    prove_kzg_inference,
    verify_kzg_inference_offchain,
)
from zkfl_dapp.exceptions import ChainError, CircuitError

#: Scale bits of the proven logit (``2 * scale_bits`` of the consortium's updates).
LOGIT_SCALE_BITS = 26


def risk_of_logit(logit: int, scale_bits: int = LOGIT_SCALE_BITS) -> float:
    """``P(y = 1) = sigmoid(logit / 2**scale_bits)``."""
    return _sigmoid(logit / float(1 << scale_bits))


def _sigmoid(z: float) -> float:
    """The logistic function, numerically stable for any sign."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Prediction:
    """A proven prediction, ready for the chain."""

    proof: KzgInferenceProof
    logit: int  # scale 2**26, as the chain records it
    probability: float  # risk_of_logit(logit)
    float_probability: float  # the floating-point logistic model over the same aggregate and features

    @property
    def proof_hash(self) -> bytes:
        return keccak(self.proof.proof)


@dataclass(frozen=True)
class PredictionReceipt:
    """What ``PredictionRegistry`` recorded (from its ``PredictionRecorded`` event)."""

    round_id: int
    requester: str
    logit: int
    probability: float  # risk_of_logit(logit)
    proof_hash: str
    tx_hash: str
    gas_used: int


def float_probability(aggregate: Sequence[int], features_std: ArrayLike, scale_bits: int = LOGIT_SCALE_BITS) -> float:
    """The floating-point model's probability for the aggregate's model rows (dequantized)."""
    x = np.asarray(features_std, dtype=np.float64)
    params = np.asarray([int(v) for v in aggregate[: len(x) + 1]], dtype=np.float64) / float(1 << scale_bits)
    z = float(np.dot(x, params[:-1]) + params[-1])
    return _sigmoid(z)


def prove_prediction(
    artifacts: KzgInferenceArtifacts,
    aggregate: Sequence[int],
    features_std: ArrayLike,
    requester: str | int,
    workdir: Path,
    *,
    rng: Random | None = None,
) -> Prediction:
    """Prove the logit the round's aggregate ``S`` (``d + P`` values at scale ``2**26``, exactly as committed
    on-chain) gives the standardized features, for ``requester`` (the address that will record it).

    Raises:
        CircuitError: the inputs do not fit the circuit, or proving failed.
    """
    features = np.asarray(features_std, dtype=np.float64).tolist()
    proof = prove_kzg_inference(artifacts, aggregate, features, requester, workdir, rng=rng)
    scale = artifacts.spec.logit_scale_bits
    return Prediction(
        proof, proof.logit, risk_of_logit(proof.logit, scale), float_probability(aggregate, features, scale)
    )


def round_model_commitment(round_manager: Any, round_id: int) -> G1Point:
    """The round's model commitment ``C(S)`` (its RoundFinalized event, checked against RoundManager.modelOf).

    Raises:
        CircuitError: the model is committed in chunks: the inference circuit takes one committed vector
            (a chunked model's predictions are not supported; see docs/operators.md, "Proven predictions").
    """
    commitment, _cid = model_record(round_manager, round_id)
    if len(commitment) != 1:
        raise CircuitError(
            f"round {round_id}'s model is committed in {len(commitment)} chunks: proven predictions need a model "
            "committed as one vector (the inference circuit takes one)"
        )
    (point,) = commitment
    return G1Point(int(point[0]), int(point[1]))


def verify_prediction_offchain(
    artifacts: KzgInferenceArtifacts, prediction: Prediction, model_commitment: G1Point | None = None
) -> bool:
    """ezkl accepts the proof, and (when given) its first point is ``model_commitment`` (the round's model)."""
    if model_commitment is not None and prediction.proof.model_commitment != model_commitment:
        return False
    return verify_kzg_inference_offchain(artifacts, prediction.proof)


def record_prediction(registry: Any, round_id: int, prediction: Prediction, sender: Any) -> PredictionReceipt:
    """Submit the proof to ``PredictionRegistry`` and return the receipt of its ``PredictionRecorded`` event."""
    tx = registry.recordPrediction(round_id, prediction.proof.proof, list(prediction.proof.instances), sender=sender)
    events = list(tx.events.filter(registry.PredictionRecorded))
    if len(events) != 1:
        raise ChainError(f"expected one PredictionRecorded event in {tx.txn_hash}, got {len(events)}")
    (event,) = events
    logit = int(event.logit)
    return PredictionReceipt(
        round_id=int(event.roundId),
        requester=str(event.requester),
        logit=logit,
        probability=risk_of_logit(logit, int(registry.LOGIT_SCALE_BITS())),
        proof_hash="0x" + bytes(event.proofHash).hex(),
        tx_hash=str(tx.txn_hash),
        gas_used=int(tx.gas_used),
    )


def round_phase(round_manager: Any, round_id: int) -> Phase:
    return Phase(int(round_manager.getRound(round_id).phase))


def latest_finalized_round(round_manager: Any) -> int:
    """The id of the newest finalized round.

    Raises:
        ChainError: no round has been finalized yet.
    """
    for round_id in range(int(round_manager.currentRoundId()), 0, -1):
        if round_phase(round_manager, round_id) == Phase.FINALIZED:
            return round_id
    raise ChainError("no round has been finalized yet: there is no proven global model to predict with")
