"""Re-verification of the proofs a round's chain state rests on, from the chain and the content store alone.

* ``norm proofs`` (a round with a norm bound), one-vector deployments: every ``UpdateSubmitted`` transaction
  is looked up and its ``submitBoundedUpdate`` calldata decoded with the RoundManager's ABI; the norm proof in
  it (verified on-chain by RoundManager with the norm verifier) is re-verified with ezkl and the norm circuit's
  published settings, verifying key and SRS, and bound to that submission: point 0 is
  ``C(2^13 u) = combine([C(u)], [2^13], K)`` of the submitted commitment, point 1 the round's previous model
  commitment, the instances are ``[2^26 (within the bound), normBoundSq, the sender's address in five 32-bit
  limbs]``.
* ``norm proofs``, chunked deployments (``RoundManager.chunks() = n > 1``): each chunk was proven in its own
  ``submitChunkProof`` transaction before the hospital's ``submitUpdate`` (verified on-chain, event
  ``ChunkProofAccepted``; proving a chunk again overwrites the record). For every submission the auditor takes
  that hospital's ``ChunkProofAccepted`` events of the round before its ``UpdateSubmitted`` (the last one per
  chunk counts), decodes each one's ``submitChunkProof`` calldata, re-verifies the proof with ezkl and the
  published chunk circuit, and checks: point 0 is ``C(2^13 u_c)`` of the submission's chunk point ``c`` (and
  hashes to the event's ``pointHash``), point 1 the previous model's chunk point ``c``, the instances are
  ``[ss_c, c, n, limbs(hospital)]`` with ``ss_c`` the event's and below ``2^36``, every chunk has exactly one
  counted proof, and ``sum_c ss_c <= normBoundSq``. The submission's ``submitUpdate`` calldata must be its
  record. Each failure is a finding; the submission's record says what was verified where.
* ``median proof`` (a median round, one-vector deployments only): the proof file under the ``RoundFinalized``
  CID hashes (keccak) to the round's ``proofHash``, holds the proof and instances of the
  ``finalizeMedianRound`` calldata, verifies with the median circuit's published files, and its slot points
  are ``C(2^13 u_i)`` of the included slots' commitments (the previous model's commitment for the others),
  its point ``slots`` the new model's. Without a median circuit in the manifest the check is not applicable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ezkl
from eth_utils import keccak

from zkfl_dapp.audit.context import AuditContext, describe_error
from zkfl_dapp.audit.deployment_checks import _point_text
from zkfl_dapp.audit.events import _same_address
from zkfl_dapp.audit.report import Finding, RoundAudit, SubmissionRecord
from zkfl_dapp.chain.views import Commitment, as_commitment, commitment_hex, parse_commitment_hex, point_hash
from zkfl_dapp.circuits.kzg import POINT_BYTES, G1Point, KzgError, combine
from zkfl_dapp.circuits.kzg_chunk_norm import expected_chunk_instances
from zkfl_dapp.circuits.kzg_distance import INPUT_RANGE, address_limbs
from zkfl_dapp.circuits.proving import load_proof
from zkfl_dapp.core.fixedpoint import felt_hex
from zkfl_dapp.exceptions import ChainError, CircuitError, StorageError

#: A position on the chain: (block number, log index).
Position = tuple[int, int]


@dataclass(frozen=True)
class ChunkProofEvent:
    """One ``ChunkProofAccepted`` log: a hospital's chunk proof the RoundManager accepted (and verified)."""

    round_id: int
    hospital: str
    chunk: int
    sum_of_squares: int
    #: keccak256(x || y) of the proof's point 0, C(2^13 u_c), as the contract recorded it
    point_hash: bytes
    #: the submitChunkProof transaction (its calldata holds the proof and instances)
    tx: str
    position: Position

    @classmethod
    def from_log(cls, log: Any) -> ChunkProofEvent:
        a = dict(log.event_arguments)
        return cls(
            round_id=int(a["roundId"]),
            hospital=str(a["hospital"]),
            chunk=int(a["chunk"]),
            sum_of_squares=int(a["sumOfSquares"]),
            point_hash=bytes(a["pointHash"]),
            tx=str(log.transaction_hash),
            position=(int(log.block_number), int(log.log_index)),
        )


def write_proof_file(path: Path, proof: bytes, instances: Sequence[int]) -> Path:
    """An ezkl proof file (the fields ``ezkl.verify`` and :func:`load_proof` read) for calldata's proof."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "instances": [[felt_hex(int(v)) for v in instances]],
        "proof": list(proof),
        "hex_proof": "0x" + proof.hex(),
    }
    path.write_text(json.dumps(data))
    return path


def proof_point(proof: bytes, index: int) -> G1Point | None:
    """The ``index``-th 64-byte committed-input point at the start of an ezkl proof (None: not a point)."""
    raw = proof[POINT_BYTES * index : POINT_BYTES * (index + 1)]
    try:
        return G1Point.from_bytes(raw)
    except KzgError:
        return None


def _found(point: G1Point | None) -> str:
    return _point_text(point) if point is not None else "not a point"


class ProofChecks(AuditContext):
    """Norm proofs (one per update, or one per chunk) of a bounded round and the median proof of a median round."""

    def _scaled(self, commitment: G1Point) -> G1Point:
        """``C(2^s u) = K + 2^s (C(u) - K)``: the point a proof over the scaled update commits to."""
        return combine([commitment], [1 << self.scale_bits], self.zero)

    def _verify_offchain(self, proof_path: Path, a: dict[str, Path]) -> tuple[bool, str]:
        try:
            ok = bool(ezkl.verify(str(proof_path), str(a["settings"]), str(a["vk"]), str(a["srs"])))
        except (RuntimeError, ValueError, OSError) as exc:
            return False, f"ezkl.verify failed: {exc}"
        return ok, "ezkl.verify returned false" if not ok else ""

    def _decode(self, tx_hash: str) -> tuple[Any, str, list[Any]]:
        """The transaction, its method's signature and its arguments (decoded with the RoundManager's ABI)."""
        tx = self.chain.provider.get_receipt(tx_hash).transaction
        method, args = self.rm.decode_input(bytes(tx.data))
        return tx, str(method), list(args.values())

    def _noted(self, ra: RoundAudit, sub: SubmissionRecord, **update: Any) -> None:
        """Replace ``sub`` in ``ra`` by a copy with ``update`` (the records are frozen)."""
        ra.submissions = [s.model_copy(update=update) if s is sub else s for s in ra.submissions]

    # --- norm proofs --------------------------------------------------------------------------------

    def _norm_proofs(
        self,
        ra: RoundAudit,
        prev: Commitment,
        chunk_events: Sequence[ChunkProofEvent] = (),
        submitted_at: Mapping[int, Position] | None = None,
    ) -> None:
        """Every submission's norm proof (one-vector) or chunk proofs (chunked: ``chunk_events`` are the round's
        ``ChunkProofAccepted`` logs, ``submitted_at`` each slot's ``UpdateSubmitted`` position)."""
        ra.checks["norm proofs"] = True
        for sub in list(ra.submissions):
            if self.chunked:
                mine = [e for e in chunk_events if _same_address(e.hospital, sub.hospital)]
                self._chunk_proofs(ra, sub, prev, mine, (submitted_at or {}).get(sub.slot))
            else:
                self._norm_proof(ra, sub, prev)

    def _submission_call(self, ra: RoundAudit, sub: SubmissionRecord, item: str, method_name: str) -> list[Any] | None:
        """The submission's transaction: a ``method_name`` call to the RoundManager by the hospital whose round,
        commitment, CID and sample count are the recorded ones; returns its arguments (None: not decodable)."""
        check = "norm proofs"
        if sub.tx is None:
            self._fail(ra, check, item, "the UpdateSubmitted transaction", "none")
            return None
        try:
            tx, method, args = self._decode(sub.tx)
        except Exception as exc:
            self._fail(ra, check, item, f"{method_name} calldata in {sub.tx}", describe_error(exc))
            return None
        if not method.startswith(method_name + "(") or len(args) < 4:
            self._fail(ra, check, item, f"a {method_name} call in {sub.tx}", method)
            return None
        try:
            points = commitment_hex(as_commitment(args[1]))
        except (TypeError, ValueError) as exc:
            points = f"not a list of points ({exc})"
        called = (int(args[0]), points, str(args[2]), int(args[3]))
        recorded = (ra.round_id, sub.commitment, sub.cid, sub.sample_count)
        if called != recorded or not _same_address(tx.receiver, self.rm.address):
            self._fail(
                ra, check, f"{item} / calldata", f"{recorded} to {self.rm.address}", f"{called} to {tx.receiver}"
            )
        if not _same_address(tx.sender, sub.hospital):
            self._fail(ra, check, f"{item} / sender", sub.hospital, str(tx.sender))
        return args

    def _norm_proof(self, ra: RoundAudit, sub: SubmissionRecord, prev: Commitment) -> None:
        check = "norm proofs"
        item = f"submission {sub.slot} norm proof"
        before = len(ra.findings)
        args = self._submission_call(ra, sub, item, "submitBoundedUpdate")
        if args is None:
            return
        if len(args) != 6:
            self._fail(ra, check, item, "a submitBoundedUpdate call with a proof and instances", f"{len(args)} args")
            return
        proof, instances = bytes(args[4]), tuple(int(v) for v in args[5])
        try:
            (point,) = as_commitment(args[1])
            commitment = G1Point(*point)
            (prev_point,) = prev
        except (ValueError, TypeError, KzgError) as exc:
            self._fail(ra, check, item, "one-point commitments (submission and previous model)", str(exc))
            return

        # the proof itself, with the norm circuit's published files
        if self.artifacts is None:
            self._fail(
                ra,
                check,
                item,
                "verification with the published settings, vk and SRS",
                "not possible: the norm circuit's files did not check out (see deployment findings)",
            )
        else:
            path = write_proof_file(self.workdir / f"round-{ra.round_id}" / f"norm-{sub.slot}.json", proof, instances)
            ok, why = self._verify_offchain(path, self.artifacts)
            if not ok:
                self._fail(ra, check, item, "ezkl.verify accepts the norm proof", why)

        # bound to this submission: its points and instances
        expected_points = [
            ("point 0 (C(2^13 u))", self._scaled(commitment)),
            ("point 1 (previous model)", G1Point(*prev_point)),
        ]
        for i, (what, expected) in enumerate(expected_points):
            actual = proof_point(proof, i)
            if actual != expected:
                self._fail(ra, check, f"{item} / {what}", _point_text(expected), _found(actual))
        one = 1 << (2 * self.scale_bits)
        expected_instances = (one, ra.norm_bound_sq, *address_limbs(sub.hospital))
        names = ["flag", "bound", *(f"address limb {j}" for j in range(len(expected_instances) - 2))]
        if len(instances) != len(expected_instances):
            self._fail(ra, check, f"{item} / instances", f"{len(expected_instances)} instances", str(len(instances)))
        else:
            for name, want, got in zip(names, expected_instances, instances, strict=True):
                if want != got:
                    self._fail(ra, check, f"{item} / {name}", str(want), str(got))
        if len(ra.findings) == before:
            note = (
                "norm proof verified on-chain by RoundManager (submitBoundedUpdate, norm verifier) and re-verified "
                "by the auditor (ezkl, published norm circuit)"
            )
        else:
            note = f"norm proof: {len(ra.findings) - before} discrepancies (see findings)"
        self._noted(ra, sub, proof=note)

    # --- chunk proofs (chunked deployments) -------------------------------------------------------------

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
                self._fail(ra, check, f"{item} / point 0 (C(2^13 u_c))", what, _found(actual))
        if actual is None or point_hash(actual.as_uint256()) != event.point_hash:
            found = "0x" + point_hash(actual.as_uint256()).hex() if actual is not None else "not a point"
            expected_hash = f"0x{event.point_hash.hex()} (ChunkProofAccepted.pointHash)"
            self._fail(ra, check, f"{item} / point 0 hash", expected_hash, found)
        if c < len(prev):
            prev_chunk = G1Point(*prev[c])
            actual = proof_point(proof, 1)
            if actual != prev_chunk:
                what = f"{_point_text(prev_chunk)} (the previous model's chunk point {c})"
                self._fail(ra, check, f"{item} / point 1 (previous model)", what, _found(actual))
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

    # --- the median proof ------------------------------------------------------------------------------

    def _median_proof(self, ra: RoundAudit, prev: Commitment, new: Commitment) -> int | None:
        """Check the median round's proof; returns the number of included slots (None: not determinable).

        The points' layout is circuits.layouts.MedianLayout's (slots 0 .. S-1, then the new model at point S);
        the single instance is the certificate z, which must be 0. Only one-point commitments have a median.
        """
        check = "median proof"
        ra.checks[check] = True
        if len(prev) != 1 or len(new) != 1:
            one_point = "one-point model commitments (the median circuit takes one committed vector)"
            self._fail(ra, check, "median proof", one_point, f"{len(prev)} and {len(new)} points")
            return None
        (prev_point,), (new_point,) = prev, new
        assert ra.proof_cid is not None and ra.finalize_tx is not None
        # what the chain accepted: the finalizeMedianRound calldata
        calldata: tuple[bytes, tuple[int, ...]] | None = None
        try:
            tx, method, args = self._decode(ra.finalize_tx)
            if not method.startswith("finalizeMedianRound") or len(args) != 6:
                raise ValueError(f"not a finalizeMedianRound call: {method}")
            calldata = (bytes(args[1]), tuple(int(v) for v in args[2]))
            if not _same_address(tx.receiver, self.rm.address):
                self._fail(ra, check, "finalize calldata", f"a call to {self.rm.address}", str(tx.receiver))
        except Exception as exc:
            self._fail(
                ra, check, "finalize calldata", f"a finalizeMedianRound call in {ra.finalize_tx}", describe_error(exc)
            )
        if calldata is not None and "0x" + keccak(calldata[0]).hex() != ra.proof_hash:
            self._fail(ra, check, "proof hash", f"{ra.proof_hash} (proofHash)", "0x" + keccak(calldata[0]).hex())

        # what is published: the proof file
        proof_bytes: bytes | None = None
        try:
            data = self.storage.get(ra.proof_cid)
        except StorageError as exc:
            self._fail(ra, "CIDs", "proof file", f"the proof file under {ra.proof_cid}", describe_error(exc))
            ra.checks[check] = False
            data = None
        if data is not None:
            path = self.workdir / f"round-{ra.round_id}" / "median-proof.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            try:
                proof = load_proof(path)
            except CircuitError as exc:
                self._fail(ra, check, "proof file", "an ezkl proof file", str(exc))
                proof = None
            if proof is not None:
                proof_bytes = proof.proof
                digest = "0x" + keccak(proof.proof).hex()
                if digest != ra.proof_hash:
                    self._fail(ra, check, "proof file hash", f"{ra.proof_hash} (proofHash)", digest)
                if calldata is not None and (proof.proof, proof.instances) != calldata:
                    self._fail(
                        ra, check, "proof bytes", "the proof and instances in the finalization calldata", "others"
                    )
                if self.manifest is not None and self.manifest.median is None:
                    ra.findings.append(
                        Finding(
                            round_id=ra.round_id,
                            check=check,
                            item="proof (off-chain)",
                            expected="verification with the manifest's median circuit",
                            actual="not applicable: the circuit manifest has no median circuit",
                            severity="warning",
                        )
                    )
                elif self.median_artifacts is None:
                    self._fail(
                        ra,
                        check,
                        "proof (off-chain)",
                        "verification with the published median settings, vk and SRS",
                        "not possible: the median circuit's files did not check out (see deployment findings)",
                    )
                else:
                    ok, why = self._verify_offchain(path, self.median_artifacts)
                    if not ok:
                        self._fail(ra, check, "proof (off-chain)", "ezkl.verify accepts the median proof", why)
        if calldata is not None and calldata[1] != (0,):
            # a wrong claimed median still verifies, with a non-zero certificate z (circuits/kzg_median.py)
            self._fail(
                ra,
                check,
                "median certificate",
                "instances [0] (z = 0: the result is the median)",
                str(list(calldata[1])),
            )
        if proof_bytes is None and calldata is not None:
            proof_bytes = calldata[0]
        if proof_bytes is None:
            ra.checks[check] = False
            return None

        # the slot points against the stored commitments, and the new model's point
        by_slot = {s.slot: s for s in ra.submissions}
        included = 0
        for i in range(self.slots):
            sub = by_slot.get(i)
            if sub is not None and not sub.excluded:
                included += 1
                try:
                    (c,) = parse_commitment_hex(sub.commitment)
                    expected, what = self._scaled(G1Point(*c)), f"C(2^13 u) of slot {i}'s commitment"
                except (ChainError, ValueError, KzgError) as exc:
                    self._fail(ra, check, f"median proof / slot point {i}", "a one-point commitment", str(exc))
                    continue
            else:
                expected, what = G1Point(*prev_point), "the previous model (no included update)"
            actual = proof_point(proof_bytes, i)
            if actual != expected:
                found = _point_text(actual) if actual is not None else "not a point"
                self._fail(ra, check, f"median proof / slot point {i}", f"{_point_text(expected)} ({what})", found)
        actual = proof_point(proof_bytes, self.slots)
        if actual is None or actual.as_uint256() != new_point:
            found = _point_text(actual) if actual is not None else "not a point"
            self._fail(
                ra, check, f"median proof / point {self.slots}", f"{_point_text(new_point)} (RoundFinalized)", found
            )
        return included
