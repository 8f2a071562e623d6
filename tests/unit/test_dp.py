"""Distributed DP (core.dp) and its accounting: the clip leaves room for the noise inside the proven bound, t
honest hospitals' noise adds up to the configured multiplier, unequal weights and collusion lower it as the
round's record says, and epsilon is dp-accounting's."""

from __future__ import annotations

import math

import dp_accounting
import numpy as np
import pytest
from dp_accounting import rdp

from zkfl_dapp.config import Settings
from zkfl_dapp.core.dp import DpConfig, effective_noise_multiplier, epsilon, round_multipliers
from zkfl_dapp.exceptions import ConfigError
from zkfl_dapp.protocol.privacy import round_privacy
from zkfl_dapp.protocol.wiring import dp_config

D = 31


def test_a_noised_update_is_clipped_and_stays_within_the_bound_it_is_proven_against() -> None:
    dp = DpConfig(noise_multiplier=1.0, honest_hospitals=3)
    g = np.zeros(D)
    rng = np.random.default_rng(0)
    clip = dp.clip_norm(1.0, D)
    assert 0 < clip < 1.0
    far = np.full(D, 5.0)  # a delta far beyond the clip
    noised = [dp.privatize(g, far, 1.0, rng) for _ in range(2000)]
    assert max(float(np.linalg.norm(u)) for u in noised) <= 0.99
    mean = np.mean(noised, axis=0)
    assert np.linalg.norm(mean) == pytest.approx(clip, rel=0.05)  # the clipped delta, in expectation
    assert np.std(np.asarray(noised)[:, 0]) == pytest.approx(dp.hospital_sigma(clip), rel=0.05)
    assert dp.hospital_sigma(clip) == pytest.approx(clip / math.sqrt(3))


def test_t_honest_hospitals_noise_sums_to_the_configured_multiplier() -> None:
    """Each adds variance (z C)^2 / t: t of them carry (z C)^2 on the sum (the aggregate's sensitivity C)."""
    dp = DpConfig(noise_multiplier=0.8, honest_hospitals=4)
    clip = dp.clip_norm(2.0, D)
    rng = np.random.default_rng(1)
    sums = [sum(dp.privatize(np.zeros(D), np.zeros(D), 2.0, rng) for _ in range(4)) for _ in range(1500)]
    assert np.std(np.asarray(sums)[:, 3]) == pytest.approx(0.8 * clip, rel=0.06)


def test_unequal_weights_and_colluders_lower_the_effective_multiplier() -> None:
    assert effective_noise_multiplier(1.0, 5, [0.2] * 5, 0) == pytest.approx(1.0)
    assert effective_noise_multiplier(1.0, 3, [0.2] * 5, 2) == pytest.approx(math.sqrt(3 * 0.04 / 3) / 0.2)
    heavy = [1 / 3, 1 / 6, 1 / 6, 1 / 6, 1 / 6]
    worst, alone = round_multipliers(1.0, 3, heavy)
    assert worst == pytest.approx(math.sqrt((1 / 9 + 2 / 36) / 3) * 3) and worst < 1.0
    assert alone == pytest.approx(1 / math.sqrt(3))
    with pytest.raises(ConfigError):
        effective_noise_multiplier(1.0, 3, [0.5, 0.0, 0.5], 1)


def test_epsilon_is_the_rdp_accountants_and_infinite_without_noise() -> None:
    accountant = rdp.RdpAccountant()
    accountant.compose(
        dp_accounting.ComposedDpEvent([dp_accounting.GaussianDpEvent(1.2), dp_accounting.GaussianDpEvent(2.0)]), 3
    )
    assert epsilon([[1.2, 2.0]] * 3, 1e-5) == pytest.approx(accountant.get_epsilon(1e-5))
    assert epsilon([[1.2], [1.2, 0.0]], 1e-5) == math.inf
    assert epsilon([], 1e-5) == 0.0
    assert epsilon([[2.0]], 1e-5) < epsilon([[2.0]] * 2, 1e-5) < epsilon([[1.0]] * 2, 1e-5)


def test_dp_is_off_by_default_and_assumes_the_quorum_honest() -> None:
    assert dp_config(Settings()) is None
    dp = dp_config(Settings(dp_noise_multiplier=1.5, quorum=4))
    assert dp is not None and dp.honest_hospitals == 4 and dp.noise_multiplier == 1.5
    assert dp_config(Settings(dp_noise_multiplier=1.5, dp_honest_hospitals=2)).honest_hospitals == 2  # type: ignore[union-attr]
    with pytest.raises(ConfigError):
        DpConfig(noise_multiplier=0.0, honest_hospitals=3)


def test_the_round_record_composes_each_hospitals_rounds(tmp_path) -> None:
    import json

    settings = Settings(workdir=tmp_path, dp_noise_multiplier=1.0, quorum=3)
    counts = {f"hospital-{i}": 90 for i in range(5)}
    first = round_privacy(settings, 1, counts=counts, rule="fedavg", bounded=True, statistic_published=True)
    assert first["dp"] and first["mechanisms"][0] == pytest.approx(1.0, rel=1e-3) and first["mechanisms"][1] == 2.0
    assert first["epsilon_round"] == pytest.approx(epsilon([first["mechanisms"]], 1e-5), abs=1e-4)
    assert first["epsilon_round"] == pytest.approx(epsilon([[1.0, 2.0]], 1e-5), rel=1e-2)  # near-equal weights
    assert first["epsilon_round_collusion"] > first["epsilon_round"]
    settings.reports_dir.mkdir(parents=True)
    (settings.reports_dir / "round-1.json").write_text(
        json.dumps({"round_id": 1, "participants": list(counts), "privacy": first})
    )
    second = round_privacy(
        settings, 2, counts={"hospital-0": 90, "hospital-1": 90, "hospital-2": 90}, rule="fedavg", bounded=True,
        statistic_published=True,
    )  # fmt: skip
    assert second["epsilon_total"]["hospital-0"] == pytest.approx(
        epsilon([first["mechanisms"], second["mechanisms"]], 1e-5), abs=1e-4
    )
    median = round_privacy(settings, 3, counts=counts, rule="median", bounded=True, statistic_published=True)
    assert median["epsilon_round"] is None and median["count_epsilon_round"] is not None  # no update guarantee
    off = round_privacy(Settings(workdir=tmp_path / "off"), 1, counts=counts, rule="fedavg", bounded=True,
                        statistic_published=True)  # fmt: skip
    assert not off["dp"] and off["epsilon_round"] is None and off["count_epsilon_round"] > 0


def test_no_round_opens_that_could_take_a_hospital_past_the_budget(tmp_path) -> None:
    import json

    from zkfl_dapp.exceptions import RoundError
    from zkfl_dapp.protocol.privacy import check_budget

    names = [f"hospital-{i}" for i in range(5)]
    settings = Settings(workdir=tmp_path, dp_noise_multiplier=2.0)
    settings.reports_dir.mkdir(parents=True)
    for r in (1, 2, 3):
        record = round_privacy(
            settings, r, counts=dict.fromkeys(names, 90), rule="fedavg", bounded=True, statistic_published=True
        )
        (settings.reports_dir / f"round-{r}.json").write_text(
            json.dumps({"round_id": r, "participants": names, "privacy": record})
        )
    spent = record["epsilon_total"]["hospital-0"]
    check_budget(settings, names)  # no budget
    four = epsilon([record["mechanisms"]] * 4, 1e-5)
    check_budget(settings.model_copy(update={"dp_epsilon_budget": four + 0.01}), names)
    with pytest.raises(RoundError, match="hospital-0's epsilon would reach .* past the consortium's DP budget"):
        check_budget(settings.model_copy(update={"dp_epsilon_budget": (spent + four) / 2}), names)
    one = settings.model_copy(update={"dp_epsilon_budget": record["epsilon_round"] + 0.01})
    check_budget(one, ["hospital-9"])  # never took part: one round fits
    with pytest.raises(RoundError):
        check_budget(one, ["hospital-0"])
    with pytest.raises(RoundError, match="DP is off"):
        check_budget(Settings(workdir=tmp_path, dp_epsilon_budget=10.0), names)
