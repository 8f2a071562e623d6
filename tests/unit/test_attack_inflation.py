"""Issue 18's sample-count inflation attack, rerun fast (3 rounds, seed 0) on the reference semantics: one of five
hospitals declares 10^6 samples and submits its honest step reversed at 0.95 of the bound
(zkfl_dapp.experiments.attack_eval.inflation; the full table is `make attack-eval`'s
docs/attack-eval-inflation.md)."""

from __future__ import annotations

import pytest

from zkfl_dapp.experiments.attack_eval import inflation as inf


@pytest.fixture(scope="module")
def runs() -> dict[str, list[inf.InflationRound]]:
    return inf.run_all(seed=0, rounds=3)


def test_before_the_caps_one_inflated_hospital_poisons_the_model_and_kills_the_consortium(runs) -> None:
    before = runs[inf.BEFORE]
    assert before[0].attacker_weight == 8185  # of 8192
    assert inf.gap_points(runs, inf.BEFORE) > 50 and not inf.live(runs, inf.BEFORE)
    assert sum(r.honest_refused for r in before) >= 4  # the honest updates are beyond the bound: they refuse


def test_the_share_cap_keeps_the_inflated_hospital_at_a_third_and_the_consortium_live(runs) -> None:
    assert all(r.attacker_weight == 2731 for r in runs[inf.SHARE_CAP])  # ceil(8192 / 3)
    assert inf.live(runs, inf.SHARE_CAP) and all(r.honest_refused == 0 for r in runs[inf.SHARE_CAP])


def test_admission_caps_bring_the_attacker_to_its_honest_weight_and_keep_round_one_within_two_points(runs) -> None:
    rows = runs[inf.BOTH_CAPS]
    assert all(r.attacker_weight <= 8192 // 5 + 5 for r in rows)
    assert 100 * (runs[inf.HONEST][0].accuracy - rows[0].accuracy) <= inf.TOLERANCE_POINTS
    assert inf.live(runs, inf.BOTH_CAPS)


def test_with_the_median_rule_the_model_stays_within_two_points_of_the_honest_run_every_round(runs) -> None:
    ok, gap = inf.verdict(runs)
    assert ok and gap <= inf.TOLERANCE_POINTS
