"""The contracts' enums, in one place on the Python side (each mirrors a Solidity enum by value)."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    """Mirror of ``IConsortiumRegistry.Role``."""

    NONE = 0
    HOSPITAL = 1
    AUDITOR = 2
    AGGREGATOR = 3


class Rule(IntEnum):
    """Mirror of ``IRoundManager.AggregationRule``."""

    FEDAVG = 0
    MEDIAN = 1


class Phase(IntEnum):
    """Mirror of ``IRoundManager.Phase``."""

    NONE = 0
    OPEN = 1
    FINALIZED = 2
    ABORTED = 3
    ROLLED_BACK = 4

    INVALIDATED = 5


class ExclusionReason(IntEnum):
    """Mirror of ``IRoundManager.ExclusionReason``."""

    NONE = 0
    UNDECRYPTABLE = 1
    INVALID_CONTENT = 2
    UNAVAILABLE = 3
    #: a member's ``challengeChunk`` showed one of the update's chunk proofs false (not disputable)
    INVALID_PROOF = 4


class ProofFault(IntEnum):
    """Mirror of ``IRoundManager.ProofFault``: why a chunk norm proof fails."""

    NONE = 0
    UPDATE_POINT = 1
    AGGREGATE_POINT = 2
    REJECTED = 3
