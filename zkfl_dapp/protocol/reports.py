"""Round reports: what each round cost and achieved, published for the audit trail and the web UI, and
the bound policy's state read back from them (so a consortium another process ran continues it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from zkfl_dapp.config import Settings
from zkfl_dapp.core.policy import NormStatistic
from zkfl_dapp.exceptions import ConfigError


@dataclass(frozen=True)
class RoundReport:
    """Everything the demo prints about one round (and writes to the reports folder)."""

    round_id: int
    participants: list[str]
    excluded: list[dict[str, str]]
    #: the global model's accuracy on the admin's held-out data; None: no held-out evaluation (a consortium on its own
    #: schema: the admin holds no records of it)
    accuracy: float | None
    #: plain floating-point FedAvg's accuracy on the same data; None: no baseline was trained (the party flow)
    baseline_accuracy: float | None
    train_seconds: float
    commit_seconds: float
    encrypt_seconds: float
    #: the median proof's proving and off-chain verification time (0 for FedAvg: no aggregation proof)
    prove_seconds: float
    verify_seconds: float
    finalize_gas: int
    finalize_tx: str
    model_cid: str
    model_commitment: str
    proof_bytes: int
    proof_cid: str
    wall_seconds: float
    extras: dict[str, Any] = field(default_factory=dict)
    #: the enclave's aggregation: the exact aggregate and the check that it opens the chain's commitment
    aggregate_seconds: float = 0.0
    #: "fedavg" or "median"
    rule: str = "fedavg"
    #: the round's L2 norm bound (None: no bound)
    norm_bound: float | None = None
    #: the bound policy's input (core.policy): the included updates within bound / kappa of the previous model,
    #: plus Gaussian noise drawn in the enclave, and how many were included; no exact norm is ever published
    norm_within_noised: float | None = None
    norm_included: int | None = None
    #: hospitals whose update did not go in: beyond the bound, not quantizable, or reverted on-chain
    norm_refused: list[dict[str, str]] = field(default_factory=list)
    #: total norm-proving time of the submitted updates (divide by the participants for a per-client figure)
    norm_prove_seconds: float = 0.0
    #: mean gas of the round's submissions (one submitUpdate each: its norm proofs verified in it, or, with a
    #: challenge window, only their hashes posted)
    submit_gas_mean: float = 0.0
    #: the round's differential-privacy record: setting, noise multipliers, epsilon per round and per hospital
    #: composed over its rounds (zkfl_dapp.protocol.privacy)
    privacy: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @property
    def norm_statistic(self) -> NormStatistic | None:
        """The published bound-policy statistic (None: an unbounded round, or none published)."""
        return statistic_of(self.norm_within_noised, self.norm_included)


def statistic_of(within: Any, included: Any) -> NormStatistic | None:
    """A :class:`NormStatistic` from a report's two fields (None when either is missing)."""
    if within is None or included is None:
        return None
    return NormStatistic(noised_within=float(within), included=int(included))


def _last_norm_statistics(settings: Settings) -> tuple[float | None, NormStatistic | None]:
    """The latest bounded round's L2 bound and published norm statistic, from the reports folder (a consortium
    that another process ran continues the bound policy where it stopped)."""
    latest: tuple[int, float | None, NormStatistic | None] = (0, None, None)
    for path in settings.reports_dir.glob("round-*.json") if settings.reports_dir.exists() else ():
        try:
            data = json.loads(path.read_text())
            round_id, bound = int(data["round_id"]), data.get("norm_bound")
            statistic = statistic_of(data.get("norm_within_noised"), data.get("norm_included"))
        except (OSError, ValueError, KeyError, TypeError, ConfigError):
            continue
        if bound is not None and statistic is not None and round_id > latest[0]:
            latest = (round_id, float(bound), statistic)
    return latest[1], latest[2]
