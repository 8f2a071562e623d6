"""`ape run predict`: a verifiable risk prediction for one patient under a finalized global model."""

from __future__ import annotations

from pathlib import Path

import click

from zkfl_dapp.apps.cli import build_settings, clean_errors, network_option, settings_options
from zkfl_dapp.apps.session import say, session
from zkfl_dapp.circuits.kzg_inference import build_inference_circuit
from zkfl_dapp.ml.data import FeatureStatistics
from zkfl_dapp.ml.datasets import feature_names
from zkfl_dapp.prediction.flow import aggregate_from_storage, predict_for_round
from zkfl_dapp.prediction.patient import PatientRecord
from zkfl_dapp.protocol.standardization import deployment_statistics


@click.command(short_help="Prove a patient's risk under a finalized global model and record the receipt")
@network_option
@settings_options
@click.option("--patient", "patient", type=click.Path(path_type=Path), required=True, help="patient file (.csv/.json)")
@click.option("--round", "round_id", type=int, default=None, help="finalized round (default: the latest)")
@clean_errors
def cli(network: str | None, patient: Path, round_id: int | None, **overrides: object) -> None:
    settings = build_settings(**overrides)
    record = PatientRecord.load(patient, feature_names())  # fail on a bad file before any heavy work
    artifacts = build_inference_circuit(settings, progress=say)
    with session(settings, network) as s:
        consortium = s.attach()
        # standardized with the statistics the deployment published (circuit manifest -> statistics file)
        stats = FeatureStatistics.from_published(deployment_statistics(consortium.deployment.round_manager, s.storage))
        import ape

        local = bool(s.chain.provider.network.is_local)
        requester = ape.accounts.test_accounts[-1] if local else s.roles.admin  # locally: a non-member's app
        say(f"proving the prediction for {patient} (features stay private)")
        report = predict_for_round(
            project=s.project,
            chain=s.chain,
            round_manager=consortium.deployment.round_manager,
            artifacts=artifacts,
            record=record,
            stats=stats,
            load_aggregate=aggregate_from_storage(s.storage),
            workdir=settings.workdir,
            sender=requester,
            round_id=round_id,
            deployer=s.roles.admin,
        )
    r = report.receipt
    click.echo(
        f"\nrisk score {report.probability:.4f} = P(y = 1) = sigmoid(logit {report.logit} / 2^26) (the floating-point "
        f"model gives {report.float_probability:.4f}). In this data set y = 1 is benign: malignancy risk "
        f"{1 - report.probability:.4f}\n"
        f"  round {report.round_id}, model {report.model_cid} (commitment {report.model_commitment[:24]}...)\n"
        f"  proof {report.prove_seconds:.2f} s, {report.proof_bytes} B; verified off-chain "
        f"({report.verify_seconds:.3f} s) and on-chain\n"
        f"  receipt: tx {r.tx_hash}, gas {r.gas_used:,}, proof hash {r.proof_hash}\n"
        f"  requester {r.requester}, PredictionRegistry {report.registry}"
    )
