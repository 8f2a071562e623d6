"""The audit of the round rules (zkfl_dapp.audit.rollback_checks): a rollback of a model that was available and
opened its commitment is an "unjustified rollback" naming the reporters; one of a missing model is justified (a
warning naming the aggregator); weights above the share cap and sample counts above a member's agreed cap are
named."""

from __future__ import annotations

import ape
import pytest

from tests.conftest import MODEL_SIZE, SCALE_BITS, open_round, padded_update, points
from zkfl_dapp.audit.report import RoundAudit, SubmissionRecord
from zkfl_dapp.audit.rollback_checks import ROLLBACK_CHECK, RuleChecks
from zkfl_dapp.chain.norm_claims import NO_CLAIM
from zkfl_dapp.chain.views import commitment_hex
from zkfl_dapp.core.aggregation import aggregate, normalized_weights
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.core.layout import CommitmentLayout
from zkfl_dapp.storage.embedded import EmbeddedStore

COUNTS = (50, 60, 70, 80, 90)


def _checks(deployment, store, suite, rm=None) -> RuleChecks:
    checks = RuleChecks.__new__(RuleChecks)  # the audit context without the circuit manifest: only what these use
    checks.chain, checks.rm, checks.registry, checks.storage = (
        ape.chain,
        rm or deployment.round_manager,
        deployment.registry,
        store,
    )
    checks.slots, checks.model_size, checks.pad_rows, checks.scale_bits, checks.chunks = (
        5,
        MODEL_SIZE,
        suite.pad_rows,
        SCALE_BITS,
        1,
    )
    checks.layout, checks.basis = CommitmentLayout.single(MODEL_SIZE, suite.pad_rows), suite.basis
    return checks


def _finalized_round(deployment, admin, aggregator, hospitals, chain, commit_of, store, suite):
    """Round 1: five submissions, finalized with a model file that opens the chain's commitment (in `store`)."""
    rm = deployment.round_manager
    open_round(deployment, admin, chain)
    updates = [padded_update(seed) for seed in range(110, 115)]
    subs = []
    for slot, (h, u, n) in enumerate(zip(hospitals[:5], updates, COUNTS, strict=True)):
        tx = rm.submitUpdate(1, points(commit_of(u)), f"bafkreiupdate{slot}", n, NO_CLAIM, sender=h)
        subs.append(
            SubmissionRecord(
                slot=slot,
                hospital=h.address,
                commitment=commitment_hex((commit_of(u).as_uint256(),)),
                cid=f"bafkreiupdate{slot}",
                sample_count=n,
                excluded=False,
                tx=str(tx.txn_hash),
            )
        )
    values = aggregate(updates, normalized_weights(COUNTS, SCALE_BITS))
    model = ModelFile.of_layout(
        CommitmentLayout.single(MODEL_SIZE, suite.pad_rows),
        model_kind="logreg",
        num_features=MODEL_SIZE - 1,
        scale_bits=SCALE_BITS,
        values=values,
    )
    cid = str(store.put(model.to_bytes()))
    tx = rm.finalizeRound(1, cid, 0, sender=aggregator)
    ra = RoundAudit(
        round_id=1,
        phase="finalized",
        opened_block=0,
        prev_model_commitment="0x",
        prev_model_cid="",
        new_model_commitment=commitment_hex((commit_of(values).as_uint256(),)),
        new_model_cid=cid,
        finalize_tx=str(tx.txn_hash),
        submissions=subs,
        included_count=5,
        total_samples=sum(COUNTS),
    )
    return ra


@pytest.fixture
def store(tmp_path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "store")


def test_audit_namesTheReporters_ofAnUnjustifiedRollback(
    deployment, admin, aggregator, hospitals, chain, commit_of, store, suite
):
    ra = _finalized_round(deployment, admin, aggregator, hospitals, chain, commit_of, store, suite)
    for h in hospitals[2:5]:  # a majority that reports an available, opening model
        deployment.round_manager.reportModelUnavailable(1, sender=h)
    ra = ra.model_copy(update={"phase": "rolled back"})
    _checks(deployment, store, suite).rule_findings([ra], chain.blocks.head.number)
    (finding,) = [f for f in ra.findings if f.check == ROLLBACK_CHECK]
    assert finding.item == "unjustified rollback" and finding.severity == "error" and not ra.passed
    assert all(h.address in finding.actual for h in hospitals[2:5]) and hospitals[0].address not in finding.actual


def test_audit_findsARollbackOfAMissingModelJustified_andNamesTheAggregator(
    deployment, admin, aggregator, hospitals, chain, commit_of, tmp_path, suite
):
    store = EmbeddedStore(tmp_path / "store")
    ra = _finalized_round(
        deployment, admin, aggregator, hospitals, chain, commit_of, EmbeddedStore(tmp_path / "other"), suite
    )
    for h in hospitals[:3]:
        deployment.round_manager.reportModelUnavailable(1, sender=h)
    ra = ra.model_copy(update={"phase": "rolled back"})
    _checks(deployment, store, suite).rule_findings([ra], chain.blocks.head.number)  # the file is not in `store`
    (finding,) = ra.findings
    assert finding.item == "justified rollback" and finding.severity == "warning" and ra.passed
    assert aggregator.address in finding.actual


def test_audit_passesTheWeightCaps_ofARealRound(
    deployment, admin, aggregator, hospitals, chain, commit_of, store, suite
):
    ra = _finalized_round(deployment, admin, aggregator, hospitals, chain, commit_of, store, suite)
    _checks(deployment, store, suite).rule_findings([ra], chain.blocks.head.number)
    assert ra.findings == [] and ra.passed


class _LyingWeights:
    """A RoundManager endpoint whose expectedWeights gives one slot almost everything (as before the share cap)."""

    def __init__(self, rm) -> None:
        self.rm = rm

    def expectedWeights(self, round_id, mask):
        return [8185, 1, 1, 1, 4]

    def __getattr__(self, name):
        return getattr(self.rm, name)


def test_audit_namesAWeightAboveTheShareCap_andACountAboveTheAgreedCap(
    deployment, admin, aggregator, hospitals, chain, commit_of, store, suite
):
    deployment.registry.setSampleCap(hospitals[0], 1_000, sender=admin)  # agreed before it submitted
    ra = _finalized_round(deployment, admin, aggregator, hospitals, chain, commit_of, store, suite)
    lying = ra.model_copy(
        update={"submissions": [ra.submissions[0].model_copy(update={"sample_count": 5_000}), *ra.submissions[1:]]}
    )
    _checks(deployment, store, suite, rm=_LyingWeights(deployment.round_manager)).rule_findings(
        [lying], chain.blocks.head.number
    )
    items = {f.item for f in lying.findings}
    assert items == {"submission 0 weight", "submission 0 sample count"} and not lying.passed
