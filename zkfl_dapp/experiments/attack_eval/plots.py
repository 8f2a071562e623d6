"""Accuracy plots of the attack evaluation (matplotlib, written as PNG)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.experiments.attack_eval.simulate import NO_ATTACK, NUM_HOSPITALS, SPLITS, SYSTEMS, RunResult, Scenario

_PLOT_DPI: Final = 80


_SYSTEM_STYLE: Final = {
    "fedavg": ("tab:red", "o"),
    "norm": ("tab:blue", "s"),
    "median": ("tab:green", "^"),
    "median_only": ("tab:orange", "v"),
}


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
