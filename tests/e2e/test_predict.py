"""End to end: a consortium trains and finalizes a round on the test chain, then a patient's app proves and
records a risk prediction under that round's model (features private, model bound to the chain)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ape
import pytest

from zkfl_dapp.circuits.kzg_inference import KzgInferenceArtifacts as InferenceArtifacts
from zkfl_dapp.circuits.kzg_inference import build_inference_circuit
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import ChainError
from zkfl_dapp.ml.data import training_statistics
from zkfl_dapp.prediction.flow import aggregate_from_storage, predict_for_round
from zkfl_dapp.prediction.patient import PatientRecord
from zkfl_dapp.prediction.registry import ensure_prediction_registry
from zkfl_dapp.protocol.consortium import Consortium, Roles
from zkfl_dapp.storage.embedded import EmbeddedStore

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
APE = str(Path(sys.executable).with_name("ape"))
STATS = training_statistics(seed=0)


@pytest.fixture(scope="module", autouse=True)
def inference_circuit() -> InferenceArtifacts:
    return build_inference_circuit(Settings())


@pytest.fixture
def consortium(tmp_path, suite, admin, aggregator, hospitals, auditor) -> Consortium:
    settings = Settings(workdir=tmp_path / "consortium", hospitals=5, rounds=1)
    roles = Roles(admin, aggregator, tuple(hospitals[:5]), auditor)
    return Consortium.bootstrap(settings, ape.project, ape.chain, roles, EmbeddedStore(settings.store_dir), suite)


def _predict(c: Consortium, art: InferenceArtifacts, patient: Path, sender, round_id: int | None = None):
    return predict_for_round(
        project=ape.project,
        chain=ape.chain,
        round_manager=c.deployment.round_manager,
        load_aggregate=aggregate_from_storage(c.storage),
        artifacts=art,
        record=PatientRecord.load(patient, STATS.feature_names),
        stats=STATS,
        workdir=c.settings.workdir,
        sender=sender,
        round_id=round_id,
        deployer=c.roles.admin,
    )


def test_prediction_under_finalized_round_is_proven_and_recorded(consortium, inference_circuit, outsider):
    with pytest.raises(ChainError, match="no round has been finalized"):
        _predict(consortium, inference_circuit, ROOT / "examples" / "patient.json", outsider)
    report = consortium.run_round()

    first = _predict(consortium, inference_circuit, ROOT / "examples" / "patient.json", outsider)
    assert first.round_id == report.round_id == 1 and first.model_cid == report.model_cid
    assert first.verified_offchain and abs(first.probability - first.float_probability) < 0.01
    assert first.probability < 0.5  # the example is a held-out malignant tumour (label 0); P(benign) is low
    receipt = first.receipt
    assert receipt.round_id == 1 and receipt.logit == first.logit and receipt.requester == outsider.address
    registry = ape.project.PredictionRegistry.at(first.registry)
    assert registry.isRecorded(bytes.fromhex(receipt.proof_hash[2:]))
    # recorded on-chain, where the auditor and the UI find it; no local pointer file
    assert consortium.deployment.registry.predictionRegistry() == first.registry
    assert not (consortium.settings.workdir / "prediction-registry.json").exists()
    print(
        f"\npredict: logit {first.logit} (p = {first.probability:.4f}, float {first.float_probability:.4f}); "
        f"prove {first.prove_seconds:.1f} s, verify {first.verify_seconds:.3f} s, proof {first.proof_bytes} B, "
        f"gas {receipt.gas_used:,}"
    )

    second = _predict(consortium, inference_circuit, ROOT / "examples" / "patient.csv", outsider, round_id=1)
    assert second.registry == first.registry  # deployed once, found again on-chain
    assert second.logit == first.logit  # same patient, same model: same proven logit
    assert second.receipt.proof_hash != receipt.proof_hash  # a fresh proof (ezkl proofs are randomized)


def test_cli_reports_malformed_patient_file_clearly(tmp_path):
    bad = tmp_path / "patient.json"
    bad.write_text(json.dumps({"features": {"mean radius": "large"}}))
    proc = subprocess.run(
        [APE, "run", "predict", "--patient", str(bad), "--workdir", str(tmp_path / "w")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )
    assert proc.returncode != 0
    assert "PatientRecordError" in proc.stderr and "missing field(s)" in proc.stderr


class _LyingEvents:
    """A PredictionRegistry as a lying node or indexer would show it: every receipt's logit off by one."""

    def __init__(self, registry) -> None:
        self._registry = registry
        self.PredictionRecorded = self  # the event: .range(start, stop) below

    def __getattr__(self, name):
        return getattr(self._registry, name)

    def range(self, start, stop):
        for log in self._registry.PredictionRecorded.range(start, stop):
            yield log.model_copy(update={"event_arguments": {**log.event_arguments, "logit": log.logit + 1}})


def test_audit_rechecks_the_prediction_receipts(consortium, inference_circuit, outsider, tmp_path):
    from zkfl_dapp.audit import audit

    consortium.run_round()
    first = _predict(consortium, inference_circuit, ROOT / "examples" / "patient.json", outsider)
    registry = ape.project.PredictionRegistry.at(first.registry)
    rm = consortium.deployment.round_manager
    clean = audit(rm, consortium.storage, workdir=tmp_path / "a", prediction_registry=registry)
    assert clean.deployment_checks["predictions"] is True and clean.passed, [f.line() for f in clean.findings]
    # without being told: the registry the ConsortiumRegistry records on-chain, receipts re-checked
    found = audit(rm, consortium.storage, workdir=tmp_path / "b")
    assert found.deployment_checks["predictions"] is True and found.passed, [f.line() for f in found.findings]
    lying = audit(rm, consortium.storage, workdir=tmp_path / "c", prediction_registry=_LyingEvents(registry))
    assert not lying.passed and any(f.item.endswith("/ logit") for f in lying.deployment_findings)


def test_audit_names_a_prediction_registry_pointer_to_a_wrong_contract(consortium, tmp_path):
    """A ConsortiumRegistry pointer to a contract that is no PredictionRegistry of this consortium is a finding
    (and a one-line error for `ape run predict`), never a traceback or a silently skipped check."""
    from zkfl_dapp.audit import audit

    rm, reg, admin = consortium.deployment.round_manager, consortium.deployment.registry, consortium.roles.admin
    none = audit(rm, consortium.storage, workdir=tmp_path / "none")
    assert none.deployment_checks["predictions"] is None and any("no PredictionRegistry" in n for n in none.notes)
    reg.setPredictionRegistry(reg.address, sender=admin)  # a contract, but not a PredictionRegistry
    wrong = audit(rm, consortium.storage, workdir=tmp_path / "wrong")
    assert wrong.deployment_checks["predictions"] is False and not wrong.passed
    (finding,) = [f for f in wrong.deployment_findings if f.check == "predictions"]
    assert reg.address.lower() in finding.item.lower() and finding.expected == "a PredictionRegistry"
    with pytest.raises(ChainError, match="is not a PredictionRegistry"):
        ensure_prediction_registry(ape.project, ape.chain, rm, admin)
