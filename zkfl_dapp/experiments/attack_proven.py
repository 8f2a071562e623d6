"""One attack scenario through the real system, next to its simulation (``ape run attack``).

:mod:`zkfl_dapp.experiments.attack_eval` evaluates every scenario on the quantized reference semantics. This module
plays one scenario on the real stack, for each defended configuration: a fresh consortium on anvil,
real encryption and storage, the malicious hospitals running an attack from :mod:`zkfl_dapp.experiments.attacks`,
real norm proofs (against the previous committed aggregate) verified in ``submitUpdate``, FedAvg
finalized without a proof (the contract derives the aggregate's KZG commitment from the hospitals' own and
the enclave's exact aggregate must open it), the median proven and verified in ``finalizeMedianRound``.
It records per round the proven model's accuracy, which hospitals' submissions did not go in and why
(refused, or reverted on-chain), and puts the simulation's figures for the same scenario and seed beside them.

Systems played (the simulation's names):

* ``fedavg``: exact FedAvg over commitments, no norm bound (what plain FL gets, verifiable);
* ``norm``: norm proofs + exact FedAvg;
* ``median``: norm proofs + median proofs (needs the consortium's median circuit).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zkfl_dapp.config import Settings
from zkfl_dapp.core.fixedpoint import dequantize
from zkfl_dapp.experiments.attack_eval.simulate import SYSTEMS, Scenario, malignant_recall, run_scenario
from zkfl_dapp.experiments.attacks import get_attack

#: system -> (aggregation rule, norm bound setting)
PROVEN_SYSTEMS: dict[str, tuple[str, str]] = {
    "fedavg": ("fedavg", "off"),
    "norm": ("fedavg", "auto"),
    "median": ("median", "auto"),
}


@dataclass(frozen=True)
class ProvenRound:
    """One proven round of one system, with the simulation's figures for the same round."""

    system: str
    round_id: int
    accuracy: float
    malignant_recall: float
    norm_bound: float | None
    not_accepted: list[dict[str, str]]
    malicious_not_accepted: int
    honest_not_accepted: int
    finalize_gas: int
    wall_seconds: float
    simulated_accuracy: float
    simulated_rejected: list[int]


def _replayed_noise(seed: int, system_index: int) -> Callable[[int], np.random.Generator]:
    """The enclave's count noise per round, seeded as simulate.run_scenario seeds it, so the proven bounds replay
    the simulated ones (a consortium draws it from the operating system)."""

    def noise(round_id: int) -> np.random.Generator:
        return np.random.default_rng([seed, round_id, system_index])

    return noise


def _evaluated(value: float | None) -> float:
    """A report's accuracy: the in-process consortium evaluates every round on its held-out set."""
    if value is None:
        raise RuntimeError("the round report has no held-out accuracy")
    return value


def run_proven(
    scenario: Scenario,
    *,
    rounds: int,
    seed: int,
    out: Path,
    anvil_port: int = 8565,
    progress: Callable[[str], None] = print,
) -> list[ProvenRound]:
    """Play ``scenario`` on the real stack for every system in :data:`PROVEN_SYSTEMS`."""
    from zkfl_dapp.apps.session import session

    simulated = run_scenario(scenario, seed, rounds)
    attack = get_attack(scenario.attack)
    rows: list[ProvenRound] = []
    for system, (rule, norm_bound) in PROVEN_SYSTEMS.items():
        workdir = out / "proven" / system
        if workdir.exists():
            shutil.rmtree(workdir)
        settings = Settings(
            workdir=workdir,
            anvil_port=anvil_port,
            split=scenario.split,
            seed=seed,
            rule=rule,
            norm_bound=norm_bound,
        )
        progress(f"[proven {system}] {scenario.label}, seed {seed}: fresh consortium in {workdir}")
        with session(settings, None) as s:
            if rule == "median" and s.circuits.median is None:
                progress(f"[proven {system}] skipped: this checkout builds no median circuit for the consortium")
                continue
            consortium = s.bootstrap()
            consortium.enclave.noise = _replayed_noise(seed, SYSTEMS.index(system))
            for i in scenario.malicious_set:
                consortium.hospitals[i] = consortium.hospitals[i].with_source(attack)
            names = {h.name: i for i, h in enumerate(consortium.hospitals)}
            names.update({h.address.lower(): i for i, h in enumerate(consortium.hospitals)})
            for record in simulated.systems[system]:
                t0 = time.perf_counter()
                report = consortium.run_round()
                model = consortium.current_model()
                params = dequantize(model.training_values(), model.scale_bits)
                out_of = report.norm_refused + report.excluded
                bad = [names.get(x["hospital"], names.get(x["hospital"].lower(), -1)) for x in out_of]
                row = ProvenRound(
                    system=system,
                    round_id=report.round_id,
                    accuracy=_evaluated(report.accuracy),
                    malignant_recall=malignant_recall(consortium.spec, params, consortium.split.test),
                    norm_bound=report.norm_bound,
                    not_accepted=out_of,
                    malicious_not_accepted=sum(1 for i in bad if i in scenario.malicious_set),
                    honest_not_accepted=sum(1 for i in bad if i not in scenario.malicious_set),
                    finalize_gas=report.finalize_gas,
                    wall_seconds=time.perf_counter() - t0,
                    simulated_accuracy=record.accuracy,
                    simulated_rejected=list(record.rejected),
                )
                rows.append(row)
                progress(
                    f"[proven {system}] round {row.round_id}: accuracy {row.accuracy:.2%} "
                    f"(simulated {row.simulated_accuracy:.2%}); not accepted: "
                    f"{[x['hospital'] for x in out_of] or 'none'} ({row.wall_seconds:.0f} s)"
                )
    out.mkdir(parents=True, exist_ok=True)
    (out / "proven.json").write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return rows


def format_proven(scenario: Scenario, seed: int, rows: list[ProvenRound]) -> str:
    """The proven run as Markdown: one row per system and round."""
    lines = [
        f"## Proven run: {scenario.label}, seed {seed}",
        "",
        "The same scenario played on the real stack (`ape run attack`): anvil, the contracts, encryption,",
        "the store, the malicious hospitals running the attack, real norm proofs checked in",
        "`submitUpdate`, FedAvg finalized by the contract deriving the aggregate's KZG commitment",
        "(no proof) and median proofs checked in `finalizeMedianRound`. The simulated accuracy is the",
        "evaluation's figure for the same scenario and seed (the `fedavg` simulation averages in float, the",
        "real `fedavg` quantizes and aggregates exactly, so small differences could appear there).",
        "",
        "| system | round | bound | proven accuracy | simulated accuracy | malignant recall "
        "| not accepted (malicious / honest) | finalize gas |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        bound = f"{r.norm_bound:.3f}" if r.norm_bound is not None else "none"
        lines.append(
            f"| {r.system} | {r.round_id} | {bound} | {r.accuracy:.2%} | {r.simulated_accuracy:.2%} "
            f"| {r.malignant_recall:.3f} | {r.malicious_not_accepted} / {r.honest_not_accepted} "
            f"| {r.finalize_gas:,} |"
        )
    missing = [s for s in PROVEN_SYSTEMS if s not in {r.system for r in rows}]
    if missing:
        lines += [
            "",
            "Not played (this checkout builds no median circuit for the consortium): " + ", ".join(missing) + ".",
        ]
    reasons = sorted({x["reason"].split("(")[0] for r in rows for x in r.not_accepted})
    if reasons:
        lines += ["", "Why submissions did not go in: " + "; ".join(f"`{x}`" for x in reasons) + "."]
    return "\n".join(lines) + "\n"


def summary(rows: list[ProvenRound]) -> dict[str, Any]:
    """Final proven accuracy per system."""
    last: dict[str, ProvenRound] = {}
    for r in rows:
        last[r.system] = r
    return {k: v.accuracy for k, v in last.items()}
