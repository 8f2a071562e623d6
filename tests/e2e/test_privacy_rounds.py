"""End to end, distributed DP: every hospital clips and noises its update before committing, so its norm proof,
commitment and the exact aggregate all cover the noised update and the round finalizes as any other; the round
report carries epsilon per round and per hospital, and no exact norm (docs/privacy.md)."""

from __future__ import annotations

import json

import ape
import numpy as np
import pytest

from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.config import Settings
from zkfl_dapp.core.dp import DpConfig
from zkfl_dapp.protocol.consortium import Consortium, Roles
from zkfl_dapp.protocol.hospital import fetch_enclave_key, fetch_global_model
from zkfl_dapp.storage.embedded import EmbeddedStore

pytestmark = pytest.mark.e2e


@pytest.fixture
def dp_consortium(tmp_path, suite, admin, aggregator, hospitals, auditor) -> Consortium:
    settings = Settings(workdir=tmp_path / "consortium", hospitals=5, dp_noise_multiplier=1.0)
    roles = Roles(admin, aggregator, tuple(hospitals[:5]), auditor)
    return Consortium.bootstrap(settings, ape.project, ape.chain, roles, EmbeddedStore(settings.store_dir), suite)


def test_a_dp_round_finalizes_with_proofs_over_the_noised_updates_and_reports_epsilon(dp_consortium):
    c = dp_consortium
    assert all(isinstance(h.dp, DpConfig) and h.dp.honest_hospitals == c.settings.quorum for h in c.hospitals)
    first = c.run_round()
    second = c.run_round()
    rm = c.deployment.round_manager
    for report in (first, second):
        assert rm.getRound(report.round_id).phase == Phase.FINALIZED and rm.getRound(report.round_id).normBoundSq
        assert not report.norm_refused and not report.excluded  # five norm proofs over noised updates verified
    p1, p2 = first.privacy, second.privacy
    assert p1["dp"] and p1["honest_hospitals"] == 3 and 0.9 < p1["mechanisms"][0] <= 1.0
    assert p1["epsilon_round"] > 0 and p1["epsilon_round_collusion"] > p1["epsilon_round"]
    for name in second.participants:  # composed over both rounds
        assert p2["epsilon_total"][name] > p1["epsilon_total"][name] >= p1["epsilon_round"] - 1e-3
    published = json.loads((c.settings.reports_dir / "round-2.json").read_text())
    assert published["privacy"] == p2 and "update_norm_median" not in published


def test_the_committed_update_is_the_clipped_noised_one_not_the_trained_one(dp_consortium):
    """A hospital's committed update is g + clip(u - g) + noise: two preparations of the same round differ by
    fresh noise, and neither equals the trained model."""
    c = dp_consortium
    rm = c.deployment.round_manager
    rm.openRoundWithPolicy(c.chain.pending_timestamp + 3600, 3, 0, 2 * 2**26, sender=c.roles.admin)  # bound 1.41
    round_id = int(rm.currentRoundId())
    info = read_round(rm, round_id)
    model = fetch_global_model(
        c.storage, c.spec, info.prev_model_commitment, info.prev_model_cid, suite=c.enclave.circuits
    )
    key = fetch_enclave_key(c.storage, c.deployment.registry)
    h = c.hospitals[0]
    a = h.prepare_update(round_id, model, key, norm_bound_sq=info.norm_bound_sq)
    b = h.prepare_update(round_id, model, key, norm_bound_sq=info.norm_bound_sq)
    assert not np.allclose(a.local_params, b.local_params)
    assert a.chunk_proofs and b.chunk_proofs
