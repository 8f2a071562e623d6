"""Each round's privacy record in its report: the DP setting, the round's effective noise multipliers from its
on-chain weights, and epsilon per round and composed per hospital over the consortium's rounds (core.dp).

The record is a plain dict in the report (``RoundReport.privacy``)::

    dp                      whether hospitals noised their updates (ZKFL_DP_NOISE_MULTIPLIER > 0)
    noise_multiplier, honest_hospitals, delta
    mechanisms              the round's Gaussian mechanisms' noise multipliers, as composed: the update's worst
                            effective multiplier (t honest) when DP covers the round, the bound policy's noised
                            count; 0 for a mechanism that is not private
    collusion_multiplier    against n - 1 colluders: only a hospital's own noise (z / sqrt(t))
    epsilon_round           epsilon at delta of the round (null: no guarantee, e.g. DP off or the median rule)
    epsilon_round_collusion the same against n - 1 colluders
    count_epsilon_round     the bound policy's published count alone
    epsilon_total           per participating hospital: composed over every round it took part in (null: none)

Hospitals' names are the report's participant names.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from zkfl_dapp.config import Settings
from zkfl_dapp.core.aggregation import normalized_weights
from zkfl_dapp.core.dp import epsilon, round_multipliers
from zkfl_dapp.exceptions import RoundError
from zkfl_dapp.protocol.wiring import bound_policy, dp_config


def _finite(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


def _history(settings: Settings, before: int) -> list[tuple[list[str], list[float]]]:
    """(participants, mechanisms) of every earlier round whose report in the reports folder has a record."""
    out = []
    for path in sorted(settings.reports_dir.glob("round-*.json")) if settings.reports_dir.exists() else ():
        try:
            data = json.loads(path.read_text())
            if int(data["round_id"]) >= before or not data.get("privacy"):
                continue
            out.append(([str(p) for p in data["participants"]], [float(m) for m in data["privacy"]["mechanisms"]]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


def round_privacy(
    settings: Settings,
    round_id: int,
    *,
    counts: Mapping[str, int],
    rule: str,
    bounded: bool,
    statistic_published: bool,
) -> dict[str, Any]:
    """The privacy record of round ``round_id`` whose included hospitals declared ``counts`` (name -> count).

    ``statistic_published``: the enclave published the bound policy's noised count this round.
    """
    dp, policy = dp_config(settings), bound_policy(settings)
    names = list(counts)
    raw = normalized_weights([counts[n] for n in names], settings.scale_bits) if names else []
    weights = [w / 2**settings.scale_bits for w in raw]
    covered = dp is not None and rule == "fedavg" and bounded and bool(names)
    mechanisms: list[float] = []
    collusion: list[float] = []
    record: dict[str, Any] = {
        "dp": dp is not None,
        "noise_multiplier": settings.dp_noise_multiplier,
        "honest_hospitals": dp.honest_hospitals if dp else None,
        "delta": settings.dp_delta,
    }
    if covered and dp is not None:
        worst, alone = round_multipliers(dp.noise_multiplier, dp.honest_hospitals, weights)
        mechanisms.append(worst)
        collusion.append(alone)
    else:
        mechanisms.append(0.0)  # the aggregate itself is not private this round
        collusion.append(0.0)
    if statistic_published:
        mechanisms.append(policy.count_noise)
        collusion.append(policy.count_noise)
    record["mechanisms"] = [round(m, 6) for m in mechanisms]
    record["collusion_multiplier"] = round(collusion[0], 6) if covered else None
    record["epsilon_round"] = _finite(epsilon([mechanisms], settings.dp_delta))
    record["epsilon_round_collusion"] = _finite(epsilon([collusion], settings.dp_delta))
    record["count_epsilon_round"] = (
        _finite(epsilon([[policy.count_noise]], settings.dp_delta)) if statistic_published else None
    )
    history = [*_history(settings, round_id), (names, record["mechanisms"])]
    record["epsilon_total"] = {n: _finite(_total(history, n, settings.dp_delta)) for n in names}
    return record


def _total(history: Sequence[tuple[list[str], list[float]]], name: str, delta: float) -> float:
    return epsilon([m for who, m in history if name in who], delta)


def check_budget(settings: Settings, hospitals: Sequence[str]) -> None:
    """Refuse to open a round that could take any of ``hospitals`` past ``ZKFL_DP_EPSILON_BUDGET``: its rounds so
    far (the reports folder) composed with one more at the configured multiplier (or the worst one a round has
    had, if lower) and the bound policy's count. No budget: nothing to check.

    Raises:
        RoundError: a hospital would pass the budget, or DP is off (no finite epsilon to keep within it).
    """
    budget = settings.dp_epsilon_budget
    if budget is None:
        return
    dp = dp_config(settings)
    if dp is None:
        raise RoundError(f"a DP budget of {budget} is set but DP is off (ZKFL_DP_NOISE_MULTIPLIER=0): no round opens")
    history = _history(settings, 1 << 62)
    seen = [m[0] for _, m in history if m and m[0] > 0]  # unequal weights lower it: the worst seen so far
    next_round = [min([dp.noise_multiplier, *seen]), bound_policy(settings).count_noise]
    for name in hospitals:
        spent = [m for who, m in history if name in who]
        projected = epsilon([*spent, next_round], settings.dp_delta)
        if projected > budget:
            raise RoundError(
                f"{name}'s epsilon would reach {projected:.3g} with one more round, past the consortium's DP budget "
                f"{budget:g} (ZKFL_DP_EPSILON_BUDGET): no round opens (docs/privacy.md)"
            )
