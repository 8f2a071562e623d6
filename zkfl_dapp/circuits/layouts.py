"""Where each circuit over committed vectors puts its points and public instances (Python side).

An ezkl proof over ``polycommit`` inputs starts with one 64-byte KZG point per committed input column, in
input order; its public instances are a flat vector of field elements. Which position means what is fixed by
the circuit's construction; ``contracts/libraries/InstanceLayout.sol`` is the Solidity mirror, and
tests/contracts/test_interfaces.py checks that the two agree. With ``S`` slots:

* norm (per chunk): points ``[C(2^s u_c), C(S_c), C(p)]``; instances ``[flag, b_c, c, n, a_0 .. a_4]``;
* median: points ``[slot_0 .. slot_{S-1}, m]``; instances ``[z]`` (the certificate, 0 when ``m`` is the median);
* inference: points ``[C(S), C(x), C(p)]``; instances ``[logit, a_0 .. a_4]``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Address limbs (32 bits each, least significant first) in the norm and inference instances.
ADDRESS_LIMBS = 5


@dataclass(frozen=True)
class NormLayout:
    """The norm circuit (:mod:`zkfl_dapp.circuits.kzg_chunk_norm`; one proof per chunk, a small model is one
    chunk): ``[flag, b_c, c, n, address limbs..]``; its points are ``C(2^s u_c)``, ``C(S_c)``, ``C(p)``
    (RoundManager builds the instances and checks the points)."""

    #: point of ``C(2^s u_c)``, which RoundManager derives from the submitted chunk point
    update_point: int = 0
    #: point of the previous model's chunk ``C(S_c)``
    aggregate_point: int = 1
    #: ``2**(2 s)`` when the chunk is within its budget, else 0
    flag: int = 0
    #: the chunk's budget ``b_c``
    budget: int = 1
    #: the chunk index ``c``
    index: int = 2
    #: the chunk count ``n``
    total: int = 3
    #: first of the prover's address limbs
    address: int = 4
    count: int = 4 + ADDRESS_LIMBS


@dataclass(frozen=True)
class MedianLayout:
    """The coordinate-wise median circuit over ``slots`` committed slots."""

    slots: int

    def slot_point(self, slot: int) -> int:
        return slot

    @property
    def result_point(self) -> int:
        """The committed median: RoundManager stores this point as the new model commitment."""
        return self.slots

    #: the certificate ``z``: 0 exactly when the committed ``m`` is the median (RoundManager requires it)
    certificate: int = 0
    count: int = 1


@dataclass(frozen=True)
class InferenceLayout:
    """The commit-and-prove inference circuit's instances (InstanceLayout.INFERENCE_*): the logit at scale
    ``2**26``, then the requester's address in five 32-bit limbs. Its points: ``C(S)``, ``C(x)``, ``C(p)``."""

    #: The proven logit (a field element; negative values wrap modulo p).
    logit: int = 0
    #: First of the address limbs.
    address_offset: int = 1
    #: Address limbs.
    address_limbs: int = 5
    #: The point of the committed aggregate S (must equal RoundManager.modelOf).
    model_point: int = 0

    @property
    def address(self) -> slice:
        return slice(self.address_offset, self.address_offset + self.address_limbs)

    @property
    def count(self) -> int:
        return self.address_offset + self.address_limbs
