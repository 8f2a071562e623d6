"""The sample-count inflation attack of issue 18, rerun on the reference semantics (``make attack-eval``).

One hospital of five declares ``INFLATED_COUNT`` (10^6) training samples against four honest hospitals (about
91 each, the breast-cancer IID split) and submits its honest step reversed at ``REVERSE_FRACTION`` (0.95) of the
round's norm bound: ``u = g - 0.95 B (h - g) / ||h - g||``, a valid update that passes the norm proof. Before the
share cap its FedAvg weight was 8185/8192 and one round took the model from 92.1% to 7.9% accuracy; the honest
updates were then farther than the bound from the poisoned model, refused to submit, the quorum was missed and
the consortium was dead.

Here each round runs the ``norm`` system of :mod:`.simulate` (quantized updates, the norm check against the
previous committed aggregate, the exact aggregate with the on-chain weights, the bound policy) three times from
the same genesis: the honest run (five honest hospitals), the attack with the weights as they were (no share
cap: ``normalized_weights(..., denominator=1)``) and the attack with the weights RoundManager derives now
(``normalized_weights``: no member above a third). An honest hospital whose update is beyond the round's bound
refuses to submit, as zkfl_dapp.protocol.hospital does; a round with fewer than ``QUORUM`` accepted updates is
skipped (the model stays). The consortium is live when no round is skipped. The registry's per-member cap
(``admitHospital``) would refuse the 10^6 outright; this rerun admits the attacker without one, the worst case.

``python -m zkfl_dapp.experiments.attack_eval.inflation --report docs/attack-eval-inflation.md``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.circuits.suite import PAD_ROWS
from zkfl_dapp.core.aggregation import aggregate, normalized_weights, scaled_update
from zkfl_dapp.core.fixedpoint import quantize
from zkfl_dapp.core.median import fill_slots, median_quantized
from zkfl_dapp.core.norms import bound_from_quantized, bound_sq_quantized, update_norm
from zkfl_dapp.core.policy import NormBoundPolicy
from zkfl_dapp.core.privacy import declared_sample_count
from zkfl_dapp.experiments.attack_eval.simulate import (
    NUM_HOSPITALS,
    QUORUM,
    SCALE_BITS,
    _model_of,
    _norm_check,
    _pad_rng,
    _try_quantize,
)
from zkfl_dapp.experiments.attacks import honest_update
from zkfl_dapp.ml.data import load_federated
from zkfl_dapp.ml.model import ModelSpec, accuracy
from zkfl_dapp.ml.training import TrainConfig, TrainingContext

#: The attacker's declared sample count (RoundManager.MAX_SAMPLE_COUNT).
INFLATED_COUNT: Final = 1_000_000
#: The attacker's reversed step as a fraction of the round's L2 bound (just inside it).
REVERSE_FRACTION: Final = 0.95
#: The most accuracy points the capped attack run may lose against the honest run.
TOLERANCE_POINTS: Final = 2.0
#: The attacker: the last hospital.
ATTACKER: Final = NUM_HOSPITALS - 1

Weights = Callable[[Sequence[int], int], tuple[int, ...]]


def _uncapped(counts: Sequence[int], scale_bits: int) -> tuple[int, ...]:
    return normalized_weights(counts, scale_bits, 1)


@dataclass(frozen=True)
class Run:
    """One configuration: whether the attacker attacks, the weights rule, whether the registry holds the
    sample caps agreed at admission (each hospital's shard size: the 10^6 declaration is refused on-chain,
    RoundManagerSampleCountAboveMemberCap, so the attacker declares its cap), and the aggregation rule."""

    attack: bool
    weights: Weights
    admission_caps: bool = False
    median: bool = False


HONEST: Final = "honest (FedAvg)"
BEFORE: Final = "before: weights uncapped"
SHARE_CAP: Final = "share cap 1/3, no admission cap"
BOTH_CAPS: Final = "share cap + admission caps"
MEDIAN: Final = "share cap + admission caps, median rule"

#: The configurations compared.
RUNS: Final[dict[str, Run]] = {
    HONEST: Run(False, normalized_weights),
    BEFORE: Run(True, _uncapped),
    SHARE_CAP: Run(True, normalized_weights),
    BOTH_CAPS: Run(True, normalized_weights, admission_caps=True),
    MEDIAN: Run(True, normalized_weights, admission_caps=True, median=True),
}


@dataclass(frozen=True)
class InflationRound:
    """One round of one run: accuracy after it, the attacker's weight (of 2^13), honest refusals, skipped."""

    round_id: int
    accuracy: float
    attacker_weight: int
    honest_refused: int
    skipped: bool


def reversed_step(ctx: TrainingContext) -> NDArray[np.float64]:
    """The attack: the honest step reversed, at ``REVERSE_FRACTION`` of the round's bound."""
    g = ctx.global_params
    step = ctx.train() - g
    assert ctx.norm_bound is not None
    return g - REVERSE_FRACTION * ctx.norm_bound * step / float(np.linalg.norm(step))


def run_inflation(seed: int, rounds: int, run: Run) -> tuple[float, list[InflationRound]]:
    """One run: the genesis accuracy and every round's record."""
    attack, weights_of = run.attack, run.weights
    policy = NormBoundPolicy()
    split = load_federated(NUM_HOSPITALS, split="iid", seed=seed)
    spec = ModelSpec(num_features=split.num_features)
    cfg = TrainConfig(seed=seed)
    counts = [declared_sample_count(n, 10) for n in split.shard_sizes()]  # the declared (coarsened) counts
    if attack and not run.admission_caps:
        counts[ATTACKER] = INFLATED_COUNT  # with admission caps the chain refuses it: the attacker declares its cap
    genesis = spec.initial_params(seed)
    model_size = genesis.shape[0]
    s = scaled_update((*quantize(genesis, SCALE_BITS), *(0,) * PAD_ROWS), SCALE_BITS)
    params, bound = _model_of(s, model_size), policy.next_bound(None, None)
    records = []
    for round_id in range(1, rounds + 1):
        subs = []
        for i, shard in enumerate(split.shards):
            ctx = TrainingContext(spec, params, shard, cfg, round_id, i, bound)
            subs.append(reversed_step(ctx) if attack and i == ATTACKER else honest_update(ctx))
        padded = [_try_quantize(u, _pad_rng(seed, round_id, "norm", i)) for i, u in enumerate(subs)]
        slots, violations = _norm_check(padded, s, bound, model_size)
        accepted = [q for q in slots if q is not None]
        honest_refused = sum(1 for i in violations if not (attack and i == ATTACKER))
        if len(accepted) < QUORUM:
            records.append(InflationRound(round_id, accuracy(spec, params, split.test), 0, honest_refused, True))
            continue
        weights = weights_of([counts[i] if q is not None else 0 for i, q in enumerate(slots)], SCALE_BITS)
        zero = (0,) * len(s)
        norms = [update_norm(q, s, SCALE_BITS, model_size) for q in accepted]
        if run.median:
            s = median_quantized(fill_slots(slots, s, SCALE_BITS))
        else:
            s = aggregate([q if q is not None else zero for q in slots], weights)
        params = _model_of(s, model_size)
        previous = bound_from_quantized(bound_sq_quantized(bound, SCALE_BITS), SCALE_BITS)
        statistic = policy.statistic(norms, previous, np.random.default_rng([seed, round_id]))
        bound = policy.next_bound(previous, statistic)
        attacker_weight = weights[ATTACKER] if attack and not run.median else 0
        records.append(
            InflationRound(round_id, accuracy(spec, params, split.test), attacker_weight, honest_refused, False)
        )
    return accuracy(spec, genesis, split.test), records


def run_all(seed: int, rounds: int) -> dict[str, list[InflationRound]]:
    """Every run of :data:`RUNS` for one seed."""
    return {name: run_inflation(seed, rounds, run)[1] for name, run in RUNS.items()}


def gap_points(runs: dict[str, list[InflationRound]], name: str) -> float:
    """The largest accuracy loss of run ``name`` against the honest run, over the rounds, in points."""
    return max(100 * (h.accuracy - r.accuracy) for h, r in zip(runs[HONEST], runs[name], strict=True))


def live(runs: dict[str, list[InflationRound]], name: str) -> bool:
    """Whether run ``name`` skipped no round (every round met its quorum: the consortium is live)."""
    return not any(r.skipped for r in runs[name])


def verdict(runs: dict[str, list[InflationRound]]) -> tuple[bool, float]:
    """Issue 18's criterion for the defended configuration (admission caps, share cap, median rule): within
    :data:`TOLERANCE_POINTS` of the honest run in every round and live; and its largest gap."""
    gap = gap_points(runs, MEDIAN)
    return live(runs, MEDIAN) and gap <= TOLERANCE_POINTS, gap


def format_inflation(seeds: Sequence[int], results: dict[int, dict[str, list[InflationRound]]]) -> str:
    lines = [
        "# Sample-count inflation, rerun (issue 18)",
        "",
        "Generated by `python -m zkfl_dapp.experiments.attack_eval.inflation` (part of `make attack-eval`);"
        " reference semantics of the `norm` system (norm proofs + exact FedAvg with the on-chain weights),"
        f" IID split, five hospitals, the last declaring {INFLATED_COUNT:,} samples and submitting its honest step"
        f" reversed at {REVERSE_FRACTION} of the round's bound. See the module docstring for the setting.",
        "",
        "| seed | run | accuracy per round (%) | attacker's weight (/8192) | honest refusals | skipped rounds |",
        "|---|---|---|---|---|---|",
    ]
    for seed in seeds:
        for name, rows in results[seed].items():
            acc = " ".join(f"{100 * r.accuracy:.1f}" for r in rows)
            weights = " ".join(str(r.attacker_weight) for r in rows) if RUNS[name].attack else "-"
            lines.append(
                f"| {seed} | {name} | {acc} | {weights} | {sum(r.honest_refused for r in rows)} |"
                f" {sum(r.skipped for r in rows)} |"
            )
    lines.append("")
    for seed in seeds:
        runs = results[seed]
        parts = [
            f"{name}: {gap_points(runs, name):.1f} points below the honest run at worst,"
            f" {'live' if live(runs, name) else 'DEAD (rounds skipped)'}"
            for name in RUNS
            if name != HONEST
        ]
        ok, _ = verdict(runs)
        lines.append(f"- seed {seed}: " + "; ".join(parts) + f". Issue 18's criterion: {'met' if ok else 'NOT met'}.")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args(argv)
    results = {seed: run_all(seed, args.rounds) for seed in args.seeds}
    text = format_inflation(args.seeds, results)
    print(text)
    if args.report:
        args.report.write_text(text)
    return 0 if all(verdict(results[seed])[0] for seed in args.seeds) else 1


if __name__ == "__main__":
    sys.exit(main())
