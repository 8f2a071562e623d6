"""Optimistic norm verification, the members' side (a deployment with ``RoundManager.challengeWindow() > 0``).

A submission posts one keccak256 per chunk proof and the CID of its proof bundle (zkfl_dapp.chain.norm_claims);
nothing is verified on-chain. The aggregator (before finalizing) and any hospital or auditor (``zkfl`` parties)
check every proof off-chain with the same checks RoundManager runs on a challenge: the bundle's proofs hash to
the posted hashes, point 0 is ``C(2^13 u_c)`` of the submission's chunk point, point 1 the previous model's
chunk point, and ezkl accepts the proof for the instances the contract builds, ``[2^26, b_c, c, n,
limbs(hospital)]``. A false proof is challenged on-chain (``challengeChunk``): the contract runs the real
verifier and excludes the submission; the finalization must then leave that slot out (``faultedSlots``).

Proof-bundle unavailability reuses the exclusion machinery (docs/exclusions.md): the aggregator declares the
slot ``Unavailable`` and the hospital has ``REANNOUNCE_WINDOW`` to post the missing bytes on-chain
(``reannounceUpdate``); the challenge window is at least twice that long, so a re-announced bundle can still
be checked and challenged.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import keccak

from zkfl_dapp.chain.norm_claims import read_proof_bundle
from zkfl_dapp.chain.views import as_commitment, model_record
from zkfl_dapp.circuits.kzg import G1Point, combine
from zkfl_dapp.circuits.kzg_distance import address_limbs
from zkfl_dapp.circuits.proving import verify_offchain
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.core.fixedpoint import felt_hex
from zkfl_dapp.exceptions import ZkflError
from zkfl_dapp.storage.base import Storage

#: The challenge window of a chunked consortium's deployment (zkfl_dapp.protocol.consortium): 3 hours, within
#: RoundManager's [2 * REANNOUNCE_WINDOW, FINALIZE_WINDOW / 2]. A one-chunk model verifies at submission (0).
CHUNKED_CHALLENGE_WINDOW = 3 * 3600


@dataclass(frozen=True)
class FalseProof:
    """A chunk proof that fails an off-chain check, with what a challenge of it needs."""

    slot: int
    hospital: str
    chunk: int
    reason: str
    budgets: tuple[int, ...]
    proof_hashes: tuple[bytes, ...]
    proof: bytes


@dataclass(frozen=True)
class ClaimCheck:
    """The off-chain check of one optimistic submission: ``false`` lists its failing proofs; ``unavailable``
    says why its bundle could not be read (no proof was checked then)."""

    slot: int
    hospital: str
    chunks_checked: int
    false: tuple[FalseProof, ...] = ()
    unavailable: str = ""


def _write_proof(path: Path, proof: bytes, instances: tuple[int, ...]) -> Path:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"instances": [[felt_hex(v) for v in instances]], "proof": list(proof), "hex_proof": "0x" + proof.hex()}
    path.write_text(json.dumps(data))
    return path


def check_claims(
    round_manager: Any, round_id: int, storage: Storage, suite: CircuitSuite, workdir: Path
) -> list[ClaimCheck]:
    """Every optimistic claim of round ``round_id`` (its ``NormClaimed`` events), checked off-chain."""
    prev_round = int(round_manager.getRound(round_id).prevModelRound)
    prev, _ = model_record(round_manager, prev_round)
    n = suite.chunks
    one = 1 << (2 * suite.scale_bits)
    checks = []
    for log in round_manager.NormClaimed.range(0, int(round_manager.chain_manager.blocks.head.number) + 1):
        a = dict(log.event_arguments)
        if int(a["roundId"]) != round_id:
            continue
        slot, hospital = int(a["slot"]), str(a["hospital"])
        budgets = tuple(int(b) for b in a["budgets"])
        hashes = tuple(bytes(h) for h in a["proofHashes"])
        try:
            proofs = read_proof_bundle(storage.get(str(a["proofCid"])))
        except (ZkflError, ValueError) as exc:
            checks.append(ClaimCheck(slot, hospital, 0, unavailable=str(exc)))
            continue
        points = as_commitment(round_manager.getSubmission(round_id, slot).commitment)
        false = []
        for c in range(min(n, len(hashes))):
            proof = proofs[c] if c < len(proofs) else b""
            reason = ""
            if keccak(proof) != hashes[c]:
                reason = "the bundle's proof does not hash to the posted hash"
            elif proof[:64] != combine([G1Point(*points[c])], [1 << suite.scale_bits], suite.zero).to_bytes():
                reason = "point 0 is not C(2^13 u_c) of the submission's chunk"
            elif proof[64:128] != G1Point(*prev[c]).to_bytes():
                reason = "point 1 is not the previous model's chunk"
            else:
                instances = (one, budgets[c], c, n, *address_limbs(hospital))
                path = _write_proof(workdir / f"round-{round_id}" / f"claim-{slot}-{c:03d}.json", proof, instances)
                if not verify_offchain(suite.norm, path):
                    reason = "ezkl rejects the proof for [2^26, b_c, c, n, limbs]"
            if reason:
                false.append(FalseProof(slot, hospital, c, reason, budgets, hashes, proof))
        checks.append(ClaimCheck(slot, hospital, min(n, len(hashes)), tuple(false)))
    return checks


def challenge(round_manager: Any, account: Any, round_id: int, false: FalseProof) -> Any:
    """``challengeChunk`` of one false proof (a proof whose hash does not match cannot be challenged: the
    contract refuses bytes other than the posted ones; such a submission is excluded as ``Unavailable``)."""
    return round_manager.challengeChunk(
        round_id, false.slot, false.chunk, list(false.budgets), list(false.proof_hashes), false.proof, sender=account
    )


def challenge_false_claims(
    round_manager: Any, account: Any, round_id: int, storage: Storage, suite: CircuitSuite, workdir: Path
) -> list[FalseProof]:
    """Check every optimistic claim of the round off-chain and challenge the first false proof of each
    submission on-chain (as ``account``, a member). Returns the false proofs found. A challenge that reverts
    (another member challenged first, the window closed) is not an error: ``faultedSlots`` is what counts.
    Run by the aggregator before it finalizes and by every hospital agent, so a false proof is caught even when
    the aggregator does not challenge it."""
    from ape.exceptions import ContractLogicError

    found = []
    for check in check_claims(round_manager, round_id, storage, suite, workdir):
        for false in check.false[:1]:
            found.append(false)
            with contextlib.suppress(ContractLogicError):
                challenge(round_manager, account, round_id, false)
    return found
