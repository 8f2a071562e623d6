"""A federation run over the parties' own functions, recording what each attack needs.

Per round: every hospital trains from the global model (``TrainingContext.train``), privatizes its update
when DP is on (``DpConfig.privatize``, a seeded generator here), quantizes and pads it as it commits it;
the norm check, the on-chain weights of the declared (coarsened) counts and the exact aggregate are the
attack evaluation's reference semantics (zkfl_dapp.experiments.attack_eval.simulate, pinned to the circuits
and the contract by their tests); the bound follows the policy from the enclave's noised statistic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from zkfl_dapp.circuits.suite import PAD_ROWS
from zkfl_dapp.core.aggregation import aggregate, normalized_weights, scaled_update
from zkfl_dapp.core.dp import DpConfig
from zkfl_dapp.core.fixedpoint import quantize
from zkfl_dapp.core.norms import bound_from_quantized, bound_sq_quantized, update_norm
from zkfl_dapp.core.policy import NormBoundPolicy, NormStatistic
from zkfl_dapp.core.privacy import declared_sample_count
from zkfl_dapp.exceptions import NormBoundError
from zkfl_dapp.experiments.attack_eval.simulate import SCALE_BITS, _model_of, _norm_check, _pad_rng, _try_quantize
from zkfl_dapp.ml.data import FederatedSplit, load_federated
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.ml.training import TrainConfig, TrainingContext


@dataclass
class RoundTrace:
    """One round as the attacks see it."""

    round_id: int
    global_params: NDArray[np.float64]
    prev_aggregate: tuple[int, ...]
    aggregate: tuple[int, ...]
    bound: float
    #: the padded quantized updates as committed (None: refused)
    padded: list[tuple[int, ...] | None]
    #: each hospital's clipped, noise-free delta (its training signal)
    true_deltas: list[NDArray[np.float64]]
    weights: list[int]
    norms: list[float]
    statistic: NormStatistic
    params: NDArray[np.float64]


@dataclass
class Federation:
    split: FederatedSplit
    spec: ModelSpec
    declared: list[int]
    rounds: list[RoundTrace] = field(default_factory=list)

    @property
    def final_params(self) -> NDArray[np.float64]:
        return self.rounds[-1].params


def run_federation(
    seed: int, rounds: int, z: float, *, hospitals: int = 5, honest: int = 3, policy: NormBoundPolicy | None = None
) -> Federation:
    """``rounds`` FedAvg rounds of ``hospitals`` on the breast-cancer IID split, DP noise multiplier ``z``
    (0: off) with ``honest`` hospitals assumed."""
    policy = policy or NormBoundPolicy()
    split = load_federated(hospitals, split="iid", seed=seed)
    spec = ModelSpec(num_features=split.num_features)
    cfg = TrainConfig(seed=seed)
    dp = DpConfig(z, honest) if z > 0 else None
    genesis = spec.initial_params(seed)
    d = genesis.shape[0]
    s = scaled_update((*quantize(genesis, SCALE_BITS), *(0,) * PAD_ROWS), SCALE_BITS)
    params, bound = _model_of(s, d), policy.initial
    declared = [declared_sample_count(n, 10) for n in split.shard_sizes()]
    fed = Federation(split, spec, declared)
    rng = np.random.default_rng([seed, 7])
    for round_id in range(1, rounds + 1):
        chain_bound = bound_from_quantized(bound_sq_quantized(bound, SCALE_BITS), SCALE_BITS)
        padded: list[tuple[int, ...] | None] = []
        deltas: list[NDArray[np.float64]] = []
        for i, shard in enumerate(split.shards):
            trained = TrainingContext(spec, params, shard, cfg, round_id, i, chain_bound).train()
            delta = trained - params
            if dp is not None:
                clip = dp.clip_norm(chain_bound, d)
                norm = float(np.linalg.norm(delta))
                delta = delta * min(1.0, clip / norm) if norm else delta
                try:
                    trained = dp.privatize(params, trained, chain_bound, rng)
                except NormBoundError:
                    padded.append(None)
                    deltas.append(delta)
                    continue
            deltas.append(delta)
            padded.append(_try_quantize(trained, _pad_rng(seed, round_id, "privacy", i)))
        slots, _violations = _norm_check(padded, s, chain_bound, d)
        weights = normalized_weights([declared[i] if q is not None else 0 for i, q in enumerate(slots)], SCALE_BITS)
        zero = (0,) * len(s)
        new_s = aggregate([q if q is not None else zero for q in slots], weights)
        norms = [update_norm(q, s, SCALE_BITS, d) for q in slots if q is not None]
        statistic = policy.statistic(norms, chain_bound, np.random.default_rng([seed, round_id, 11]))
        new_params = _model_of(new_s, d)
        fed.rounds.append(
            RoundTrace(
                round_id, params, s, new_s, chain_bound, slots, deltas, list(weights), norms, statistic, new_params
            )
        )
        bound = policy.next_bound(chain_bound, statistic)
        s, params = new_s, new_params
    return fed
