"""The attack evaluation's Markdown report: tables, findings and prose, and the JSON results."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from zkfl_dapp.core.policy import NormBoundPolicy
from zkfl_dapp.experiments.attack_eval.simulate import (
    NO_ATTACK,
    NUM_HOSPITALS,
    QUORUM,
    SCALE_BITS,
    SPLITS,
    SYSTEMS,
    RunResult,
    Scenario,
)
from zkfl_dapp.experiments.attack_eval.summary import SystemSummary
from zkfl_dapp.experiments.attacks import ATTACKS

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
protocol over KZG commitments: updates quantized at 2^{SCALE_BITS} and padded with hiding-pad rows, the
global model being the previous aggregate `S` (scale 2^{2 * SCALE_BITS}, what RoundManager commits to),
`core.norms.within_bound` / `core.norms.provable_distance` (`squared_distance(u, S)` against
`b = round(B^2 * 2^{2 * SCALE_BITS})`) for the norm proof's flag, the exact aggregate
`core.aggregation.aggregate` for FedAvg (whose commitment the contract derives; no rounding), and
`core.median.median_quantized` over `core.median.fill_slots(updates, S)` for the median circuit; hospitals
train from `core.aggregation.training_values(S)`. The circuits and the contract reproduce these bit for
bit (as the project's circuit and contract tests assert). It does **not** generate or verify real proofs
for every round, and it leaves out the chain, storage and encryption, which change nothing about which
update is accepted.

**Systems**, each on its own global-model trajectory from the same genesis model:

* `fedavg`: plain float FedAvg of all {NUM_HOSPITALS} submissions, weighted by sample counts.
* `norm`: norm proofs + exact FedAvg: a submission that cannot be quantized, whose distance to the
  previous aggregate the norm circuit cannot prove, or whose distance is above the round's bound is
  rejected; the rest are aggregated with the on-chain normalized weights.
* `median`: norm proofs + the coordinate-wise median circuit; a rejected slot carries the previous
  aggregate ("no change" vote).
* `median_only`: the median circuit over all {NUM_HOSPITALS} submissions, no norm proofs.

A proof system with fewer than {QUORUM} accepted submissions skips the round: the global model and the
bound stay as they were (no round is finalized, so no new norm statistic is published).

**Bound policy** (`core.policy.NormBoundPolicy()`): round 1 bound ||u - g|| <= {policy.initial:g}; round r > 1
bound = max({policy.floor:g}, B x min(1, exp(-{policy.learning_rate:g} x (c~/m - 1/2)))), B the previous bound as
the chain holds it (its quantized square), m the previous round's accepted submissions and c~ the count of
those within B/{policy.kappa:g} of the previous aggregate (the norm circuit's quantized distances, as the enclave
computes them) plus Gaussian noise of standard deviation {policy.count_noise:g} (seeded here; the enclave's
own entropy in a consortium): no exact norm is published (docs/privacy.md). A skipped round leaves the
bound as it was.

**Attacks** (`zkfl_dapp/experiments/attacks.py`; `g` the global model, `honest` the attacker's honestly trained
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

* The blatant attacks scale the attacker's *own* delta. The first rounds run under the initial bound
  (round 1's updates are mostly farther than B/{policy.kappa:g}, so the noised count rarely shrinks it, the
  bound shrinks by at most exp(-{policy.learning_rate:g}/2) per round, and the policy never raises it), and
  as the model converges the attacker's delta shrinks with everyone's, so a scaled delta can fit under a bound
  that settles near {policy.kappa:g} x the median honest norm. Such an update is accepted: the proof only
  certifies its norm.
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
