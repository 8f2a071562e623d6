"""Typed views of the RoundManager's state: frozen dataclasses instead of ape's untyped call results.

The readers take any object with the contract's ABI (an ape contract instance, or anything that answers
``getRound``/``getSubmission`` the same way), so this module imports no chain client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zkfl_dapp.chain.enums import Phase, Rule


@dataclass(frozen=True)
class RoundView:
    """One round's public record (``IRoundManager.RoundInfo``)."""

    round_id: int
    phase: Phase
    deadline: int
    quorum: int
    submission_count: int
    prev_model_commitment: int
    prev_model_cid: str
    new_model_commitment: int
    new_model_cid: str
    proof_hash: bytes
    proof_cid: str
    rule: Rule
    norm_bound_sq: int
    #: hospitals admitted when the round opened (at most the slots): "every member submitted" counts these
    members: int
    #: hospitals that reported the round's new model file unavailable
    unavailable_reports: int

    @property
    def bounded(self) -> bool:
        """Whether submissions must carry a norm proof."""
        return self.norm_bound_sq != 0


@dataclass(frozen=True)
class SubmissionView:
    """One hospital's submission in a round (``IRoundManager.Submission``)."""

    slot: int
    hospital: str
    commitment: int
    sample_count: int
    cid: str


def read_round(round_manager: Any, round_id: int) -> RoundView:
    """``getRound(round_id)`` as a :class:`RoundView`."""
    r = round_manager.getRound(round_id)
    return RoundView(
        round_id=round_id,
        phase=Phase(int(r.phase)),
        deadline=int(r.deadline),
        quorum=int(r.quorum),
        submission_count=int(r.submissionCount),
        prev_model_commitment=int(r.prevModelCommitment),
        prev_model_cid=str(r.prevModelCid),
        new_model_commitment=int(r.newModelCommitment),
        new_model_cid=str(r.newModelCid),
        proof_hash=bytes(r.proofHash),
        proof_cid=str(r.proofCid),
        rule=Rule(int(r.rule)),
        norm_bound_sq=int(r.normBoundSq),
        members=int(r.members),
        unavailable_reports=int(r.unavailableReports),
    )


def read_submission(round_manager: Any, round_id: int, slot: int) -> SubmissionView:
    """``getSubmission(round_id, slot)`` as a :class:`SubmissionView`."""
    s = round_manager.getSubmission(round_id, slot)
    return SubmissionView(slot, str(s.hospital), int(s.commitment), int(s.sampleCount), str(s.cid))


def read_submissions(round_manager: Any, round_id: int) -> list[SubmissionView]:
    """Every submission of a round, in slot order."""
    count = read_round(round_manager, round_id).submission_count
    return [read_submission(round_manager, round_id, slot) for slot in range(count)]
