"""Verifiable risk predictions: a patient record in, a proof bound to a finalized global model out.

1. :class:`PatientRecord` parses a patient file: CSV (a header row of the 30 breast-cancer feature names
   as in scikit-learn's ``load_breast_cancer().feature_names``, then exactly one data row) or JSON
   (``{"features": {name: value, ...}}``). Every problem is a :class:`PatientRecordError` naming the field.
2. The raw clinical values are standardized with the consortium's training-set statistics
   (:func:`zkfl_dapp.data.training_statistics`), as the models were trained.
3. :func:`prove_prediction` proves the risk with the inference circuit (features private, model public
   and equal to the round's ModelFile values); :func:`verify_prediction_offchain` checks it with ezkl;
4. :func:`record_prediction` submits it to ``PredictionRegistry``, which accepts it only for the model
   the chain finalized in that round, and returns the receipt (the ``PredictionRecorded`` event).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from eth_utils import keccak
from numpy.typing import ArrayLike, NDArray

from zkfl_dapp.chain import Phase
from zkfl_dapp.circuits import verify_offchain
from zkfl_dapp.data import FeatureStatistics
from zkfl_dapp.exceptions import ChainError, CircuitError, PatientRecordError
from zkfl_dapp.formats import ModelFile
from zkfl_dapp.inference import (
    InferenceArtifacts,
    InferenceProof,
    prove_inference,
)
from zkfl_dapp.quantization import model_commitment

#: Largest accepted patient file (a record is a few kilobytes).
MAX_RECORD_BYTES = 1 << 20


@dataclass(frozen=True)
class PatientRecord:
    """One patient's raw (unstandardized) feature values, in the consortium's feature order."""

    feature_names: tuple[str, ...]
    values: tuple[float, ...]

    def standardized(self, stats: FeatureStatistics) -> NDArray[np.float64]:
        """The features on the training scale of the consortium's models."""
        if stats.feature_names != self.feature_names:
            raise PatientRecordError("the record's features are not the consortium's features")
        return stats.standardize(np.asarray(self.values, dtype=np.float64))

    def to_json(self) -> str:
        return json.dumps({"features": dict(zip(self.feature_names, self.values, strict=True))}, indent=2)

    # --- parsing ----------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, fields: Mapping[str, Any], feature_names: Sequence[str], *, where: str) -> PatientRecord:
        """Validate ``{name: value}``: every feature present, no unknown name, every value a finite number."""
        names = tuple(feature_names)
        missing = [n for n in names if n not in fields]
        unknown = sorted(str(k) for k in fields if k not in names)
        problems = []
        if missing:
            problems.append(f"missing field(s) {', '.join(repr(n) for n in missing)}")
        if unknown:
            problems.append(f"unknown field(s) {', '.join(repr(n) for n in unknown)}")
        if problems:
            raise PatientRecordError(f"{where}: {'; '.join(problems)} (expected the {len(names)} features {names})")
        values = []
        for name in names:
            raw = fields[name]
            if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                raise PatientRecordError(f"{where}: field {name!r} must be a number, got {raw!r}")
            try:
                value = float(raw.strip()) if isinstance(raw, str) else float(raw)
            except ValueError:
                raise PatientRecordError(f"{where}: field {name!r} is not numeric: {raw!r}") from None
            if not math.isfinite(value):
                raise PatientRecordError(f"{where}: field {name!r} is {raw!r}: values must be finite numbers")
            values.append(value)
        return cls(names, tuple(values))

    @classmethod
    def parse_json(cls, text: str, feature_names: Sequence[str], *, where: str = "patient file") -> PatientRecord:
        def reject_constant(token: str) -> float:
            raise PatientRecordError(f"{where}: {token} is not a valid value (values must be finite numbers)")

        try:
            data = json.loads(text, parse_constant=reject_constant)
        except json.JSONDecodeError as exc:
            raise PatientRecordError(f"{where} is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or set(data) != {"features"} or not isinstance(data["features"], dict):
            raise PatientRecordError(f'{where}: expected a JSON object {{"features": {{name: value, ...}}}}')
        return cls.from_mapping(data["features"], feature_names, where=where)

    @classmethod
    def parse_csv(cls, text: str, feature_names: Sequence[str], *, where: str = "patient file") -> PatientRecord:
        rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
        if len(rows) < 2:
            raise PatientRecordError(f"{where}: a CSV record needs a header row of feature names and one data row")
        if len(rows) > 2:
            raise PatientRecordError(
                f"{where}: a CSV record holds exactly one patient, found {len(rows) - 1} data rows"
            )
        header, row = [h.strip() for h in rows[0]], rows[1]
        if len(set(header)) != len(header):
            duplicates = sorted({h for h in header if header.count(h) > 1})
            raise PatientRecordError(f"{where}: duplicate column(s) {duplicates}")
        if len(row) != len(header):
            raise PatientRecordError(f"{where}: the header has {len(header)} columns, the data row {len(row)}")
        return cls.from_mapping(dict(zip(header, row, strict=True)), feature_names, where=where)

    @classmethod
    def load(cls, path: Path, feature_names: Sequence[str]) -> PatientRecord:
        """Read a ``.csv`` or ``.json`` patient file (by extension; otherwise by its first character)."""
        where = f"patient file {path}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PatientRecordError(f"cannot read {where}: {exc.strerror or exc}") from None
        if len(data) > MAX_RECORD_BYTES:
            raise PatientRecordError(f"{where} is larger than {MAX_RECORD_BYTES} bytes")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PatientRecordError(f"{where} is not UTF-8 text") from None
        if not text.strip():
            raise PatientRecordError(f"{where} is empty")
        suffix = path.suffix.lower()
        if suffix == ".json" or (suffix != ".csv" and text.lstrip().startswith("{")):
            return cls.parse_json(text, feature_names, where=where)
        return cls.parse_csv(text, feature_names, where=where)


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
    if model_commitment(prediction.proof.model_values) != model_file.commitment():
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
        if int(round_manager.getRound(round_id).phase) == Phase.FINALIZED:
            return round_id
    raise ChainError("no round has been finalized yet: there is no proven global model to predict with")


# --- deployment of the registry -----------------------------------------------------------------


def registry_file(workdir: Path) -> Path:
    """Where the PredictionRegistry deployment of a consortium workdir is recorded."""
    return workdir / "prediction-registry.json"


def deploy_prediction_registry(project: Any, round_manager: Any, sender: Any) -> tuple[Any, Any]:
    """Deploy the InferenceVerifier and a PredictionRegistry bound to ``round_manager``; returns both."""
    verifier = project.InferenceVerifier.deploy(sender=sender)
    registry = project.PredictionRegistry.deploy(round_manager.address, verifier.address, sender=sender)
    return registry, verifier


def ensure_prediction_registry(project: Any, chain: Any, round_manager: Any, workdir: Path, sender: Any) -> Any:
    """The consortium's PredictionRegistry: the one recorded in ``workdir``, deployed (and recorded) on first use.

    A record for another chain or round manager, or an address without code, is replaced by a new deployment.
    """
    path = registry_file(workdir)
    if path.exists():
        try:
            record = json.loads(path.read_text())
            address = record["contracts"]["PredictionRegistry"]
            same = (
                int(record["chain_id"]) == int(chain.chain_id)
                and str(record["round_manager"]).lower() == str(round_manager.address).lower()
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ChainError(f"prediction registry record {path} is malformed: {exc}") from exc
        if same and chain.provider.get_code(address):
            return project.PredictionRegistry.at(address)
    registry, verifier = deploy_prediction_registry(project, round_manager, sender)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "chain_id": int(chain.chain_id),
                "round_manager": str(round_manager.address),
                "contracts": {"PredictionRegistry": str(registry.address), "InferenceVerifier": str(verifier.address)},
            },
            indent=2,
            sort_keys=True,
        )
    )
    return registry


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

    from zkfl_dapp.hospital import fetch_global_model
    from zkfl_dapp.model import ModelSpec

    if round_id is None:
        round_id = latest_finalized_round(round_manager)
    info = round_manager.getRound(round_id)
    phase = Phase(int(info.phase))
    if phase == Phase.NONE:
        raise ChainError(f"round {round_id} does not exist (the latest round is {int(round_manager.currentRoundId())})")
    if phase != Phase.FINALIZED:
        raise ChainError(f"round {round_id} is {phase.name.lower()}, not finalized: it has no proven global model")
    model_spec = ModelSpec(num_features=artifacts.spec.num_features)
    model = fetch_global_model(storage, model_spec, int(info.newModelCommitment), str(info.newModelCid))
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
        model_cid=str(info.newModelCid),
        model_commitment=hex(int(info.newModelCommitment)),
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
