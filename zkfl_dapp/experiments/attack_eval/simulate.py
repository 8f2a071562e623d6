"""The simulator: one scenario's global-model trajectories under the four systems, on the quantized
reference semantics that the circuits and the contract reproduce bit for bit (no proofs are made here).

The proof systems follow the protocol over KZG commitments: each hospital quantizes its local model at
``2**13`` and appends :data:`PAD_ROWS` hiding-pad rows (seeded here, random in the real system; no rule
reads them), the global model is the previous *aggregate* ``S`` (scale ``2**26``, what RoundManager
commits to), a norm proof compares ``core.norms.squared_distance(u, S)`` with ``b = round(B**2 * 2**26)``,
FedAvg is the exact ``core.aggregation.aggregate`` (no rounding), the median rule runs
``core.median.median_quantized`` over ``core.median.fill_slots(updates, S)``, and hospitals train from
``core.aggregation.training_values(S)``. Genesis is ``S0 = 2**13 * q0`` with zero pad rows.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.circuits.kzg import hiding_pad
from zkfl_dapp.circuits.kzg_distance import PAD_ENTRY_BITS
from zkfl_dapp.circuits.suite import PAD_ROWS
from zkfl_dapp.core.aggregation import aggregate, normalized_weights, scaled_update, training_values
from zkfl_dapp.core.fixedpoint import dequantize, quantize
from zkfl_dapp.core.median import fill_slots, median_quantized
from zkfl_dapp.core.norms import bound_from_quantized, bound_sq_quantized, provable_distance, update_norm, within_bound
from zkfl_dapp.core.policy import NormBoundPolicy
from zkfl_dapp.core.privacy import declared_sample_count
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


#: The circuits' fixed-point scale of an update (2^13; an aggregate is at 2^26).
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
    """A system's current global model: the float parameters hospitals train from and, for the circuit
    systems, the committed aggregate ``S`` (scale ``2**26``, model and pad rows) they derive from; and the bound."""

    params: NDArray[np.float64]
    aggregate: tuple[int, ...] | None = None
    bound: float | None = None


@dataclass
class _Step:
    params: NDArray[np.float64]
    aggregate: tuple[int, ...] | None = None
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


def _try_quantize(u: NDArray[np.float64], pad: random.Random) -> tuple[int, ...] | None:
    """The padded quantized update a hospital commits to (``None`` when ``u`` cannot be quantized)."""
    try:
        return hiding_pad(quantize(u, SCALE_BITS), PAD_ROWS, pad, entry_bits=PAD_ENTRY_BITS)
    except QuantizationError:
        return None


def _pad_rng(seed: int, round_id: int, system: str, hospital: int) -> random.Random:
    """A seeded stand-in for the hospital's random pad (no rule reads the pad rows)."""
    return random.Random(f"{seed}/{round_id}/{system}/{hospital}")


def _model_of(s: tuple[int, ...], model_size: int) -> NDArray[np.float64]:
    """The float parameters hospitals train from: ``training_values(S)`` at ``2**13``."""
    return dequantize(training_values(s, model_size, SCALE_BITS), SCALE_BITS)


def _norm_check(
    padded: Sequence[tuple[int, ...] | None], s: tuple[int, ...], bound: float, model_size: int
) -> tuple[list[tuple[int, ...] | None], tuple[int, ...]]:
    """Check every padded submission against the previous aggregate ``s`` and the bound: the accepted
    vectors (``None`` where rejected) and the violations."""
    b = bound_sq_quantized(bound, SCALE_BITS)
    slots: list[tuple[int, ...] | None] = []
    violations = []
    for i, q in enumerate(padded):
        if (
            q is None
            or not provable_distance(q, s, SCALE_BITS, model_size)
            or not within_bound(q, s, b, SCALE_BITS, model_size)
        ):
            violations.append(i)
            slots.append(None)
        else:
            slots.append(q)
    return slots, tuple(violations)


def _step_fedavg(state: _Trajectory, subs: Sequence[NDArray[np.float64]], counts: Sequence[int]) -> _Step:
    return _Step(params=fedavg_float(subs, counts))


def _step_median_only(state: _Trajectory, padded: Sequence[tuple[int, ...] | None], model_size: int) -> _Step:
    assert state.aggregate is not None
    # an unquantizable vector cannot be committed at all: its slot carries the previous aggregate
    new_s = median_quantized(fill_slots(padded, state.aggregate, SCALE_BITS))
    rejected = tuple(i for i, q in enumerate(padded) if q is None)
    return _Step(params=_model_of(new_s, model_size), aggregate=new_s, rejected=rejected)


def _step_bounded(
    system: str,
    state: _Trajectory,
    padded: Sequence[tuple[int, ...] | None],
    counts: Sequence[int],
    policy: NormBoundPolicy,
    model_size: int,
    rng: np.random.Generator | None = None,
) -> _Step:
    """One bounded round; ``rng`` draws the published count's noise (the enclave's; seeded here)."""
    assert state.aggregate is not None and state.bound is not None
    prev = state.aggregate
    slots, violations = _norm_check(padded, prev, state.bound, model_size)
    accepted = [q for q in slots if q is not None]
    if len(accepted) < QUORUM:
        # No finalized round, no round report, no new norm statistic: the model and the bound stay.
        return _Step(state.params, prev, state.bound, violations, violations, skipped=True, next_bound=state.bound)
    if system == "norm":
        # the on-chain weights over every slot (a rejected one declares nothing: weight 0)
        weights = normalized_weights([counts[i] if q is not None else 0 for i, q in enumerate(slots)], SCALE_BITS)
        zero = (0,) * len(prev)
        new_s = aggregate([q if q is not None else zero for q in slots], weights)
    else:
        new_s = median_quantized(fill_slots(slots, prev, SCALE_BITS))
    # The statistic as the enclave computes it (the circuit's quantized distance to the previous aggregate),
    # and the previous bound as the chain holds it (the quantized b): zkfl_dapp.protocol.{enclave,rounds}.
    norms = [update_norm(q, prev, SCALE_BITS, model_size) for q in accepted]
    previous = bound_from_quantized(bound_sq_quantized(state.bound, SCALE_BITS), SCALE_BITS)
    statistic = policy.statistic(norms, previous, rng if rng is not None else np.random.default_rng(0))
    next_bound = policy.next_bound(previous, statistic)
    return _Step(_model_of(new_s, model_size), new_s, state.bound, violations, violations, next_bound=next_bound)


def run_scenario(scenario: Scenario, seed: int, rounds: int, policy: NormBoundPolicy | None = None) -> RunResult:
    """Runs every system for ``rounds`` rounds of ``scenario``; a deterministic function of the arguments."""
    if rounds < 1:
        raise ConfigError(f"rounds must be >= 1, got {rounds}")
    policy = policy or NormBoundPolicy()
    split = load_federated(NUM_HOSPITALS, split=scenario.split, seed=seed)
    spec = ModelSpec(num_features=split.num_features)
    cfg = TrainConfig(seed=seed)  # every hospital trains with the consortium's config, as in consortium.py
    counts = [declared_sample_count(n, 10) for n in split.shard_sizes()]  # what hospitals declare (coarsened)
    attack: Attack | None = None if scenario.attack == NO_ATTACK else get_attack(scenario.attack)
    bad = scenario.malicious_set
    genesis = spec.initial_params(seed)
    model_size = genesis.shape[0]
    # S0 = 2**13 * q0 with zero pad rows (core.formats.ModelFile.genesis)
    genesis_s = scaled_update((*quantize(genesis, SCALE_BITS), *(0,) * PAD_ROWS), SCALE_BITS)
    genesis_g = _model_of(genesis_s, model_size)
    states = {
        "fedavg": _Trajectory(params=genesis.copy()),
        "norm": _Trajectory(genesis_g, genesis_s, policy.next_bound(None, None)),
        "median": _Trajectory(genesis_g, genesis_s, policy.next_bound(None, None)),
        "median_only": _Trajectory(genesis_g, genesis_s),
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
            else:
                padded = [_try_quantize(u, _pad_rng(seed, round_id, system, i)) for i, u in enumerate(subs)]
                if system == "median_only":
                    step = _step_median_only(state, padded, model_size)
                else:
                    rng = np.random.default_rng([seed, round_id, SYSTEMS.index(system)])
                    step = _step_bounded(system, state, padded, counts, policy, model_size, rng)
            states[system] = _Trajectory(step.params, step.aggregate, step.next_bound)
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
