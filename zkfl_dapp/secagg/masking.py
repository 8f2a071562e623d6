"""A hospital's masked input: ``y_i = n_i u_i + b_i + sum_{j > i} p_ij - sum_{j < i} p_ji`` over the roster.

``u_i`` is the quantized update with its hiding-pad rows (signed integers at scale ``2**13``), ``n_i`` its
declared sample count, ``b_i`` its self mask and ``p_ij`` the mask of pair ``(i, j)`` (lower address first), all
expanded from seeds (:func:`.field.expand`). The roster is the set of hospitals whose setup bundles the chain
recorded before the setup phase closed (``SecAggCoordinator.roster``): every pairwise mask appears once with
``+`` and once with ``-`` among the roster, so over the submitters ``U2`` the sum of masked inputs is
``S + sum_{i in U2} b_i + (pair masks between U2 and the dropped)``, which the unmasking removes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zkfl_dapp.exceptions import SecAggError
from zkfl_dapp.secagg.bundle import DealerSecrets, SetupBundle
from zkfl_dapp.secagg.field import FIELD_MODULUS, FieldVector, add, encode, expand, scale, sub
from zkfl_dapp.secagg.pairwise import address_int, decapsulate, encapsulate, ordered, pair_seed

__all__ = ["MaskedInputFile", "mask_input", "pair_seeds", "total_mask"]

#: The largest declared sample count that can weight an update (RoundManager's MAX_SAMPLE_COUNT is below it).
MAX_WEIGHT = 2**64


def pair_seeds(
    round_id: int,
    me: str,
    private_seed: bytes,
    secrets: DealerSecrets,
    roster: Mapping[str, SetupBundle],
    keys: Mapping[str, bytes],
) -> dict[str, bytes]:
    """The mask seed of every pair of ``me`` with another roster member: as the lower party from the KEM message it
    kept (re-encapsulated to the partner's registered key), as the higher from the lower's bundle (decapsulated).

    Raises:
        SecAggError: ``me`` is not on the roster, or a lower partner's bundle has no pair with ``me``.
    """
    me = me.lower()
    if me not in roster:
        raise SecAggError(f"{me} is not on the roster: it cannot mask in this round")
    seeds = {}
    for j in roster:
        if j == me:
            continue
        lo, hi = ordered(me, j)
        if lo == me:
            if j not in secrets.pair_messages:
                raise SecAggError(f"no KEM message kept for the pair with {j}: it was not a holder at setup")
            shared, _ = encapsulate(keys[j], secrets.pair_messages[j])
        else:
            shared = decapsulate(private_seed, bytes.fromhex(roster[j].pair(me).kem_ciphertext))
        seeds[j] = pair_seed(shared, round_id, lo, hi)
    return seeds


def total_mask(me: str, self_seed: bytes, seeds: Mapping[str, bytes], purpose: str, length: int) -> FieldVector:
    """``m_i = b_i + sum_{j > i} p_ij - sum_{j < i} p_ji`` for the partners in ``seeds``."""
    mask = expand(self_seed, purpose, length)
    for j, seed in sorted(seeds.items()):
        p = expand(seed, purpose, length)
        mask = add(mask, p) if address_int(j) > address_int(me) else sub(mask, p)
    return mask


def mask_input(values: Sequence[int], weight: int, mask: Sequence[int]) -> FieldVector:
    """``y = weight * values + mask`` in the field (``values`` signed integers).

    Raises:
        SecAggError: a weight outside ``[1, 2**64)`` or lengths that differ.
    """
    if not isinstance(weight, int) or not 1 <= weight < MAX_WEIGHT:
        raise SecAggError(f"a weight (sample count) is in [1, 2**64), got {weight!r}")
    if len(values) != len(mask):
        raise SecAggError(f"{len(values)} values but a mask of {len(mask)}")
    return add(scale(encode(values), weight), mask)


class MaskedInputFile(BaseModel):
    """The file a hospital stores and names in its RoundManager submission (the ``cid``): its masked input, public.

    ``values`` are field elements (integers in ``[0, r)``), one per row of the committed vector.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    format: Literal["zkfl-secagg-masked/v1"] = "zkfl-secagg-masked/v1"
    round_id: Annotated[int, Field(ge=0)]
    hospital: Annotated[str, Field(pattern=r"^0x[0-9a-f]{40}$")]
    values: tuple[Annotated[int, Field(ge=0, lt=FIELD_MODULUS)], ...]

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":")).encode()

    @classmethod
    def parse(cls, data: bytes, *, round_id: int, hospital: str, length: int) -> MaskedInputFile:
        """Parse a masked input and check it is ``hospital``'s for ``round_id`` with ``length`` values.

        Raises:
            SecAggError: malformed, or another round, hospital or length.
        """
        try:
            parsed = cls.model_validate_json(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise SecAggError(f"masked input malformed at {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
        if (parsed.round_id, parsed.hospital, len(parsed.values)) != (round_id, hospital.lower(), length):
            raise SecAggError(
                f"masked input of {parsed.hospital} for round {parsed.round_id} with {len(parsed.values)} values, "
                f"expected {hospital.lower()}'s for round {round_id} with {length}"
            )
        return parsed
