"""The whole prediction flow behind ``ape run predict``: patient file in, recorded proven risk out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.circuits.inference import InferenceArtifacts
from zkfl_dapp.exceptions import ChainError, CircuitError
from zkfl_dapp.ml.data import FeatureStatistics
from zkfl_dapp.prediction.patient import PatientRecord
from zkfl_dapp.prediction.proofs import (
    PredictionReceipt,
    latest_finalized_round,
    prove_prediction,
    record_prediction,
    verify_prediction_offchain,
)
from zkfl_dapp.prediction.registry import ensure_prediction_registry

# --- the whole flow (``ape run predict``) -------------------------------------------------------


@dataclass(frozen=True)
class PredictionReport:
    """Everything ``ape run predict`` prints."""

    round_id: int
    model_cid: str
    model_commitment: str
    probability: float
    float_probability: float
    risk: int
    verified_offchain: bool
    prove_seconds: float
    verify_seconds: float
    proof_bytes: int
    receipt: PredictionReceipt
    registry: str


def predict_for_round(
    *,
    project: Any,
    chain: Any,
    round_manager: Any,
    storage: Any,
    artifacts: InferenceArtifacts,
    record: PatientRecord,
    stats: FeatureStatistics,
    workdir: Path,
    sender: Any,
    round_id: int | None = None,
    deployer: Any = None,
) -> PredictionReport:
    """Standardize, prove, verify off-chain, record on-chain: the patient's risk under round ``round_id``'s model
    (default: the latest finalized round). The PredictionRegistry is deployed on first use (by ``deployer``,
    default ``sender``) and recorded in ``<workdir>/prediction-registry.json``.

    Raises:
        ChainError: no such finalized round, or the chain rejected the proof.
        CommitmentMismatchError: the stored model does not match the round's on-chain commitment.
        CircuitError: proving failed or the proof does not verify off-chain.
    """
    import time

    from zkfl_dapp.ml.model import ModelSpec
    from zkfl_dapp.protocol.hospital import fetch_global_model

    if round_id is None:
        round_id = latest_finalized_round(round_manager)
    info = read_round(round_manager, round_id)
    phase = info.phase
    if phase == Phase.NONE:
        raise ChainError(f"round {round_id} does not exist (the latest round is {int(round_manager.currentRoundId())})")
    if phase != Phase.FINALIZED:
        raise ChainError(f"round {round_id} is {phase.name.lower()}, not finalized: it has no proven global model")
    model_spec = ModelSpec(num_features=artifacts.spec.num_features)
    model = fetch_global_model(
        storage, model_spec, info.new_model_commitment, info.new_model_cid, scale_bits=artifacts.spec.scale_bits
    )
    prediction = prove_prediction(
        artifacts, model, record.standardized(stats), workdir / "proofs" / f"round-{round_id}"
    )
    t0 = time.perf_counter()
    ok = verify_prediction_offchain(artifacts, prediction, model)
    verify_seconds = time.perf_counter() - t0
    if not ok:
        raise CircuitError("the prediction proof does not verify off-chain")
    registry = ensure_prediction_registry(project, chain, round_manager, workdir, deployer or sender)
    receipt = record_prediction(registry, round_id, prediction, sender)
    return PredictionReport(
        round_id=round_id,
        model_cid=info.new_model_cid,
        model_commitment=hex(info.new_model_commitment),
        probability=prediction.probability,
        float_probability=prediction.float_probability,
        risk=prediction.risk,
        verified_offchain=ok,
        prove_seconds=prediction.proof.prove_seconds,
        verify_seconds=verify_seconds,
        proof_bytes=len(prediction.proof.proof),
        receipt=receipt,
        registry=str(registry.address),
    )

