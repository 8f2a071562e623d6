"""The whole prediction flow behind ``ape run predict``: patient file in, recorded proven risk out.

The round's aggregate ``S`` (the ``d + P`` integers RoundManager committed to) comes from the caller's
``load_aggregate(round_id, cid)``: how the consortium publishes it is the protocol layer's business. The flow
checks it against the round's on-chain commitment *before* proving (a wrong file fails fast and clearly;
the chain would reject the proof anyway).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.views import model_record
from zkfl_dapp.circuits.kzg import KzgError, commit
from zkfl_dapp.circuits.kzg_inference import KzgInferenceArtifacts
from zkfl_dapp.circuits.proving import sweep_stale_scratch
from zkfl_dapp.exceptions import ChainError, CircuitError, CommitmentMismatchError
from zkfl_dapp.ml.data import FeatureStatistics
from zkfl_dapp.prediction.patient import PatientRecord
from zkfl_dapp.prediction.proofs import (
    PredictionReceipt,
    latest_finalized_round,
    prove_prediction,
    record_prediction,
    round_model_commitment,
    round_phase,
    verify_prediction_offchain,
)
from zkfl_dapp.prediction.registry import ensure_prediction_registry

#: ``load_aggregate(round_id, model_cid)``: the round's aggregate ``S`` (``d + P`` integers, scale ``2**26``).
AggregateLoader = Callable[[int, str], Sequence[int]]


def aggregate_from_storage(storage: Any) -> AggregateLoader:
    """A loader reading the round's aggregate as the ``values`` of the ModelFile stored under its CID (the
    commitment check in :func:`predict_for_round` decides whether it is the committed one)."""
    from zkfl_dapp.core.formats import ModelFile

    def load(_round_id: int, cid: str) -> Sequence[int]:
        return ModelFile.parse(storage.get(cid)).values

    return load


@dataclass(frozen=True)
class PredictionReport:
    """Everything ``ape run predict`` prints."""

    round_id: int
    model_cid: str
    model_commitment: str
    logit: int
    probability: float
    float_probability: float
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
    artifacts: KzgInferenceArtifacts,
    record: PatientRecord,
    stats: FeatureStatistics,
    load_aggregate: AggregateLoader,
    workdir: Path,
    sender: Any,
    round_id: int | None = None,
    deployer: Any = None,
) -> PredictionReport:
    """Standardize, prove, verify off-chain, record on-chain: the patient's risk under round ``round_id``'s model
    (default: the latest finalized round), requested by ``sender``. The PredictionRegistry is deployed on first
    use (by ``deployer``, default ``sender``: the consortium admin) and recorded on-chain in the ConsortiumRegistry.

    Raises:
        ChainError: no such finalized round, or the chain rejected the proof.
        CommitmentMismatchError: the loaded aggregate does not match the round's on-chain model commitment.
        CircuitError: proving failed or the proof does not verify off-chain.
    """
    sweep_stale_scratch(workdir)  # a killed prediction's plaintext features
    if round_id is None:
        round_id = latest_finalized_round(round_manager)
    phase = round_phase(round_manager, round_id)
    if phase == Phase.NONE:
        raise ChainError(f"round {round_id} does not exist (the latest round is {int(round_manager.currentRoundId())})")
    if phase != Phase.FINALIZED:
        raise ChainError(f"round {round_id} is {phase.name.lower()}, not finalized: it has no global model")
    expected = round_model_commitment(round_manager, round_id)
    _, cid = model_record(round_manager, round_id)
    aggregate = [int(v) for v in load_aggregate(round_id, str(cid))]
    try:
        committed = len(aggregate) == artifacts.spec.model_rows and commit(aggregate, artifacts.basis())[0] == expected
    except KzgError as exc:
        raise CircuitError(f"cannot commit to the aggregate of round {round_id}: {exc}") from exc
    if not committed:
        raise CommitmentMismatchError(
            f"the aggregate loaded for round {round_id} ({cid}) does not match its on-chain model commitment"
        )
    prediction = prove_prediction(
        artifacts, aggregate, record.standardized(stats), str(sender.address), workdir / "proofs" / f"round-{round_id}"
    )
    t0 = time.perf_counter()
    ok = verify_prediction_offchain(artifacts, prediction, expected)
    verify_seconds = time.perf_counter() - t0
    if not ok:
        raise CircuitError("the prediction proof does not verify off-chain")
    registry = ensure_prediction_registry(project, chain, round_manager, deployer or sender)
    receipt = record_prediction(registry, round_id, prediction, sender)
    return PredictionReport(
        round_id=round_id,
        model_cid=str(cid),
        model_commitment=f"({expected.x:#x}, {expected.y:#x})",
        logit=prediction.logit,
        probability=prediction.probability,
        float_probability=prediction.float_probability,
        verified_offchain=ok,
        prove_seconds=prediction.proof.prove_seconds,
        verify_seconds=verify_seconds,
        proof_bytes=len(prediction.proof.proof),
        receipt=receipt,
        registry=str(registry.address),
    )
