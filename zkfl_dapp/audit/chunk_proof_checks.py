"""Chunk norm proofs of a chunked deployment (``RoundManager.chunks() = n > 1``), re-verified and bound.

Each chunk was proven in its own ``submitChunkProof`` transaction before the hospital's ``submitUpdate``
(verified on-chain, event ``ChunkProofAccepted``; proving a chunk again overwrites the record). For every
submission the auditor takes that hospital's ``ChunkProofAccepted`` events of the round before its
``UpdateSubmitted`` (the last one per chunk counts), decodes each one's ``submitChunkProof`` calldata,
re-verifies the proof with ezkl and the published chunk circuit, and checks: point 0 is ``C(2^13 u_c)`` of the
submission's chunk point ``c`` (and hashes to the event's ``pointHash``), point 1 the previous model's chunk
point ``c``, the instances are ``[ss_c, c, n, limbs(hospital)]`` with ``ss_c`` the event's and below
``2^36``, every chunk has exactly one counted proof, and ``sum_c ss_c <= normBoundSq``.
"""

from __future__ import annotations

from collections.abc import Sequence

from zkfl_dapp.audit.context import describe_error
from zkfl_dapp.audit.deployment_checks import _point_text
from zkfl_dapp.audit.events import _same_address
from zkfl_dapp.audit.proof_evidence import (
    ChunkProofEvent,
    Position,
    ProofEvidence,
    found_text,
    proof_point,
    write_proof_file,
)
from zkfl_dapp.audit.report import RoundAudit, SubmissionRecord
from zkfl_dapp.chain.views import Commitment, parse_commitment_hex, point_hash
from zkfl_dapp.circuits.kzg import G1Point
from zkfl_dapp.circuits.kzg_chunk_norm import expected_chunk_instances
from zkfl_dapp.circuits.kzg_distance import INPUT_RANGE
from zkfl_dapp.exceptions import ChainError


class ChunkProofChecks(ProofEvidence):
    """The chunk proofs that count for each submission of a bounded round of a chunked deployment."""

    def _chunk_proofs(
        self,
        ra: RoundAudit,
        sub: SubmissionRecord,
        prev: Commitment,
        events: Sequence[ChunkProofEvent],
        submitted_at: Position | None,
    ) -> None:
        """The chunk proofs that count for ``sub`` (its hospital's ``events``: the last accepted per chunk
        before its ``UpdateSubmitted`` at ``submitted_at``), each re-verified and bound, and their sum."""
        check = "norm proofs"
        item = f"submission {sub.slot} chunk proofs"
        before = len(ra.findings)
        n = self.chunks
        try:
            points = parse_commitment_hex(sub.commitment)
        except (ChainError, ValueError) as exc:
            self._fail(ra, check, item, f"a commitment of {n} points", str(exc))
            points = ()
        if len(points) != n:
            self._fail(ra, check, f"{item} / commitment", f"{n} chunk points (RoundManager.chunks())", str(len(points)))
        if len(prev) != n:
            self._fail(ra, check, f"{item} / previous model", f"{n} chunk points", f"{len(prev)} points")
        self._submission_call(ra, sub, item, "submitUpdate")

        counted: dict[int, ChunkProofEvent] = {}
        for e in sorted(events, key=lambda e: e.position):
            if not _same_address(e.hospital, sub.hospital) or e.round_id != ra.round_id:
                continue
            if submitted_at is not None and e.position >= submitted_at:
                continue  # after the submission: the contract refuses these; it would not count
            if not 0 <= e.chunk < n:
                self._fail(ra, check, f"{item} / ChunkProofAccepted", f"a chunk index below {n}", str(e.chunk))
                continue
            counted[e.chunk] = e  # a later proof of the same chunk overwrites the earlier record
        missing = [c for c in range(n) if c not in counted]
        if missing:
            self._fail(
                ra,
                check,
                f"{item} / missing",
                f"an accepted proof of each of the {n} chunks before the submission (ChunkProofAccepted)",
                f"none of chunk{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}",
            )
        total = sum(self._chunk_proof(ra, sub, counted[c], points, prev) for c in sorted(counted))
        if total > ra.norm_bound_sq:
            self._fail(
                ra,
                check,
                f"{item} / sum of squares",
                f"sum_c ss_c <= normBoundSq {ra.norm_bound_sq}",
                f"{total} over {len(counted)} chunk proofs",
            )
        if len(ra.findings) == before:
            note = (
                f"{len(counted)} chunk proofs verified on-chain (ChunkProofAccepted) and re-verified by the auditor "
                f"(ezkl, published chunk circuit); sum of squares {total} <= bound {ra.norm_bound_sq}"
            )
        else:
            note = f"chunk proofs: {len(ra.findings) - before} discrepancies (see findings)"
        self._noted(ra, sub, proof=note, chunk_sum_sq=total)

    def _chunk_proof(
        self, ra: RoundAudit, sub: SubmissionRecord, event: ChunkProofEvent, points: Commitment, prev: Commitment
    ) -> int:
        """One counted chunk proof from its ``submitChunkProof`` calldata; returns its (event's) sum of squares."""
        check = "norm proofs"
        c, n = event.chunk, self.chunks
        item = f"submission {sub.slot} chunk proof {c}"
        try:
            tx, method, args = self._decode(event.tx)
            if not method.startswith("submitChunkProof(") or len(args) != 4:
                raise ValueError(f"not a submitChunkProof call: {method}")
            call_round, call_chunk = int(args[0]), int(args[1])
            proof, instances = bytes(args[2]), tuple(int(v) for v in args[3])
        except Exception as exc:
            self._fail(ra, check, item, f"submitChunkProof calldata in {event.tx}", describe_error(exc))
            return event.sum_of_squares
        if (call_round, call_chunk) != (ra.round_id, c) or not _same_address(tx.receiver, self.rm.address):
            expected = f"round {ra.round_id}, chunk {c} to {self.rm.address} (ChunkProofAccepted)"
            called = f"round {call_round}, chunk {call_chunk} to {tx.receiver}"
            self._fail(ra, check, f"{item} / calldata", expected, called)
        if not _same_address(tx.sender, sub.hospital):
            self._fail(ra, check, f"{item} / sender", sub.hospital, str(tx.sender))

        # the proof itself, with the chunk circuit's published files
        if self.artifacts is None:
            self._fail(
                ra,
                check,
                item,
                "verification with the published chunk circuit's settings, vk and SRS",
                "not possible: the chunk circuit's files did not check out (see deployment findings)",
            )
        else:
            path = self.workdir / f"round-{ra.round_id}" / f"chunk-{sub.slot}-{c:03d}.json"
            ok, why = self._verify_offchain(write_proof_file(path, proof, instances), self.artifacts)
            if not ok:
                self._fail(ra, check, item, "ezkl.verify accepts the chunk proof", why)

        # bound to this chunk of this submission and of the previous model
        actual = proof_point(proof, 0)
        if c < len(points):
            scaled = self._scaled(G1Point(*points[c]))
            if actual != scaled:
                what = f"{_point_text(scaled)} (C(2^13 u_{c}) of the submission's chunk point {c})"
                self._fail(ra, check, f"{item} / point 0 (C(2^13 u_c))", what, found_text(actual))
        if actual is None or point_hash(actual.as_uint256()) != event.point_hash:
            found = "0x" + point_hash(actual.as_uint256()).hex() if actual is not None else "not a point"
            expected_hash = f"0x{event.point_hash.hex()} (ChunkProofAccepted.pointHash)"
            self._fail(ra, check, f"{item} / point 0 hash", expected_hash, found)
        if c < len(prev):
            prev_chunk = G1Point(*prev[c])
            actual = proof_point(proof, 1)
            if actual != prev_chunk:
                what = f"{_point_text(prev_chunk)} (the previous model's chunk point {c})"
                self._fail(ra, check, f"{item} / point 1 (previous model)", what, found_text(actual))
        ss = event.sum_of_squares
        if ss >= INPUT_RANGE:
            self._fail(ra, check, f"{item} / sum of squares", "below 2^36 (the circuit's range)", str(ss))
        wanted = expected_chunk_instances(ss, c, n, sub.hospital)
        names = ["sum of squares", "chunk index", "chunk count", *(f"address limb {j}" for j in range(len(wanted) - 3))]
        if len(instances) != len(wanted):
            self._fail(ra, check, f"{item} / instances", f"{len(wanted)} instances", str(len(instances)))
        else:
            for name, want, got in zip(names, wanted, instances, strict=True):
                if want != got:
                    self._fail(ra, check, f"{item} / {name}", str(want), str(got))
        return ss
