"""A member hospital's side of exclusion disputes (issue 18, docs/exclusions.md).

After a round finalizes with exclusions, every member re-checks each applied ``Undecryptable`` /
``InvalidContent`` exclusion's evidence from public data (:func:`~zkfl_dapp.protocol.exclusions.check_evidence`)
while the round's dispute window is open:

* the excluded hospital disputes its own exclusion when the evidence is missing or fails;
* any other member supports a dispute whose evidence fails (never one it cannot check, e.g. when the ciphertext
  is not served: a minority cannot turn an unverifiable claim into an upheld dispute).

More than half of the members at opening supporting it upholds the dispute on-chain: the round is invalidated and
the aggregator named. Everything here is idempotent (it reads the chain's dispute state first), so an agent may
call :func:`review_exclusions` on every poll.
"""

from __future__ import annotations

from collections.abc import MutableSet
from typing import Any

from zkfl_dapp.chain.enums import ExclusionReason, Phase
from zkfl_dapp.chain.views import read_submissions
from zkfl_dapp.exceptions import ChainError, DigestMismatchError, StorageError
from zkfl_dapp.protocol.exclusions import CommitmentScheme, check_evidence
from zkfl_dapp.protocol.hospital import fetch_enclave_key
from zkfl_dapp.storage.base import Storage


def _fetch(storage: Storage, cid: str) -> bytes | None:
    try:
        return storage.get(cid) if cid else None
    except StorageError:
        return None


def _evidence_cids(round_manager: Any, round_id: int, last_block: int) -> dict[int, str]:
    cids: dict[int, str] = {}
    for log in round_manager.ExclusionDeclared.range(0, last_block + 1):
        args = dict(log.event_arguments)
        if int(args["roundId"]) == round_id:
            cids[int(args["slot"])] = str(args["evidenceCid"])
    return cids


def review_exclusions(
    round_manager: Any,
    registry: Any,
    account: Any,
    storage: Storage,
    suite: CommitmentScheme,
    round_id: int,
    *,
    settled: MutableSet[tuple[int, int]] | None = None,
) -> list[str]:
    """Check round ``round_id``'s applied exclusions as ``account`` (a member hospital) and dispute or support
    those whose evidence fails, within the window. Returns what was done, in words (empty: nothing).

    ``settled`` (optional, kept by the caller between polls) collects the (round, slot) pairs needing no more
    look: evidence that holds, a dispute upheld or this member's support given.
    """
    settled = settled if settled is not None else set()
    info = round_manager.getRound(round_id)
    deadline = int(round_manager.disputeDeadline(round_id))
    if int(info.phase) != Phase.FINALIZED or deadline == 0:
        return []
    if int(round_manager.chain_manager.pending_timestamp) > deadline:
        return []
    me = str(account.address)
    subs = read_submissions(round_manager, round_id)
    todo = [s for s in subs if (round_id, s.slot) not in settled]
    records = {s.slot: round_manager.getExclusion(round_id, s.slot) for s in todo}
    todo = [
        s
        for s in todo
        if bool(records[s.slot].applied)
        and int(records[s.slot].reason) in (ExclusionReason.UNDECRYPTABLE, ExclusionReason.INVALID_CONTENT)
    ]
    if not todo:
        return []
    from ape.exceptions import ContractLogicError  # a race with the window's end: reported, retried next poll

    try:
        public_key = fetch_enclave_key(storage, registry)
    except (ChainError, StorageError, DigestMismatchError) as exc:
        return [f"cannot check its exclusions: no usable enclave key ({exc})"]
    cids = _evidence_cids(round_manager, round_id, int(info.finalizedBlock))
    done: list[str] = []
    for sub in todo:
        record = records[sub.slot]
        mine = sub.hospital.lower() == me.lower()
        if bool(record.upheld) or (bool(record.disputed) and round_manager.supportsDispute(round_id, sub.slot, me)):
            settled.add((round_id, sub.slot))
            continue
        if not bool(record.disputed) and not mine:
            continue  # only the excluded hospital opens a dispute; the others look again on the next poll
        verdict = check_evidence(
            int(record.reason),
            bytes(record.evidenceHash),
            _fetch(storage, cids.get(sub.slot, "")),
            _fetch(storage, sub.cid),
            round_id=round_id,
            sub=sub,
            public_key=public_key,
            suite=suite,
        )
        if verdict.holds:
            settled.add((round_id, sub.slot))
            continue
        if verdict.unverifiable:
            continue
        try:
            if mine and not bool(record.disputed):
                round_manager.disputeExclusion(round_id, sub.slot, sender=account)
                done.append(f"disputed the exclusion of its update (slot {sub.slot}): {verdict.why}")
            else:
                round_manager.supportDispute(round_id, sub.slot, sender=account)
                done.append(f"supported the dispute of slot {sub.slot}: {verdict.why}")
        except ContractLogicError as exc:
            done.append(f"could not dispute/support slot {sub.slot}: {type(exc).__name__}({exc})")
            continue
        settled.add((round_id, sub.slot))
    return done
