"""End to end, the poisoning defence: bounded rounds with real norm proofs, a poisoning hospital stopped
on-chain, the median rule proven and accepted, and the bound policy carried from round to round."""

from __future__ import annotations

import ape
import pytest

from zkfl_dapp.chain.enums import Phase, Rule
from zkfl_dapp.config import Settings
from zkfl_dapp.core.norms import bound_sq_quantized
from zkfl_dapp.exceptions import NormBoundError
from zkfl_dapp.experiments.attacks import get_attack
from zkfl_dapp.protocol.consortium import Consortium, Roles
from zkfl_dapp.storage.embedded import EmbeddedStore

pytestmark = pytest.mark.e2e


@pytest.fixture
def consortium(tmp_path, suite, admin, aggregator, hospitals, auditor) -> Consortium:
    settings = Settings(workdir=tmp_path / "consortium", hospitals=5)
    roles = Roles(admin, aggregator, tuple(hospitals[:5]), auditor)
    store = EmbeddedStore(settings.store_dir)
    return Consortium.bootstrap(settings, ape.project, ape.chain, roles, store, suite)


def test_bounded_rounds_with_both_rules_and_the_bound_policy(consortium):
    c = consortium
    rm = c.deployment.round_manager
    first = c.run_round(rule="median")
    second = c.run_round()  # the settings' rule: fedavg
    for report, rule in ((first, Rule.MEDIAN), (second, Rule.FEDAVG)):
        info = rm.getRound(report.round_id)
        assert info.phase == Phase.FINALIZED and info.rule == int(rule)
        assert info.normBoundSq == bound_sq_quantized(report.norm_bound, 13)  # every submission carried a proof
        assert info.submissionCount == 5 and not report.norm_refused and not report.excluded
        assert report.accuracy > 0.85
    assert first.rule == "median" and first.norm_bound == pytest.approx(c.settings.norm_bound_initial)
    # round 2's bound: the policy's step from round 1's bound and its published noised count (no norm published)
    assert first.norm_included == 5 and first.norm_within_noised is not None
    expected = c.policy.next_bound(first.norm_bound, first.norm_statistic)
    assert second.norm_bound == pytest.approx(expected, rel=1e-3)
    assert second.norm_bound <= first.norm_bound


def test_poisoning_hospital_is_stopped_by_its_own_norm_proof(consortium):
    """A boosted update cannot be submitted: the honest client refuses; the attacker's proof reverts."""
    c = consortium
    honest = c.hospitals[4]
    attacker = c.hospitals[4] = honest.with_source(get_attack("boosted"))
    report = c.run_round(rule="median")
    (refused,) = report.norm_refused
    assert refused["hospital"] == attacker.name and "RoundManagerNormBoundExceeded" in refused["reason"]
    info = c.deployment.round_manager.getRound(report.round_id)
    assert info.phase == Phase.FINALIZED and info.submissionCount == 4  # the other four went in
    assert attacker.name not in report.participants
    assert report.accuracy > 0.85

    # the same hospital, behaving as an honest client, refuses locally before spending gas
    c.hospitals[4] = honest
    model = c.current_model()
    key = c.enclave._key_pair.public_key
    bound = bound_sq_quantized(0.5, 13)
    update = attacker.prepare_update(99, model, key, norm_bound_sq=bound)
    (proof,) = update.chunk_proofs  # d = 31: one chunk
    # its proof can only claim a budget over the round's bound: the contract refuses that budget (sum b_c <= b)
    assert proof.budget > bound
    tiny = bound_sq_quantized(0.02, 13)
    with pytest.raises(NormBoundError, match="the round's bound is"):
        honest.prepare_update(99, model, key, norm_bound_sq=tiny)
