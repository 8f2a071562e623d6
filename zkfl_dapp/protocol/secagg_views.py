"""A secure-aggregation round as everyone rebuilds it from the chain and the store (docs/secagg.md).

Every hospital (before masking and before revealing), the aggregator (to unmask) and an auditor read the same
things the same way: the ML-KEM keys registered before the round opened (``SecAggKeyRegistered``, each file checked
against its SHA-256), the roster's setup bundles (``SetupPosted``, each checked against its SHA-256 and with
``SetupBundle.check_session``), the submissions (RoundManager: commitment, count, the masked input's CID) and the
reveals (``SharesRevealed``). Contract objects are passed in (ape's or web3's shaped like them); nothing here
decides anything the chain has not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from zkfl_dapp.circuits.kzg import G1Point
from zkfl_dapp.exceptions import DigestMismatchError
from zkfl_dapp.secagg.bundle import SetupBundle
from zkfl_dapp.secagg.masking import MaskedInputFile
from zkfl_dapp.secagg.unmask import Reveal, unpack_reveals
from zkfl_dapp.storage.base import Storage

__all__ = ["SecAggRoundView", "read_round"]


def _args(log: Any) -> dict[str, Any]:
    return dict(log.event_arguments)


def _fetch_checked(storage: Storage, cid: str, digest: bytes, what: str) -> bytes:
    data = storage.get(cid)
    if hashlib.sha256(data).digest() != bytes(digest):
        raise DigestMismatchError(f"{what} {cid} does not match the SHA-256 recorded on chain")
    return data


@dataclass(frozen=True)
class SecAggRoundView:
    """One round's public secagg record: keys, roster bundles, submitters' masked inputs with their on-chain
    commitment and count, and the reveals so far."""

    round_id: int
    keys: dict[str, bytes]
    roster: dict[str, SetupBundle]
    masked: dict[str, tuple[int, ...]]
    commitments: dict[str, G1Point]
    counts: dict[str, int]
    reveals: list[Reveal]


def read_round(coordinator: Any, round_manager: Any, storage: Storage, round_id: int, head: int) -> SecAggRoundView:
    """The round ``round_id`` as of block ``head`` (masked inputs only of submitters on the roster).

    Raises:
        DigestMismatchError: a key or bundle file does not match its hash on chain.
        SecAggError: a bundle or masked input is malformed or not for this round.
    """
    opened_block = int(round_manager.roundOpening(round_id)[0])
    keys: dict[str, bytes] = {}
    for log in coordinator.SecAggKeyRegistered.range(0, opened_block):  # later registrations replace earlier ones
        a = _args(log)
        keys[str(a["hospital"]).lower()] = _fetch_checked(storage, a["keyCid"], a["keyHash"], "key file")
    threshold = int(coordinator.threshold())
    roster: dict[str, SetupBundle] = {}
    for log in coordinator.SetupPosted.range(opened_block, head + 1, search_topics={"roundId": round_id}):
        a = _args(log)
        bundle = SetupBundle.parse(_fetch_checked(storage, a["bundleCid"], a["bundleHash"], "setup bundle"))
        bundle.check_session(round_id, threshold, keys)
        roster[str(a["hospital"]).lower()] = bundle
    length = next(iter(roster.values())).length if roster else 0
    masked: dict[str, tuple[int, ...]] = {}
    commitments: dict[str, G1Point] = {}
    counts: dict[str, int] = {}
    for slot in range(int(round_manager.getRound(round_id).submissionCount)):
        sub = round_manager.getSubmission(round_id, slot)
        hospital = str(sub.hospital).lower()
        if hospital not in roster:
            continue  # not set up: its input cannot be unmasked (the integration excludes it)
        file = MaskedInputFile.parse(storage.get(sub.cid), round_id=round_id, hospital=hospital, length=length)
        masked[hospital] = file.values
        commitments[hospital] = G1Point(*(int(c) for c in sub.commitment[0]))
        counts[hospital] = int(sub.sampleCount)
    reveals = [
        r
        for log in coordinator.SharesRevealed.range(opened_block, head + 1, search_topics={"roundId": round_id})
        for r in unpack_reveals(str(_args(log)["responder"]), bytes(_args(log)["reveals"]))
    ]
    return SecAggRoundView(round_id, keys, roster, masked, commitments, counts, reveals)
