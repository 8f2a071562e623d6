"""The norm claim a submission carries (``IRoundManager.NormClaim``), as ``RoundManager.submitUpdate`` takes it.

One path for every model size (zkfl_dapp.circuits.kzg_chunk_norm): one budget per chunk and, per chunk, either
the proof itself (a deployment without a challenge window: the contract verifies every proof in the submitting
transaction) or the proof's keccak256 (a challenge window: the proofs are published in a bundle under
``proof_cid``, verified off-chain by the aggregator and the auditors, and any member may ``challengeChunk`` one).
A round without a norm bound takes the empty claim.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from eth_utils import keccak

from zkfl_dapp.circuits.kzg_chunk_norm import KzgChunkProof

#: The claim of a submission in a round without a norm bound.
NO_CLAIM: tuple[list[int], list[bytes], list[bytes], str] = ([], [], [], "")


def proof_hash(proof: bytes) -> bytes:
    """keccak256 of a chunk proof's bytes: what an optimistic submission posts and a challenge must match."""
    return bytes(keccak(proof))


def norm_claim(proofs: Sequence[KzgChunkProof], challenge_window: int, proof_cid: str = "") -> tuple[Any, ...]:
    """The claim of ``proofs`` (one per chunk, in chunk order): the proofs themselves without a challenge
    window, their hashes and the bundle's CID with one."""
    budgets = [p.budget for p in proofs]
    if challenge_window == 0:
        return (budgets, [p.proof for p in proofs], [], "")
    if not proof_cid:
        raise ValueError("an optimistic claim needs the CID of its proof bundle")
    return (budgets, [], [proof_hash(p.proof) for p in proofs], proof_cid)


def proof_bundle(proofs: Sequence[KzgChunkProof]) -> bytes:
    """The proof bundle an optimistic submission stores under its ``proofCid``: JSON, one entry per chunk in
    chunk order, ``{"chunk": c, "proof": hex, "instances": [hex..]}`` (the instances are what the contract
    builds; a verifier checks each proof's keccak256 against the posted hash, not these)."""
    entries = [
        {"chunk": c, "proof": p.proof.hex(), "instances": [f"{v:064x}" for v in p.instances]}
        for c, p in enumerate(proofs)
    ]
    return json.dumps({"proofs": entries}, sort_keys=True).encode()


def read_proof_bundle(data: bytes) -> list[bytes]:
    """The proofs' bytes of a bundle, in chunk order.

    Raises:
        ValueError: not a bundle (malformed JSON, missing fields, chunks out of order).
    """
    try:
        entries = json.loads(data)["proofs"]
        if [int(e["chunk"]) for e in entries] != list(range(len(entries))):
            raise ValueError("chunks out of order")
        return [bytes.fromhex(e["proof"]) for e in entries]
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a proof bundle: {exc}") from exc
