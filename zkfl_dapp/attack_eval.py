"""`python -m zkfl_dapp.attack_eval`: how the poisoning defences hold up against malicious hospitals.

Five hospitals train the logistic regression on the breast-cancer split (IID or Dirichlet label skew);
the last ``k`` of them (``k`` in ``--malicious``) run one of the attacks of :mod:`zkfl_dapp.attacks`.
Four systems each follow their own global-model trajectory from the same genesis model:

* ``fedavg``: plain float FedAvg of all five submissions (:func:`~zkfl_dapp.training.fedavg_float`).
* ``norm``: norm proofs. Every submission is quantized at scale 2^13 (one that cannot be is rejected);
  one whose distance to the global model is not provable or above the round's bound is rejected
  (:func:`~zkfl_dapp.robust.provable_distance`, :func:`~zkfl_dapp.robust.within_bound`); the accepted
  ones are averaged exactly as the FedAvg circuit does (:func:`~zkfl_dapp.aggregation.fedavg_quantized`).
  The bound follows :class:`~zkfl_dapp.robust.NormBoundPolicy`.
* ``median``: norm proofs, then the coordinate-wise median circuit's rule over the five slots, a
  rejected slot carrying the previous global model (:func:`~zkfl_dapp.robust.fill_slots`).
* ``median_only``: the median of all five quantized submissions, no norm proofs.

With fewer than :data:`QUORUM` accepted submissions a round of a proof system is skipped: the global
model and the bound stay as they were. This harness runs the quantized reference semantics that the
circuits reproduce bit for bit; it makes no proofs. Outputs (in ``--out``): ``results.json`` (every
round of every run), ``report.md`` and one accuracy plot per attack; ``--report-dir docs`` also writes
``docs/attack-eval.md`` with its plots in ``docs/attack-eval/``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.aggregation import fedavg_quantized, normalized_weights
from zkfl_dapp.attacks import ATTACKS, MALIGNANT_LABEL, Attack, AttackContext, get_attack, honest_update
from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.data import Dataset, SplitKind, load_federated
from zkfl_dapp.exceptions import ConfigError, QuantizationError, ZkflError
from zkfl_dapp.model import ModelSpec, accuracy, predict_proba
from zkfl_dapp.quantization import dequantize, quantize
from zkfl_dapp.robust import (
    NormBoundPolicy,
    bound_from_quantized,
    bound_sq_quantized,
    fill_slots,
    median_norm,
    median_quantized,
    provable_distance,
    update_norm,
    within_bound,
)
from zkfl_dapp.training import TrainConfig, fedavg_float

#: The systems compared, each with its own global-model trajectory.
SYSTEMS: Final = ("fedavg", "norm", "median", "median_only")
#: The systems whose hospitals must prove their update's norm bound.
NORM_SYSTEMS: Final = frozenset({"norm", "median"})
#: Hospitals in the consortium (the median circuit has 5 slots).
NUM_HOSPITALS: Final = 5
#: Fewest accepted submissions a proof system aggregates; below it the round is skipped.
QUORUM: Final = 3
#: The circuits' fixed-point scale (2^13).
SCALE_BITS: Final = 13
#: The scenario name of the honest reference run.
NO_ATTACK: Final = "none"
SPLITS: Final[tuple[SplitKind, ...]] = ("iid", "dirichlet")
DEFAULT_ROUNDS: Final = 10
DEFAULT_SEEDS: Final = (0, 1, 2)
DEFAULT_MALICIOUS: Final = (1, 2)
DEFAULT_OUT: Final = REPO_ROOT / "build" / "attack-eval"
#: ``--quick``: a tiny run for the tests (still overridable by the explicit options).
QUICK: Final[dict[str, Any]] = {
    "rounds": 3,
    "seeds": (0,),
    "attacks": ("boosted", "sign_flip"),
    "splits": ("iid",),
    "malicious": (2,),
}
_PLOT_DPI: Final = 80
_SYSTEM_STYLE: Final = {
    "fedavg": ("tab:red", "o"),
    "norm": ("tab:blue", "s"),
    "median": ("tab:green", "^"),
    "median_only": ("tab:orange", "v"),
}


@dataclass(frozen=True)
class Scenario:
    """One attack setting: which attack, how many malicious hospitals (the last ones), which split."""

    attack: str
    malicious: int
    split: SplitKind

    def __post_init__(self) -> None:
        if self.attack != NO_ATTACK and self.attack not in ATTACKS:
            raise ConfigError(f"unknown attack {self.attack!r}; expected {NO_ATTACK!r} or one of {sorted(ATTACKS)}")
        if self.attack == NO_ATTACK and self.malicious != 0:
            raise ConfigError("the no-attack reference has no malicious hospitals")
        if not 0 <= self.malicious < NUM_HOSPITALS:
            raise ConfigError(f"malicious hospitals must be 0..{NUM_HOSPITALS - 1}, got {self.malicious}")
        if self.attack != NO_ATTACK and self.malicious == 0:
            raise ConfigError(f"attack {self.attack!r} needs at least one malicious hospital")

    @property
    def malicious_set(self) -> frozenset[int]:
        """Indices of the malicious hospitals: the last ``malicious`` ones."""
        return frozenset(range(NUM_HOSPITALS - self.malicious, NUM_HOSPITALS))

    @property
    def label(self) -> str:
        return f"{self.attack} {self.malicious}/{NUM_HOSPITALS} {self.split}"


@dataclass(frozen=True)
class RoundRecord:
    """One round of one system.

    Attributes:
        round_id: The round (1-based).
        accuracy: Test accuracy of the global model after the round.
        malignant_recall: Share of malignant test samples the global model classifies malignant.
        bound: The round's L2 bound on ``||u - g||`` (proof systems only).
        norms: ``||u_i - g||`` of every hospital's submission, in float.
        violations: Hospitals whose submission is not quantizable, not provable or above the bound
            (proof systems only).
        rejected: Hospitals whose submission did not enter the aggregate.
        skipped: Fewer than the quorum were accepted; the global model did not change.
        malicious_rejected: How many of ``rejected`` are malicious.
        honest_rejected: How many of ``rejected`` are honest (false rejections).
    """

    round_id: int
    accuracy: float
    malignant_recall: float
    bound: float | None
    norms: tuple[float, ...]
    violations: tuple[int, ...] | None
    rejected: tuple[int, ...]
    skipped: bool
    malicious_rejected: int
    honest_rejected: int


@dataclass(frozen=True)
class RunResult:
    """Every system's trajectory for one scenario and seed."""

    scenario: Scenario
    seed: int
    rounds: int
    initial_accuracy: float
    initial_malignant_recall: float
    systems: dict[str, tuple[RoundRecord, ...]]


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


@dataclass
class _Trajectory:
    """A system's current global model (float, and quantized for the circuit systems) and bound."""

    params: NDArray[np.float64]
    quantized: tuple[int, ...] | None = None
    bound: float | None = None


@dataclass
class _Step:
    params: NDArray[np.float64]
    quantized: tuple[int, ...] | None = None
    bound: float | None = None
    violations: tuple[int, ...] | None = None
    rejected: tuple[int, ...] = ()
    skipped: bool = False
    next_bound: float | None = None


def malignant_recall(spec: ModelSpec, params: NDArray[np.float64], test: Dataset) -> float:
    """Share of the malignant samples of ``test`` classified malignant (P(benign) < 0.5)."""
    mask = test.y == MALIGNANT_LABEL
    if not np.any(mask):
        return math.nan
    return float(np.mean(predict_proba(spec, params, test.x[mask]) < 0.5))


def _try_quantize(u: NDArray[np.float64]) -> tuple[int, ...] | None:
    try:
        return quantize(u, SCALE_BITS)
    except QuantizationError:
        return None


def _norm_check(
    submissions: Sequence[NDArray[np.float64]], g_q: tuple[int, ...], bound: float
) -> tuple[list[tuple[int, ...] | None], tuple[int, ...]]:
    """Quantize and check every submission against the bound: the accepted vectors (``None`` where rejected)."""
    b = bound_sq_quantized(bound, SCALE_BITS)
    slots: list[tuple[int, ...] | None] = []
    violations = []
    for i, u in enumerate(submissions):
        q = _try_quantize(u)
        if q is None or not provable_distance(q, g_q, SCALE_BITS) or not within_bound(q, g_q, b, SCALE_BITS):
            violations.append(i)
            slots.append(None)
        else:
            slots.append(q)
    return slots, tuple(violations)


def _step_fedavg(state: _Trajectory, subs: Sequence[NDArray[np.float64]], counts: Sequence[int]) -> _Step:
    return _Step(params=fedavg_float(subs, counts))


def _step_median_only(state: _Trajectory, subs: Sequence[NDArray[np.float64]], counts: Sequence[int]) -> _Step:
    assert state.quantized is not None
    slots = [_try_quantize(u) for u in subs]  # an unquantizable vector cannot enter the circuit at all
    new_q = median_quantized(fill_slots(slots, state.quantized))
    rejected = tuple(i for i, q in enumerate(slots) if q is None)
    return _Step(params=dequantize(new_q, SCALE_BITS), quantized=new_q, rejected=rejected)


def _step_bounded(
    system: str,
    state: _Trajectory,
    subs: Sequence[NDArray[np.float64]],
    counts: Sequence[int],
    policy: NormBoundPolicy,
) -> _Step:
    assert state.quantized is not None and state.bound is not None
    g_q = state.quantized
    slots, violations = _norm_check(subs, g_q, state.bound)
    accepted = [i for i, q in enumerate(slots) if q is not None]
    if len(accepted) < QUORUM:
        # No finalized round, no round report, no new norm statistic: the model and the bound stay.
        return _Step(state.params, g_q, state.bound, violations, violations, skipped=True, next_bound=state.bound)
    acc_q = [q for q in slots if q is not None]
    if system == "norm":
        weights = normalized_weights([counts[i] for i in accepted], SCALE_BITS)
        new_q = fedavg_quantized(acc_q, weights, SCALE_BITS)
    else:
        new_q = median_quantized(fill_slots(slots, g_q))
    # The statistic as the enclave computes it (the circuit's quantized distance), and the previous bound as
    # the chain holds it (the quantized b): zkfl_dapp.enclave and zkfl_dapp.consortium.
    norms = [update_norm(q, g_q, SCALE_BITS) for q in acc_q]
    previous = bound_from_quantized(bound_sq_quantized(state.bound, SCALE_BITS), SCALE_BITS)
    next_bound = policy.next_bound(previous, median_norm(norms))
    return _Step(dequantize(new_q, SCALE_BITS), new_q, state.bound, violations, violations, next_bound=next_bound)


def run_scenario(scenario: Scenario, seed: int, rounds: int, policy: NormBoundPolicy | None = None) -> RunResult:
    """Runs every system for ``rounds`` rounds of ``scenario``; a deterministic function of the arguments."""
    if rounds < 1:
        raise ConfigError(f"rounds must be >= 1, got {rounds}")
    policy = policy or NormBoundPolicy()
    split = load_federated(NUM_HOSPITALS, split=scenario.split, seed=seed)
    spec = ModelSpec(num_features=split.num_features)
    cfg = TrainConfig(seed=seed)  # every hospital trains with the consortium's config, as in consortium.py
    counts = split.shard_sizes()
    attack: Attack | None = None if scenario.attack == NO_ATTACK else get_attack(scenario.attack)
    bad = scenario.malicious_set
    genesis = spec.initial_params(seed)
    genesis_q = quantize(genesis, SCALE_BITS)
    states = {
        "fedavg": _Trajectory(params=genesis.copy()),
        "norm": _Trajectory(dequantize(genesis_q, SCALE_BITS), genesis_q, policy.next_bound(None, None)),
        "median": _Trajectory(dequantize(genesis_q, SCALE_BITS), genesis_q, policy.next_bound(None, None)),
        "median_only": _Trajectory(dequantize(genesis_q, SCALE_BITS), genesis_q),
    }
    honest_cache: dict[tuple[bytes, int], NDArray[np.float64]] = {}  # systems often share a global model
    records: dict[str, list[RoundRecord]] = {s: [] for s in SYSTEMS}
    for round_id in range(1, rounds + 1):
        honest_cache.clear()
        for system in SYSTEMS:
            state = states[system]
            g = state.params
            subs = []
            for i, shard in enumerate(split.shards):
                ctx = AttackContext(spec, g, shard, cfg, round_id, i, state.bound)
                if attack is not None and i in bad:
                    subs.append(attack.craft(ctx))
                    continue
                key = (g.tobytes(), i)
                if key not in honest_cache:
                    honest_cache[key] = honest_update(ctx)
                subs.append(honest_cache[key])
            if system == "fedavg":
                step = _step_fedavg(state, subs, counts)
            elif system == "median_only":
                step = _step_median_only(state, subs, counts)
            else:
                step = _step_bounded(system, state, subs, counts, policy)
            states[system] = _Trajectory(step.params, step.quantized, step.next_bound)
            records[system].append(
                RoundRecord(
                    round_id=round_id,
                    accuracy=accuracy(spec, step.params, split.test),
                    malignant_recall=malignant_recall(spec, step.params, split.test),
                    bound=step.bound,
                    norms=tuple(float(np.linalg.norm(u - g)) for u in subs),
                    violations=step.violations,
                    rejected=step.rejected,
                    skipped=step.skipped,
                    malicious_rejected=sum(1 for i in step.rejected if i in bad),
                    honest_rejected=sum(1 for i in step.rejected if i not in bad),
                )
            )
    return RunResult(
        scenario=scenario,
        seed=seed,
        rounds=rounds,
        initial_accuracy=accuracy(spec, genesis, split.test),
        initial_malignant_recall=malignant_recall(spec, genesis, split.test),
        systems={s: tuple(r) for s, r in records.items()},
    )


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


# --- reporting -----------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _pair(summary: dict[str, SystemSummary], attr: str, fmt: Any = _pct) -> str:
    return " / ".join(fmt(getattr(summary[s], attr)) for s in ("norm", "median"))


def _violations_cell(summary: dict[str, SystemSummary]) -> str:
    cells = []
    for s in ("norm", "median"):
        sm = summary[s]
        cells.append("none" if not sm.violations else f"{_pct(sm.violation_rejection_rate)} of {sm.violations}")
    return " / ".join(cells)


def _scenario_order(scenarios: Iterable[Scenario]) -> list[Scenario]:
    attack_rank = {NO_ATTACK: -1} | {a: i for i, a in enumerate(ATTACKS)}
    return sorted(scenarios, key=lambda s: (attack_rank[s.attack], s.malicious, SPLITS.index(s.split)))


def format_table(summaries: dict[Scenario, dict[str, SystemSummary]]) -> str:
    """The report's main table (markdown): one row per scenario."""
    head = (
        "| attack | malicious | split | "
        + " | ".join(f"{s} final (min)" for s in SYSTEMS)
        + " | violating rejected (norm / median) | malicious rejected (norm / median)"
        + " | honest false-rejected (norm / median) | skipped rounds (norm / median) |"
    )
    lines = [head, "|" + "---|" * (3 + len(SYSTEMS) + 4)]
    for sc in _scenario_order(summaries):
        sm = summaries[sc]
        cells = [f"{sm[s].final_accuracy:.3f} ({sm[s].min_accuracy:.3f})" for s in SYSTEMS]
        mal = _pair(sm, "malicious_rejection_rate") if sc.malicious else "–"
        lines.append(
            f"| {sc.attack} | {sc.malicious} | {sc.split} | "
            + " | ".join(cells)
            + f" | {_violations_cell(sm)} | {mal}"
            + f" | {_pair(sm, 'honest_false_rejection_rate')} | {_pair(sm, 'skipped_rounds', str)} |"
        )
    return "\n".join(lines)


def format_recall_table(summaries: dict[Scenario, dict[str, SystemSummary]]) -> str:
    """Final malignant recall per system (the targeted attack's success measure), markdown."""
    lines = [
        "| attack | malicious | split | " + " | ".join(f"{s} final (min)" for s in SYSTEMS) + " |",
        "|" + "---|" * (3 + len(SYSTEMS)),
    ]
    for sc in _scenario_order(summaries):
        sm = summaries[sc]
        cells = [f"{sm[s].final_malignant_recall:.3f} ({sm[s].min_malignant_recall:.3f})" for s in SYSTEMS]
        lines.append(f"| {sc.attack} | {sc.malicious} | {sc.split} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _findings(summaries: dict[Scenario, dict[str, SystemSummary]]) -> list[str]:
    """Plain statements computed from the numbers (no judgement the numbers do not carry)."""
    out = []
    for system in ("norm", "median"):
        hon = sum(sm[system].honest_rejected for sm in summaries.values())
        hon_n = sum(sm[system].honest_submitted for sm in summaries.values())
        out.append(f"`{system}`: {hon} of {hon_n} honest submissions were rejected by the bound ({_pct(hon / hon_n)}).")
        viol = sum(sm[system].violations or 0 for sm in summaries.values())
        viol_rej = sum(sm[system].violations_rejected or 0 for sm in summaries.values())
        out.append(f"`{system}`: {viol_rej} of {viol} norm-violating submissions were rejected.")
        skipped = [sc.label for sc in _scenario_order(summaries) if summaries[sc][system].skipped_rounds]
        out.append(
            f"`{system}`: rounds skipped for lack of quorum: " + (", ".join(skipped) if skipped else "none") + "."
        )
        through = [
            f"{sc.label} ({sm.malicious_submitted - sm.malicious_rejected} of {sm.malicious_submitted})"
            for sc in _scenario_order(summaries)
            if (sm := summaries[sc][system]).malicious_submitted and sm.malicious_rejected < sm.malicious_submitted
        ]
        if through:
            out.append(f"`{system}`: malicious submissions accepted (under the bound): {'; '.join(through)}.")
    refs = {sc.split: sm for sc, sm in summaries.items() if sc.attack == NO_ATTACK}
    for sc in _scenario_order(summaries):
        if sc.attack == NO_ATTACK or sc.split not in refs:
            continue
        for attr, margin, what in (
            ("final_accuracy", 0.05, "final accuracy more than 5 points"),
            ("final_malignant_recall", 0.1, "final malignant recall more than 10 points"),
        ):
            ref = getattr(refs[sc.split]["fedavg"], attr)
            below = [
                f"{s} {getattr(summaries[sc][s], attr):.3f}"
                for s in SYSTEMS
                if getattr(summaries[sc][s], attr) < ref - margin
            ]
            if below:
                out.append(f"{sc.label}: {what} below the honest FedAvg reference ({ref:.3f}): {', '.join(below)}.")
    return out


def format_report(
    summaries: dict[Scenario, dict[str, SystemSummary]],
    *,
    rounds: int,
    seeds: Sequence[int],
    policy: NormBoundPolicy,
    command: str,
    plots: Sequence[str],
    image_prefix: str = "",
) -> str:
    """The markdown report; image links are ``image_prefix + <plot file name>``."""
    attack_lines = "\n".join(f"* `{name}`: {a.describe()}." for name, a in ATTACKS.items())
    plot_lines = "\n\n".join(f"**{Path(p).stem}**\n\n![{Path(p).stem}]({image_prefix}{Path(p).name})" for p in plots)
    findings = "\n".join(f"* {line}" for line in _findings(summaries))
    return f"""# Attack evaluation: norm proofs and the median rule against poisoning hospitals

Generated by `{command}` ({rounds} rounds, seeds {", ".join(map(str, seeds))}; figures are the mean
over seeds, "min" the lowest value over all rounds and seeds). Deterministic: the same command gives
the same numbers.

**What this is.** A simulation of {NUM_HOSPITALS} hospitals training the logistic regression (31
parameters) on the Wisconsin breast-cancer split (`iid`, or `dirichlet` label skew with alpha 0.5),
with the last 1 or 2 hospitals malicious. It runs the *quantized reference semantics* of the project's
circuits (scale 2^{SCALE_BITS}): `robust.within_bound` / `robust.provable_distance` for the norm proof's
flag, `aggregation.fedavg_quantized` for the FedAvg circuit and `robust.median_quantized` for the
median circuit, which the circuits reproduce bit for bit (as the project's circuit tests assert). It
does **not** generate or verify real proofs for every round, and it leaves out the chain, storage and
encryption, which change nothing about which update is accepted.

**Systems**, each on its own global-model trajectory from the same genesis model:

* `fedavg`: plain float FedAvg of all {NUM_HOSPITALS} submissions, weighted by sample counts.
* `norm`: norm proofs + the FedAvg circuit: a submission that cannot be quantized, whose distance to
  the global model the norm circuit cannot prove, or whose distance is above the round's bound is
  rejected; the rest are averaged with the on-chain normalized weights.
* `median`: norm proofs + the coordinate-wise median circuit; a rejected slot carries the previous
  global model ("no change" vote).
* `median_only`: the median circuit over all {NUM_HOSPITALS} submissions, no norm proofs.

A proof system with fewer than {QUORUM} accepted submissions skips the round: the global model and the
bound stay as they were (no round is finalized, so no new norm statistic is published).

**Bound policy** (`robust.NormBoundPolicy()`): round 1 bound ||u - g|| <= {policy.initial:g}; round r > 1
bound = max({policy.floor:g}, min(previous bound, {policy.kappa:g} x median ||u - g|| of the previous
round's accepted submissions)), the norms being the square roots of the norm circuit's quantized
distances as the enclave computes them, and the previous bound the one the chain holds (its quantized
square). A skipped round leaves the bound as it was.

**Attacks** (`zkfl_dapp/attacks.py`; `g` the global model, `honest` the attacker's honestly trained
local model; the attacker knows `g` and the round's bound, both public, but not the other updates):

{attack_lines}

**Measures.** Test accuracy of each system's global model per round (114 held-out samples); malignant
recall (share of malignant test samples classified malignant: the targeted attack tries to lower it);
norm-violating submissions (not within the bound or not provable, honest or malicious) and how many
were rejected; malicious submissions rejected; honest submissions wrongly rejected.

**Not defended, and not evaluated here.**

* A hospital lying about its sample count: FedAvg weights come from the claimed counts, so a malicious
  hospital can weight its in-bound update up (the median rule ignores the weights).
* More than 2 of 5 malicious hospitals: the median of 5 slots tolerates at most 2, and the quorum
  of {QUORUM} can then be blocked or filled by attackers.
* In-bound poisoning: an update within the bound is accepted whatever its direction (`label_flip`,
  `targeted_low_norm`); the bound only limits how far one round can move the model, so a persistent
  attacker still drifts it. The median rule, not the bound, is what addresses direction.
* Adaptive attackers who collude across rounds to inflate the norm statistic, backdoor triggers, data
  poisoning of the honest hospitals, privacy attacks on the updates.

## Accuracy and rejections

Each system column: final test accuracy (lowest over all rounds). Percentages are pooled over rounds
and seeds. "Violating rejected": the share of norm-violating submissions (honest or malicious) that
were rejected, of how many there were (target 100%; the rule rejects exactly what the norm circuit
cannot certify, so anything else would be a bug). "Malicious rejected": the share of the attackers'
submissions rejected; an attacker's update that fits under the bound is accepted, which is the point
of the low-norm attacks. "Honest false-rejected": the share of honest submissions rejected (target 0%).

{format_table(summaries)}

## Malignant recall

Final malignant recall (lowest over all rounds) per system; the targeted attack's success is a drop here.

{format_recall_table(summaries)}

## Findings computed from the numbers

{findings}

## Why an attacker's update can pass the bound

The bound limits how far one update moves the model, never its direction:

* The blatant attacks scale the attacker's *own* delta. Round 2 still runs under the initial bound
  (round 1's {policy.kappa:g} x median norm is usually above it, and the policy never raises the bound),
  and as the model converges the attacker's delta shrinks with everyone's, so a scaled delta can fit
  under {policy.kappa:g} x the median honest norm. Such an update is accepted: the proof only certifies its norm.
* `label_flip` and `targeted_low_norm` are built to look like ordinary updates by norm. With two of them
  the poisoned FedAvg model stays far from what the honest hospitals train towards, so the honest
  norms, and with them the bound, stay large. The coordinate-wise median is what limits their effect:
  with at most 2 of 5 slots poisoned, every coordinate of the median lies between the smallest and the
  largest of the other slots' values (honest updates, or the previous model for a rejected slot).
* `boosted` scales the honest direction. For a linear classifier a longer step in the honest direction
  mostly sharpens the same decision boundary, so it does little harm to accuracy here even without a
  defence; it matters for non-linear models and for model replacement with a backdoor goal, which this
  evaluation does not cover.

## Accuracy per round

Mean over seeds of the test accuracy (of the malignant recall in `targeted_low_norm-recall`) after
each round, round 0 being the genesis model; dashed grey: honest plain FedAvg on the same split.

{plot_lines}
"""


def _mean_curve(runs: Sequence[RunResult], system: str, attr: str = "accuracy") -> NDArray[np.float64]:
    initial = "initial_accuracy" if attr == "accuracy" else "initial_malignant_recall"
    curves = [[getattr(r, initial)] + [getattr(rec, attr) for rec in r.systems[system]] for r in runs]
    return np.asarray(np.mean(np.asarray(curves, dtype=np.float64), axis=0), dtype=np.float64)


def write_plots(results: dict[Scenario, list[RunResult]], out_dir: Path, attacks: Sequence[str]) -> list[Path]:
    """One PNG per attack (malicious count x split subplots), plus the no-attack reference and recall plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    refs = {sc.split: runs for sc, runs in results.items() if sc.attack == NO_ATTACK}
    written = []
    figures: list[tuple[str, str]] = [(a, "accuracy") for a in attacks]
    if "targeted_low_norm" in attacks:
        figures.append(("targeted_low_norm", "malignant_recall"))
    if refs:
        figures.insert(0, (NO_ATTACK, "accuracy"))
    for attack, attr in figures:
        scenarios = [sc for sc in results if sc.attack == attack]
        mal = sorted({sc.malicious for sc in scenarios})
        splits = [s for s in SPLITS if any(sc.split == s for sc in scenarios)]
        if not scenarios:
            continue
        fig, axes = plt.subplots(len(mal), len(splits), figsize=(4.2 * len(splits), 3.0 * len(mal)), squeeze=False)
        for (row, k), (col, split) in ((a, b) for a in enumerate(mal) for b in enumerate(splits)):
            ax = axes[row][col]
            runs = results.get(Scenario(attack, k, split), [])
            if not runs:
                ax.set_visible(False)
                continue
            x = np.arange(runs[0].rounds + 1)
            if attack != NO_ATTACK and split in refs:
                ax.plot(x, _mean_curve(refs[split], "fedavg", attr), color="grey", ls="--", lw=1, label="honest fedavg")
            for system in SYSTEMS:
                color, marker = _SYSTEM_STYLE[system]
                ax.plot(x, _mean_curve(runs, system, attr), color=color, marker=marker, ms=3, lw=1.2, label=system)
            ax.set_title(f"{attack}: {k}/{NUM_HOSPITALS} malicious, {split}", fontsize=9)
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("round", fontsize=8)
            ax.set_ylabel("test accuracy" if attr == "accuracy" else "malignant recall", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        suffix = "" if attr == "accuracy" else "-recall"
        path = out_dir / f"{attack}{suffix}.png"
        fig.savefig(path, dpi=_PLOT_DPI, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written


def _json_ready(results: dict[Scenario, list[RunResult]], summaries: dict[Scenario, dict[str, SystemSummary]]) -> Any:
    return {
        "runs": [
            {
                "scenario": asdict(r.scenario),
                "seed": r.seed,
                "rounds": r.rounds,
                "initial_accuracy": r.initial_accuracy,
                "initial_malignant_recall": r.initial_malignant_recall,
                "systems": {s: [asdict(rec) for rec in recs] for s, recs in r.systems.items()},
            }
            for sc in _scenario_order(results)
            for r in results[sc]
        ],
        "summary": [
            {"scenario": asdict(sc), "systems": {s: asdict(v) for s, v in summaries[sc].items()}}
            for sc in _scenario_order(summaries)
        ],
    }


# --- command line ----------------------------------------------------------------------------------


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _name_list(choices: Iterable[str]) -> Any:
    allowed = tuple(choices)

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(x.strip() for x in text.split(",") if x.strip())
        if names == ("all",):
            return allowed
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"unknown {unknown or text!r}; expected a list of {', '.join(allowed)}")
        return names

    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m zkfl_dapp.attack_eval",
        description="How the poisoning defences hold up against malicious hospitals (see docs/attack-eval.md).",
    )
    parser.add_argument("--rounds", type=int, default=None, help=f"rounds per run (default {DEFAULT_ROUNDS})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default build/attack-eval)")
    parser.add_argument("--seeds", type=_int_list, default=None, help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--attacks", type=_name_list(ATTACKS), default=None, help="comma-separated, or all")
    parser.add_argument("--splits", type=_name_list(SPLITS), default=None, help="iid,dirichlet (default both)")
    parser.add_argument("--malicious", type=_int_list, default=None, help="malicious counts (default 1,2)")
    parser.add_argument("--no-reference", action="store_true", help="skip the no-attack reference runs")
    parser.add_argument(
        "--quick", action="store_true", help="tiny run: 3 rounds, boosted + sign_flip, 2/5, iid, seed 0"
    )
    parser.add_argument("--report-dir", type=Path, default=None, help="also write <dir>/attack-eval.md + plots")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch threads (0: torch's default)")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else {}
    args.rounds = args.rounds if args.rounds is not None else base.get("rounds", DEFAULT_ROUNDS)
    args.seeds = args.seeds or base.get("seeds", DEFAULT_SEEDS)
    args.attacks = args.attacks or base.get("attacks", tuple(ATTACKS))
    args.splits = args.splits or base.get("splits", SPLITS)
    args.malicious = args.malicious or base.get("malicious", DEFAULT_MALICIOUS)
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if any(not 1 <= k <= (NUM_HOSPITALS - 1) // 2 for k in args.malicious):
        parser.error(f"--malicious counts must be 1..{(NUM_HOSPITALS - 1) // 2} (the median tolerates at most that)")
    if any(s < 0 for s in args.seeds):
        parser.error("--seeds must be non-negative")
    return args


def scenarios_for(args: argparse.Namespace) -> list[Scenario]:
    """The runs asked for: every attack x malicious count x split, plus the no-attack reference per split."""
    out = [] if args.no_reference else [Scenario(NO_ATTACK, 0, split) for split in args.splits]
    out += [Scenario(a, k, s) for a in args.attacks for k in args.malicious for s in args.splits]
    return out


def _summary_line(sc: Scenario, sm: dict[str, SystemSummary]) -> str:
    acc = "  ".join(f"{s}={sm[s].final_accuracy:.3f}" for s in SYSTEMS)
    return (
        f"{sc.label:<32} {acc}  rejected mal {_pair(sm, 'malicious_rejection_rate')}"
        f"  honest {_pair(sm, 'honest_false_rejection_rate')}"
        f"  recall median={sm['median'].final_malignant_recall:.3f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.torch_threads > 0:
        import torch  # one thread is faster for a 31-parameter model and steadier on a shared machine

        torch.set_num_threads(args.torch_threads)
    command = "python -m zkfl_dapp.attack_eval " + " ".join(sys.argv[1:] if argv is None else argv)
    policy = NormBoundPolicy()
    began = time.perf_counter()
    results: dict[Scenario, list[RunResult]] = {}
    summaries: dict[Scenario, dict[str, SystemSummary]] = {}
    try:
        for sc in scenarios_for(args):
            results[sc] = [run_scenario(sc, seed, args.rounds, policy) for seed in args.seeds]
            summaries[sc] = {s: summarize(results[sc], s) for s in SYSTEMS}
            print(f"[{time.perf_counter() - began:6.1f} s] {_summary_line(sc, summaries[sc])}", flush=True)
    except ZkflError as exc:
        print(f"attack evaluation failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps(
            {
                "command": command,
                "rounds": args.rounds,
                "seeds": list(args.seeds),
                "policy": asdict(policy),
                "scale_bits": SCALE_BITS,
                "quorum": QUORUM,
                "hospitals": NUM_HOSPITALS,
            }
            | _json_ready(results, summaries),
            indent=1,
        )
    )
    plots = write_plots(results, out, args.attacks)

    def report(image_prefix: str) -> str:
        return format_report(
            summaries,
            rounds=args.rounds,
            seeds=args.seeds,
            policy=policy,
            command=command,
            plots=[p.name for p in plots],
            image_prefix=image_prefix,
        )

    (out / "report.md").write_text(report(""))
    if args.report_dir is not None:
        images = args.report_dir / "attack-eval"
        images.mkdir(parents=True, exist_ok=True)
        for p in plots:
            shutil.copyfile(p, images / p.name)
        (args.report_dir / "attack-eval.md").write_text(report("attack-eval/"))
    print()
    print(format_table(summaries))
    print(
        f"\n{len(summaries)} scenario(s) x {len(args.seeds)} seed(s), {args.rounds} rounds; took "
        f"{time.perf_counter() - began:.0f} s; results in {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
