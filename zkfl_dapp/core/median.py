"""The coordinate-wise median rule (Flower's FedMedian), exactly as the median circuit computes it.

The circuit works at the aggregate's scale ``2**(2 s)``: an included slot carries ``2**s * u_i`` (its
commitment derived on-chain from the hospital's ``C(u_i)``), a slot without an included update carries
the previous aggregate ``S`` itself, so an absent or excluded hospital votes "no change" rather than being
dropped from the median. The circuit's committed result must equal :func:`median_quantized` bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkfl_dapp.exceptions import RoundError

#: The median selection network for 5 slots (a 9-comparator sorting network; index 2 is the median).
MEDIAN5_NETWORK: tuple[tuple[int, int], ...] = ((0, 1), (3, 4), (2, 4), (2, 3), (0, 3), (0, 2), (1, 4), (1, 3), (1, 2))


def fill_slots(updates: Sequence[Sequence[int] | None], prev: Sequence[int], scale_bits: int) -> list[tuple[int, ...]]:
    """The median circuit's inputs: ``2**s * u_i`` for each slot's update, or the previous aggregate
    ``prev`` (already at scale ``2**(2 s)``) where there is none."""
    one = 1 << scale_bits
    out = []
    for i, u in enumerate(updates):
        if u is None:
            out.append(tuple(prev))
        elif len(u) != len(prev):
            raise RoundError(f"slot {i}: update has {len(u)} values, the aggregate {len(prev)}")
        else:
            out.append(tuple(one * v for v in u))
    return out


def median_quantized(slots: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """Coordinate-wise median of an odd number of slots (the circuit's output for 5 slots).

    For 5 slots this runs the circuit's own selection network (min/max by ``relu``), so the result is
    exactly what the proof shows; for other odd counts it is the plain sorted middle value, which the
    network computes too.
    """
    if not slots or len(slots) % 2 == 0:
        raise RoundError(f"the median rule needs an odd number of slots, got {len(slots)}")
    size = len(slots[0])
    if any(len(s) != size for s in slots):
        raise RoundError("slots differ in length")
    if len(slots) == 5:
        out = []
        for j in range(size):
            v = [s[j] for s in slots]
            for a, b in MEDIAN5_NETWORK:
                lo, hi = min(v[a], v[b]), max(v[a], v[b])
                v[a], v[b] = lo, hi
            out.append(v[2])
        return tuple(out)
    mid = len(slots) // 2
    return tuple(sorted(s[j] for s in slots)[mid] for j in range(size))

