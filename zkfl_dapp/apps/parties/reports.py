"""The admin's round reports: what the bound policy and the web UI's accuracy view read.

A round report (``zkfl-round-report``, :class:`~zkfl_dapp.protocol.reports.RoundReport`) gives a finalized round's
accuracy on the admin's held-out set and the enclave's statistics (from the aggregator's journal where it runs on
the same machine; otherwise none), and names the chain's model CID, commitment, rule and bound, which the audit
checks. `zkfl demo` publishes each as its round closes; in the party flow `zkfl admin open-round` first publishes
the report of every finalized round that has none on the chain, so the next round's bound follows the policy
from it (no report: the bound stays where it was).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zkfl_dapp.apps.journal import journal_for
from zkfl_dapp.apps.parties.context import Connection, Progress, _quiet, deployed_model
from zkfl_dapp.chain.deployment import Deployment
from zkfl_dapp.chain.enums import Phase, Rule
from zkfl_dapp.chain.views import commitment_hex, read_round, read_submissions
from zkfl_dapp.config import Settings
from zkfl_dapp.core.fixedpoint import dequantize
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.core.norms import bound_from_quantized
from zkfl_dapp.ml.model import accuracy
from zkfl_dapp.protocol.privacy import round_privacy
from zkfl_dapp.protocol.reports import RoundReport
from zkfl_dapp.protocol.wiring import load_split
from zkfl_dapp.storage.base import Storage


def build_round_report(
    settings: Settings,
    deployment: Deployment,
    round_id: int,
    *,
    participants: Sequence[str],
    accuracy_value: float | None,
    finalized: dict[str, Any] | None,
    wall_seconds: float,
    runner: str,
) -> RoundReport:
    """A finalized round's report: the chain's figures, the admin's accuracy, the enclave's journal entry."""
    fin = finalized or {}
    info = read_round(deployment.round_manager, round_id)
    bound_sq = info.norm_bound_sq
    rule = "median" if info.rule == Rule.MEDIAN else "fedavg"
    excluded = {str(e.get("hospital", "")).lower() for e in fin.get("excluded", [])}
    submissions = read_submissions(deployment.round_manager, round_id)
    names = dict(zip([s.hospital.lower() for s in submissions], participants, strict=False))  # submission order
    included = [s for s in submissions if s.hospital.lower() not in excluded]
    counts = {names.get(s.hospital.lower(), s.hospital): s.sample_count for s in included}
    privacy = round_privacy(
        settings, round_id, counts=counts, rule=rule, bounded=bool(bound_sq),
        statistic_published=fin.get("norm_within_noised") is not None,
    )  # fmt: skip
    return RoundReport(
        round_id=round_id,
        participants=list(participants),
        excluded=list(fin.get("excluded", [])),
        accuracy=accuracy_value,  # None: the admin holds no held-out records (a consortium on its own schema)
        baseline_accuracy=None,  # the party flow trains no plain FedAvg baseline
        train_seconds=0.0,
        commit_seconds=0.0,
        encrypt_seconds=0.0,
        prove_seconds=float(fin.get("prove_seconds", 0.0)),
        verify_seconds=0.0,
        finalize_gas=int(fin.get("gas", 0)),
        finalize_tx=str(fin.get("tx", "")),
        model_cid=info.new_model_cid,
        model_commitment=commitment_hex(info.new_model_commitment),
        proof_bytes=0,
        proof_cid="",
        wall_seconds=wall_seconds,
        extras={"runner": runner},
        aggregate_seconds=float(fin.get("aggregate_seconds", 0.0)),
        rule=rule,
        norm_bound=bound_from_quantized(bound_sq, settings.scale_bits) if bound_sq else None,
        norm_within_noised=fin.get("norm_within_noised"),
        norm_included=fin.get("norm_included"),
        privacy=privacy,
    )


def publish_round_report(
    settings: Settings, deployment: Deployment, admin: Any, storage: Storage, report: RoundReport
) -> str:
    """Write the report to the reports folder (the bound policy reads it there), store it and publish its CID."""
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / f"round-{report.round_id}.json").write_text(report.to_json())
    cid = str(storage.put(report.to_json().encode()))
    deployment.round_manager.publishRoundReport(report.round_id, cid, sender=admin)
    return cid


def publish_missing_reports(
    settings: Settings,
    conn: Connection,
    deployment: Deployment,
    admin: Any,
    storage: Storage,
    *,
    names: dict[str, str] | None = None,
    progress: Progress = _quiet,
) -> list[int]:
    """Publish the report of every finalized round that has none on the chain; returns their ids.

    ``names`` maps member addresses (lower case) to role names for the participants list (default: addresses).
    """
    rm = deployment.round_manager
    head = int(conn.chain.blocks.height)
    published = {int(dict(log.event_arguments)["roundId"]) for log in rm.RoundReportPublished.range(0, head + 1)}
    missing = [r for r in range(1, int(rm.currentRoundId()) + 1) if r not in published]
    missing = [r for r in missing if read_round(rm, r).phase == Phase.FINALIZED]
    if not missing:
        return []
    split = load_split(settings)
    spec, own_schema = deployed_model(settings, split, deployment, storage)
    entries = journal_for(settings.workdir, "aggregator").entries("finalized")
    names = names or {}
    for round_id in missing:
        info = read_round(rm, round_id)
        model = ModelFile.parse(storage.get(info.new_model_cid))
        # a consortium on its own schema: the admin holds no records of it, so no held-out accuracy
        acc = None
        if own_schema is None:
            acc = accuracy(spec, dequantize(model.training_values(), settings.scale_bits), split.test)
        who = [names.get(s.hospital.lower(), s.hospital) for s in read_submissions(rm, round_id)]
        fin = next((e for e in reversed(entries) if e.get("round") == round_id), None)
        report = build_round_report(
            settings, deployment, round_id, participants=who, accuracy_value=acc, finalized=fin,
            wall_seconds=0.0, runner="zkfl parties",
        )  # fmt: skip
        cid = publish_round_report(settings, deployment, admin, storage, report)
        shown = "no held-out data at the admin" if acc is None else f"accuracy {acc:.2%}"
        progress(f"admin: round {round_id}'s report published ({cid}; {shown})")
    return missing
