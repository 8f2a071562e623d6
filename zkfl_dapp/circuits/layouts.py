"""Every circuit's public-instance layout, in one place on the Python side.

A proof's instances are a flat vector of field elements; which position means what is fixed by the
circuit's construction (input visibility, output order). The contracts read the same positions
(``contracts/libraries/InstanceLayout.sol`` where present, ``IRoundManager``'s NatSpec); the enclave, the
hospital, the auditor and the tests read them from here, never by retyped arithmetic. With ``S`` slots
and ``d`` model parameters:

* aggregation (FedAvg): ``[hash(u_0) .. hash(u_{S-1}), hash(w), avg_0 .. avg_{d-1}, w_0 .. w_{S-1}]``;
* median: ``[hash(u_0) .. hash(u_{S-1}), hash(g), med_0 .. med_{d-1}, g_0 .. g_{d-1}]`` (a slot without an
  included update carries ``g``);
* norm: ``[hash(u), hash(g), hash(b), flag, b, g_0 .. g_{d-1}]``;
* inference: ``[logit, a_0 .. a_4]`` (the model a committed input: the proof's first point is ``C(S)``).

The new global model sits at the same offset (``S + 1``) in the aggregation and median layouts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AggregationLayout:
    """The FedAvg aggregation circuit's instances."""

    slots: int
    model_size: int

    def slot_hash(self, slot: int) -> int:
        """Position of slot ``slot``'s update commitment (Poseidon hash)."""
        return slot

    @property
    def weights_hash(self) -> int:
        return self.slots

    @property
    def model(self) -> slice:
        """The new global model's values."""
        return slice(self.slots + 1, self.slots + 1 + self.model_size)

    @property
    def weights(self) -> slice:
        """The public weights, one per slot."""
        start = self.slots + 1 + self.model_size
        return slice(start, start + self.slots)

    @property
    def count(self) -> int:
        return 2 * self.slots + 1 + self.model_size


@dataclass(frozen=True)
class MedianLayout:
    """The coordinate-wise median circuit's instances."""

    slots: int
    model_size: int

    def slot_hash(self, slot: int) -> int:
        """Position of slot ``slot``'s commitment (or ``hash(g)`` where the slot has no included update)."""
        return slot

    @property
    def prev_hash(self) -> int:
        """Position of ``hash(g)``, the previous global model's Poseidon hash."""
        return self.slots

    @property
    def model(self) -> slice:
        """The new global model's values (the median)."""
        return slice(self.slots + 1, self.slots + 1 + self.model_size)

    @property
    def prev(self) -> slice:
        """The previous global model ``g``, whose keccak must equal the round's previous-model commitment."""
        start = self.slots + 1 + self.model_size
        return slice(start, start + self.model_size)

    @property
    def count(self) -> int:
        return self.slots + 1 + 2 * self.model_size


@dataclass(frozen=True)
class NormLayout:
    """The norm-bound circuit's instances."""

    model_size: int

    update_hash: int = 0
    prev_hash: int = 1
    bound_hash: int = 2
    #: ``2**s`` when the update is within the bound, else 0.
    flag: int = 3
    #: The bound itself (the round's ``normBoundSq``).
    bound: int = 4

    @property
    def prev(self) -> slice:
        """The previous global model ``g``."""
        return slice(5, 5 + self.model_size)

    @property
    def count(self) -> int:
        return 5 + self.model_size


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
