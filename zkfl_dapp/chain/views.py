"""Typed views of the RoundManager's state: frozen dataclasses instead of ape's untyped call results.

The readers take any object with the contract's ABI (an ape contract instance, or anything that answers
``getRound``/``getSubmission``/``modelOf`` the same way), so this module imports no chain client.
A commitment is an ordered tuple of affine BN254 points ``(x, y)``: one per chunk
(``RoundManager.chunks()``; one point for a model committed as one vector).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from zkfl_dapp.chain.enums import Phase, Rule
from zkfl_dapp.exceptions import ChainError

#: One KZG point as the chain holds it: ``(x, y)``.
Point = tuple[int, int]
#: A commitment: one point per chunk, in chunk order.
Commitment = tuple[Point, ...]
#: The empty commitment of a round that has no such model (yet).
NO_COMMITMENT: Commitment = ()


def as_point(value: Any) -> Point:
    """A ``uint256[2]`` from ape (list or tuple) as ``(x, y)``."""
    x, y = value
    return (int(x), int(y))


def as_commitment(value: Any) -> Commitment:
    """A ``uint256[2][]`` from ape as a tuple of points."""
    return tuple(as_point(p) for p in value)


def point_hash(point: Point) -> bytes:
    """keccak256(x || y) of one point (a chunk's: RoundManager's chunk proof records)."""
    return commitment_hash((point,))


def commitment_bytes(commitment: Commitment) -> bytes:
    """``x_0 || y_0 || x_1 || ..``, 64 bytes per point (what the envelope's associated data and the hash take)."""
    return b"".join(x.to_bytes(32, "big") + y.to_bytes(32, "big") for x, y in commitment)


def commitment_hash(commitment: Commitment) -> bytes:
    """keccak256(x_0 || y_0 || ..): how RoundManager stores a model commitment (``modelOf``, ``newModelHash``);
    for one point the same as :func:`point_hash`."""
    return keccak(commitment_bytes(commitment))


def commitment_hex(commitment: Commitment) -> str:
    """``0x`` and the 64-byte points in hex, concatenated (how reports print a commitment)."""
    return "0x" + commitment_bytes(commitment).hex()


def parse_commitment_hex(text: str) -> Commitment:
    """The inverse of :func:`commitment_hex`."""
    raw = bytes.fromhex(text.removeprefix("0x"))
    if not raw or len(raw) % 64:
        raise ChainError(f"a commitment is a non-empty sequence of 64-byte points, got {len(raw)} bytes")
    return tuple(
        (int.from_bytes(raw[i : i + 32], "big"), int.from_bytes(raw[i + 32 : i + 64], "big"))
        for i in range(0, len(raw), 64)
    )


@dataclass(frozen=True)
class RoundView:
    """One round's public record (``IRoundManager.RoundInfo``), with the CIDs looked up: the previous model's,
    and for a finalized round the new model's and the median proof's (from its ``RoundFinalized`` event)."""

    round_id: int
    phase: Phase
    rule: Rule
    deadline: int
    quorum: int
    submission_count: int
    #: hospitals admitted when the round opened (at most the slots): "every member submitted" counts these
    members: int
    #: hospitals that reported the round's new model file unavailable
    unavailable_reports: int
    #: the round whose model this round started from (0: genesis)
    prev_model_round: int
    #: the block of the finalization (0 before), where the RoundFinalized event lies
    finalized_block: int
    norm_bound_sq: int
    prev_model_commitment: Commitment
    prev_model_cid: str
    new_model_commitment: Commitment
    new_model_cid: str
    proof_hash: bytes
    proof_cid: str

    @property
    def bounded(self) -> bool:
        """Whether submissions must carry a norm proof."""
        return self.norm_bound_sq != 0


@dataclass(frozen=True)
class SubmissionView:
    """One hospital's submission in a round (``IRoundManager.Submission``)."""

    slot: int
    hospital: str
    commitment: Commitment
    sample_count: int
    cid: str


def read_round(round_manager: Any, round_id: int) -> RoundView:
    """``getRound(round_id)`` as a :class:`RoundView` (plus ``modelOf`` for the previous model's CID)."""
    r = round_manager.getRound(round_id)
    phase = Phase(int(r.phase))
    prev_round = int(r.prevModelRound)
    prev_point, prev_cid = model_record(round_manager, prev_round) if phase != Phase.NONE else (NO_COMMITMENT, "")
    new_point, new_cid, proof_cid = NO_COMMITMENT, "", ""
    if phase in (Phase.FINALIZED, Phase.ROLLED_BACK):
        event = finalized_event(round_manager, round_id, int(r.finalizedBlock))
        new_point = as_commitment(event.newModelCommitment)
        new_cid, proof_cid = str(event.newModelCid), str(event.proofCid)
        if commitment_hash(new_point) != bytes(r.newModelHash):
            raise ChainError(f"round {round_id}: the RoundFinalized event's commitment does not match the stored hash")
    return RoundView(
        round_id=round_id,
        phase=phase,
        rule=Rule(int(r.rule)),
        deadline=int(r.deadline),
        quorum=int(r.quorum),
        submission_count=int(r.submissionCount),
        members=int(r.members),
        unavailable_reports=int(r.unavailableReports),
        prev_model_round=prev_round,
        finalized_block=int(r.finalizedBlock),
        norm_bound_sq=int(r.normBoundSq),
        prev_model_commitment=prev_point,
        prev_model_cid=prev_cid,
        new_model_commitment=new_point,
        new_model_cid=new_cid,
        proof_hash=bytes(r.proofHash),
        proof_cid=proof_cid,
    )


def read_submission(round_manager: Any, round_id: int, slot: int) -> SubmissionView:
    """``getSubmission(round_id, slot)`` as a :class:`SubmissionView`."""
    s = round_manager.getSubmission(round_id, slot)
    return SubmissionView(slot, str(s.hospital), as_commitment(s.commitment), int(s.sampleCount), str(s.cid))


def read_submissions(round_manager: Any, round_id: int) -> list[SubmissionView]:
    """Every submission of a round, in slot order."""
    count = read_round(round_manager, round_id).submission_count
    return [read_submission(round_manager, round_id, slot) for slot in range(count)]


def finalized_event(round_manager: Any, round_id: int, block: int) -> Any:
    """Round ``round_id``'s ``RoundFinalized`` event, looked up in its finalization block (stored on-chain).

    Raises:
        ChainError: the node has no such event (a pruned node, or not a finalized round).
    """
    for log in round_manager.RoundFinalized.range(block, block + 1, search_topics={"roundId": round_id}):
        return log
    raise ChainError(f"round {round_id}: no RoundFinalized event in block {block} (is the node pruning logs?)")


def model_record(round_manager: Any, model_round: int) -> tuple[Commitment, str]:
    """Round ``model_round``'s model (0: the genesis model): its commitment point and its file's CID. The
    chain stores keccak256 of the point and keeps the point and the CID in the round's ``RoundFinalized``
    event (the log, not storage, to keep finalization cheap); the point is checked against the stored hash.

    Raises:
        ChainError: the round made no model, or the event does not match the stored hash.
    """
    if model_round == 0:
        point, cid = as_commitment(round_manager.genesisModelCommitment()), str(round_manager.genesisModelCid())
    else:
        block = int(round_manager.getRound(model_round).finalizedBlock)
        event = finalized_event(round_manager, model_round, block)
        point, cid = as_commitment(event.newModelCommitment), str(event.newModelCid)
    if not point or commitment_hash(point) != bytes(round_manager.modelOf(model_round)):
        raise ChainError(f"round {model_round}: the model commitment in its event does not match the stored hash")
    return point, cid


def read_current_model(round_manager: Any) -> tuple[Commitment, str, int]:
    """``currentModel()``: the current model's commitment, file CID and the round that made it (0: genesis)."""
    _hash, model_round = round_manager.currentModel()
    point, cid = model_record(round_manager, int(model_round))
    return point, cid, int(model_round)
