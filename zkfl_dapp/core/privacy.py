"""What a hospital publishes about its data, and how little: the minimum shard, coarsened sample counts.

* **Minimum shard.** An update trained on one patient is that patient's record in another form (the review
  reconstructed it); a hospital with fewer than ``minimum`` records refuses to train (:func:`check_shard_size`,
  ``ZKFL_MIN_SHARD_SAMPLES``, default 10).
* **Coarsened counts.** The sample count a hospital declares on-chain (its FedAvg weight) and the cap agreed at
  its admission are rounded down to a multiple of ``granularity`` (:func:`declared_sample_count`,
  ``ZKFL_SAMPLE_COUNT_GRANULARITY``, default 10): a patient joining or leaving does not show in the chain's
  figures unless the count crosses a multiple. Rounding down keeps every declaration within the agreed cap.

See docs/privacy.md.
"""

from __future__ import annotations

from zkfl_dapp.exceptions import ConfigError, ShardTooSmallError


def check_shard_size(num_samples: int, minimum: int, who: str = "this hospital") -> None:
    """Refuse a shard of fewer than ``minimum`` records.

    Raises:
        ShardTooSmallError: ``num_samples < minimum``, with what to do about it.
        ConfigError: ``minimum`` is not positive.
    """
    if minimum < 1:
        raise ConfigError(f"the minimum shard size must be at least 1, got {minimum}")
    if num_samples < minimum:
        raise ShardTooSmallError(
            f"{who} holds {num_samples} record(s), fewer than the consortium's minimum of {minimum} "
            "(ZKFL_MIN_SHARD_SAMPLES): an update trained on so few patients reveals their records, so it does "
            "not train; join with more records (docs/privacy.md)"
        )


def declared_sample_count(num_samples: int, granularity: int) -> int:
    """The sample count a hospital declares: ``num_samples`` rounded down to a multiple of ``granularity``
    (at least ``granularity``; a shard smaller than that declares its own size).

    Raises:
        ConfigError: ``granularity`` is not positive, or ``num_samples`` is negative.
    """
    if granularity < 1 or num_samples < 0:
        raise ConfigError(f"sample count {num_samples}, granularity {granularity}: both must be non-negative")
    if num_samples < granularity:
        return num_samples
    return num_samples // granularity * granularity
