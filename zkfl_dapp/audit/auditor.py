"""Independent audit of a deployment, from the chain and the content store alone.

The auditor walks a RoundManager's and its registry's events from the first block and re-checks every
round with nothing but what the system itself published: the circuit manifest under the CID recorded at
deployment (``CircuitPublished``) with the KZG basis, its Lagrange points and the circuits' settings,
verifying keys and SRS; the submission and finalization transactions' calldata; and the models and
ciphertexts under the CIDs on-chain. No file from the aggregator's disk is needed.

Deployment checks (:mod:`.deployment_checks`): ``circuit manifest``, ``basis``, ``lagrange``,
``genesis model``, ``verifier``; and (:mod:`.publication_checks`) ``enclave key``, ``receipts``,
``predictions`` (the PredictionRegistry's receipts, when its address is given).

Checks per finalized round (the table's columns):

* ``weights``: the submissions (events and state agree), the exclusions (``UpdateExcluded``, and the
  mask in the finalization calldata), the weights :func:`normalized_weights` gives the included slots'
  sample counts equal ``RoundManager.expectedWeights``, the included count and samples equal
  ``RoundFinalized``'s, and the quorum was met;
* ``commitment``: FedAvg has no aggregation proof: the contract derived the new model's commitment
  ``K + sum_i w_i (C(u_i) - K)`` from the submitted commitments (per chunk: a commitment is one point per
  chunk, ``RoundManager.chunks()``), and the auditor re-derives it (:func:`~zkfl_dapp.circuits.kzg.combine`
  per chunk), which must equal the ``RoundFinalized`` points, whose keccak must equal
  ``getRound().newModelHash``;
* ``norm proofs`` (rounds with a norm bound): every submission's chunk proofs (one for a small model), from
  its ``submitUpdate`` calldata or, with a challenge window, from its proof bundle, verify with the published
  norm circuit for the budgets it claimed and are bound to its chunks and the previous model; the budgets add
  up to at most the bound (:mod:`.chunk_proof_checks`). The report says per submission what was verified
  where (on-chain at submission, off-chain by the auditor, challenged);
* ``median proof`` (median rounds): the published proof file matches ``proofHash`` and the calldata,
  verifies with the published median circuit, and its points are the slots' and the new model's;
* ``model``: the new model file resolves, has the consortium's shape and layout and opens the commitment
  (one ezkl commitment per chunk);
* ``CIDs``: every submission's ciphertext resolves (a missing ciphertext of an excluded update is only
  a warning: the enclave said so publicly);
* ``lineage``: the round starts from the latest finalized round's model (the genesis model for the
  first), aborted and rolled-back rounds leave it unchanged, and the contract's current model is the last;
* ``report``: the round reports published for it resolve and agree with the chain
  (:mod:`zkfl_dapp.audit.publication_checks`);
* ``policy``: a bounded round's bound is what the declared bound policy gives from the previous bounded
  round's published figures.

Aborted and rolled-back rounds are reported as such, with only their lineage (and reports) checked.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from zkfl_dapp.audit.context import Progress
from zkfl_dapp.audit.deployment_checks import DeploymentChecks
from zkfl_dapp.audit.events import membership_history
from zkfl_dapp.audit.publication_checks import PublicationChecks
from zkfl_dapp.audit.report import AuditReport
from zkfl_dapp.audit.rollback_checks import RuleChecks
from zkfl_dapp.audit.round_checks import RoundChecks
from zkfl_dapp.core.policy import NormBoundPolicy
from zkfl_dapp.exceptions import ChainError
from zkfl_dapp.storage.base import Storage


def _quiet(_: str) -> None:
    return None


class _Auditor(DeploymentChecks, RoundChecks, PublicationChecks, RuleChecks):
    """The whole audit: deployment checks, every round, then what was published beside the proofs."""


def audit(
    round_manager: Any,
    storage: Storage,
    *,
    registry: Any = None,
    verifier: Any = None,
    chain: Any = None,
    project: Any = None,
    workdir: Path | None = None,
    progress: Progress = _quiet,
    prediction_registry: Any = None,
    policy: NormBoundPolicy | None = None,
) -> AuditReport:
    """Audit the deployment behind ``round_manager`` from its first block to the head.

    ``registry`` and ``verifier`` default to the contracts the RoundManager points at (the norm verifier is a
    ``KzgChunkNormVerifier`` when ``chunks() > 1``, a ``KzgNormVerifier`` otherwise; ``project``
    defaults to ``ape.project``, ``chain`` to ``ape.chain``). Artifacts fetched from the store are
    written under ``workdir`` (a temporary directory when None). ``prediction_registry`` (a
    PredictionRegistry contract) has its receipts re-checked (default: every PredictionRegistry the
    ConsortiumRegistry records on-chain, ``predictionRegistry()`` and its ``PredictionRegistrySet`` events);
    ``policy`` is the norm-bound policy the consortium declared (default: the settings' defaults). Never raises
    for a discrepancy: every one is a :class:`Finding` in the report.
    """
    import ape

    chain = chain if chain is not None else ape.chain
    project = project if project is not None else ape.project
    registry = registry if registry is not None else project.ConsortiumRegistry.at(round_manager.registry())
    if verifier is None:
        norm_type = project.KzgChunkNormVerifier if int(round_manager.chunks()) > 1 else project.KzgNormVerifier
        verifier = norm_type.at(round_manager.normVerifier())
    median_address = str(round_manager.medianVerifier())
    with tempfile.TemporaryDirectory(prefix="zkfl-audit-") as tmp:
        base = workdir if workdir is not None else Path(tmp)
        base.mkdir(parents=True, exist_ok=True)
        head = int(chain.blocks.height)
        report = AuditReport(
            chain_id=int(chain.chain_id),
            head_block=head,
            round_manager=str(round_manager.address),
            registry=str(registry.address),
            verifier=str(verifier.address),
            median_verifier=median_address if int(median_address, 16) != 0 else None,
            circuit_cid=str(round_manager.circuitCid()),
        )
        progress(f"auditing RoundManager {report.round_manager} on chain {report.chain_id} up to block {head}")
        auditor = _Auditor(chain, round_manager, registry, verifier, storage, base, progress)
        auditor.project = project
        auditor.prediction_registry = prediction_registry
        if policy is not None:
            auditor.policy = policy
        if int(median_address, 16) != 0:
            auditor.median_verifier = project.KzgMedianVerifier.at(median_address)
        report.membership = membership_history(registry, head)
        progress(f"membership: {len(report.membership)} registry events")
        progress(f"circuit manifest {report.circuit_cid}: fetching the basis, Lagrange points, settings, vk, SRS")
        auditor.deployment(report, head)
        auditor.rounds(report, head)
        auditor.rules(report, head)  # weight caps, rollbacks (audit.rollback_checks)
        auditor.publication(report, head)
    return report


def record_audit(report: AuditReport, round_manager: Any, storage: Storage, auditor: Any) -> dict[int, str]:
    """Publish the JSON report and record the verdict of every closed round on-chain (as ``auditor``).

    A round passes when it and the deployment have no error finding. Returns ``{round_id: report CID}``.
    """
    cid = str(storage.put(report.to_json().encode()))
    deployment_ok = not any(f.severity == "error" for f in report.deployment_findings)
    recorded: dict[int, str] = {}
    for r in report.rounds:
        if r.phase == "open":
            continue
        try:
            round_manager.recordAudit(r.round_id, deployment_ok and r.passed, cid, sender=auditor)
        except Exception as exc:
            raise ChainError(f"recordAudit for round {r.round_id} failed: {exc}") from exc
        recorded[r.round_id] = cid
    return recorded
