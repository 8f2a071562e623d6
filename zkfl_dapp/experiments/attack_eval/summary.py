"""Summaries of many runs of one scenario: accuracy, recall, rejection rates per system."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zkfl_dapp.exceptions import ConfigError
from zkfl_dapp.experiments.attack_eval.simulate import NORM_SYSTEMS, NUM_HOSPITALS, RunResult


@dataclass(frozen=True)
class SystemSummary:
    """One system's figures for one scenario, pooled over seeds (rates are ``None`` where undefined)."""

    final_accuracy: float
    final_accuracy_per_seed: tuple[float, ...]
    min_accuracy: float
    final_malignant_recall: float
    min_malignant_recall: float
    violations: int | None
    violations_rejected: int | None
    violation_rejection_rate: float | None
    malicious_submitted: int
    malicious_rejected: int
    malicious_rejection_rate: float | None
    honest_submitted: int
    honest_rejected: int
    honest_false_rejection_rate: float | None
    skipped_rounds: int


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def summarize(runs: Sequence[RunResult], system: str) -> SystemSummary:
    """One system's figures for one scenario, pooled over the runs (one per seed)."""
    if not runs:
        raise ConfigError("nothing to summarize")
    rows = [r.systems[system] for r in runs]
    k = runs[0].scenario.malicious
    bounded = system in NORM_SYSTEMS
    violations = sum(len(rec.violations or ()) for row in rows for rec in row)
    violations_rejected = sum(len(set(rec.violations or ()) & set(rec.rejected)) for row in rows for rec in row)
    submitted_rounds = sum(len(row) for row in rows)
    mal_rej = sum(rec.malicious_rejected for row in rows for rec in row)
    hon_rej = sum(rec.honest_rejected for row in rows for rec in row)
    finals = tuple(row[-1].accuracy for row in rows)
    return SystemSummary(
        final_accuracy=float(np.mean(finals)),
        final_accuracy_per_seed=finals,
        min_accuracy=min(rec.accuracy for row in rows for rec in row),
        final_malignant_recall=float(np.mean([row[-1].malignant_recall for row in rows])),
        min_malignant_recall=min(rec.malignant_recall for row in rows for rec in row),
        violations=violations if bounded else None,
        violations_rejected=violations_rejected if bounded else None,
        violation_rejection_rate=_rate(violations_rejected, violations) if bounded else None,
        malicious_submitted=k * submitted_rounds,
        malicious_rejected=mal_rej,
        malicious_rejection_rate=_rate(mal_rej, k * submitted_rounds),
        honest_submitted=(NUM_HOSPITALS - k) * submitted_rounds,
        honest_rejected=hon_rej,
        honest_false_rejection_rate=_rate(hon_rej, (NUM_HOSPITALS - k) * submitted_rounds),
        skipped_rounds=sum(rec.skipped for row in rows for rec in row),
    )
