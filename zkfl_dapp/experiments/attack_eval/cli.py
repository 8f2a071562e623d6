"""`python -m zkfl_dapp.experiments.attack_eval`: how the poisoning defences hold up against malicious hospitals.

Five hospitals train the logistic regression on the breast-cancer split (IID or Dirichlet label skew);
the last ``k`` of them (``k`` in ``--malicious``) run one of the attacks of :mod:`zkfl_dapp.experiments.attacks`.
Four systems each follow their own global-model trajectory from the same genesis model:

* ``fedavg``: plain float FedAvg of all five submissions (:func:`~zkfl_dapp.ml.training.fedavg_float`).
* ``norm``: norm proofs. Every submission is quantized at scale 2^13 (one that cannot be is rejected)
  and padded with hiding-pad rows; one whose distance to the previous aggregate ``S`` (scale 2^26, the
  committed global model) is not provable or above the round's bound ``b = round(B^2 * 2^26)`` is
  rejected (:func:`~zkfl_dapp.core.norms.provable_distance`, :func:`~zkfl_dapp.core.norms.within_bound`); the
  accepted ones are aggregated exactly as the contract derives it (:func:`~zkfl_dapp.core.aggregation.aggregate`,
  no rounding), and hospitals train from :func:`~zkfl_dapp.core.aggregation.training_values` of it.
  The bound follows :class:`~zkfl_dapp.core.policy.NormBoundPolicy`.
* ``median``: norm proofs, then the coordinate-wise median circuit's rule over the five slots, a
  rejected slot carrying the previous aggregate (:func:`~zkfl_dapp.core.median.fill_slots`).
* ``median_only``: the median of all five quantized submissions, no norm proofs.

With fewer than :data:`QUORUM` accepted submissions a round of a proof system is skipped: the global
model and the bound stay as they were. This harness runs the quantized reference semantics that the
circuits and the contract reproduce bit for bit; it makes no proofs. Outputs (in ``--out``): ``results.json`` (every
round of every run), ``report.md`` and one accuracy plot per attack; ``--report-dir docs`` also writes
``docs/attack-eval.md`` with its plots in ``docs/attack-eval/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.core.policy import NormBoundPolicy
from zkfl_dapp.exceptions import ZkflError
from zkfl_dapp.experiments.attack_eval.plots import write_plots
from zkfl_dapp.experiments.attack_eval.report import _json_ready, _pair, format_report, format_table
from zkfl_dapp.experiments.attack_eval.simulate import (
    NO_ATTACK,
    NUM_HOSPITALS,
    QUORUM,
    SCALE_BITS,
    SPLITS,
    SYSTEMS,
    RunResult,
    Scenario,
    run_scenario,
)
from zkfl_dapp.experiments.attack_eval.summary import SystemSummary, summarize
from zkfl_dapp.experiments.attacks import ATTACKS

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
        prog="python -m zkfl_dapp.experiments.attack_eval",
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
    command = "python -m zkfl_dapp.experiments.attack_eval " + " ".join(sys.argv[1:] if argv is None else argv)
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
