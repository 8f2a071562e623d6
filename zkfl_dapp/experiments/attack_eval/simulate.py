"""The simulator: one scenario's global-model trajectories under the four systems, on the quantized
reference semantics that the circuits reproduce bit for bit (no proofs are made here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.core.aggregation import fedavg_quantized, normalized_weights
from zkfl_dapp.core.fixedpoint import dequantize, quantize
from zkfl_dapp.core.median import fill_slots, median_quantized
from zkfl_dapp.core.norms import bound_from_quantized, bound_sq_quantized, provable_distance, update_norm, within_bound
from zkfl_dapp.core.policy import NormBoundPolicy, median_norm
from zkfl_dapp.exceptions import ConfigError, QuantizationError
from zkfl_dapp.experiments.attacks import ATTACKS, MALIGNANT_LABEL, Attack, get_attack, honest_update
from zkfl_dapp.ml.data import Dataset, SplitKind, load_federated
from zkfl_dapp.ml.model import ModelSpec, accuracy, predict_proba
from zkfl_dapp.ml.training import TrainConfig, TrainingContext, fedavg_float

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
                ctx = TrainingContext(spec, g, shard, cfg, round_id, i, state.bound)
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


