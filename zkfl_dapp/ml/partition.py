"""How a training part is partitioned across hospitals: IID near-equal parts, or Dirichlet label skew.

Pure index arithmetic on the labels and a seeded generator (no data set knowledge), so the same split is
reproduced from the same arguments; :func:`zkfl_dapp.ml.data.load_federated` applies it.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

_DIRICHLET_ATTEMPTS: Final = 100


def iid_partition(n: int, num_hospitals: int, rng: np.random.Generator) -> list[NDArray[np.int64]]:
    """Shuffles ``range(n)`` and cuts it into ``num_hospitals`` nearly equal parts."""
    return list(np.array_split(rng.permutation(n), num_hospitals))


def _dirichlet_draw(
    y: NDArray[np.int64], num_hospitals: int, alpha: float, rng: np.random.Generator
) -> list[NDArray[np.int64]]:
    """One label-skewed partition: each class is split with Dirichlet(alpha) proportions."""
    parts: list[list[int]] = [[] for _ in range(num_hospitals)]
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        proportions = rng.dirichlet(np.full(num_hospitals, alpha))
        cuts = (np.cumsum(proportions)[:-1] * len(members)).astype(int)
        for hospital, chunk in enumerate(np.split(members, cuts)):
            parts[hospital].extend(chunk.tolist())
    return [np.asarray(p, dtype=np.int64) for p in parts]


def _rebalance(parts: list[NDArray[np.int64]], min_samples: int, rng: np.random.Generator) -> list[NDArray[np.int64]]:
    """Moves random samples from the largest parts to parts below ``min_samples``."""
    pools = [list(rng.permutation(p)) for p in parts]
    for needy in range(len(pools)):
        while len(pools[needy]) < min_samples:
            donor = max(range(len(pools)), key=lambda i: (len(pools[i]), -i))
            pools[needy].append(pools[donor].pop())
    return [np.asarray(p, dtype=np.int64) for p in pools]


def dirichlet_partition(
    y: NDArray[np.int64],
    num_hospitals: int,
    alpha: float,
    min_samples: int,
    rng: np.random.Generator,
) -> list[NDArray[np.int64]]:
    """Label-skewed partition where every hospital gets at least ``min_samples`` samples.

    Redraws up to a fixed number of times (the usual FL recipe); if no draw qualifies, the best
    one is rebalanced deterministically by moving samples from the largest hospitals.
    """
    best: list[NDArray[np.int64]] = []
    best_min = -1
    for _ in range(_DIRICHLET_ATTEMPTS):
        parts = _dirichlet_draw(y, num_hospitals, alpha, rng)
        smallest = min(len(p) for p in parts)
        if smallest >= min_samples:
            return parts
        if smallest > best_min:
            best, best_min = parts, smallest
    return _rebalance(best, min_samples, rng)
