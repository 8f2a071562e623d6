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

This module checks one-vector norm proofs; the chunk proofs are :mod:`.chunk_proof_checks`, the median proof
:mod:`.median_proof_checks`, and what the three share (calldata, proof files, points) :mod:`.proof_evidence`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zkfl_dapp.audit.chunk_proof_checks import ChunkProofChecks
from zkfl_dapp.audit.deployment_checks import _point_text
from zkfl_dapp.audit.events import _same_address
from zkfl_dapp.audit.median_proof_checks import MedianProofChecks
from zkfl_dapp.audit.proof_evidence import ChunkProofEvent, Position, found_text, proof_point, write_proof_file
from zkfl_dapp.audit.report import RoundAudit, SubmissionRecord
from zkfl_dapp.chain.views import Commitment, as_commitment
from zkfl_dapp.circuits.kzg import G1Point, KzgError
from zkfl_dapp.circuits.kzg_distance import address_limbs


class ProofChecks(ChunkProofChecks, MedianProofChecks):
    """Norm proofs (one per update, or one per chunk) of a bounded round and the median proof of a median round."""

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
                self._fail(ra, check, f"{item} / {what}", _point_text(expected), found_text(actual))
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
