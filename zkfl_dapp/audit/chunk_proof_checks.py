"""Norm proofs of a bounded round, one per chunk (a small model is one chunk), re-verified and bound.

Every submission's ``submitUpdate`` calldata carries its norm claim (``IRoundManager.NormClaim``): one budget
per chunk and either the proofs themselves (a deployment without a challenge window: RoundManager verified
every one in that transaction) or their keccak256 and the CID of the proof bundle (a challenge window: nothing
was verified on-chain unless a member challenged). The auditor takes the proofs from the calldata or from the
bundle (each must hash to its posted hash), re-verifies every one with ezkl and the published norm circuit for
the instances the contract builds, ``[2^26, b_c, c, n, limbs(hospital)]``, and checks: point 0 is
``C(2^13 u_c)`` of the submission's chunk point ``c``, point 1 the previous model's chunk point ``c``, every
``b_c < 2^36`` and ``sum_c b_c <= normBoundSq``. A submission a challenge excluded (``faultedSlots``) is
reported as such; its bad proof is no finding. The record says where each submission's proofs were checked.
"""

from __future__ import annotations

from typing import Any

from eth_utils import keccak

from zkfl_dapp.audit.context import describe_error
from zkfl_dapp.audit.deployment_checks import _point_text
from zkfl_dapp.audit.proof_evidence import ProofEvidence, found_text, proof_point, write_proof_file
from zkfl_dapp.audit.report import RoundAudit, SubmissionRecord
from zkfl_dapp.chain.norm_claims import read_proof_bundle
from zkfl_dapp.chain.views import Commitment, parse_commitment_hex
from zkfl_dapp.circuits.kzg import G1Point
from zkfl_dapp.circuits.kzg_distance import INPUT_RANGE, address_limbs
from zkfl_dapp.exceptions import ChainError, ZkflError


def _claim_fields(claim: Any) -> tuple[list[int], list[bytes], list[bytes], str]:
    """(budgets, proofs, proof hashes, proof CID) of a decoded ``NormClaim`` (a struct or a tuple)."""
    if hasattr(claim, "budgets"):
        fields = (claim.budgets, claim.proofs, claim.proofHashes, claim.proofCid)
    else:
        fields = tuple(claim)
    budgets, proofs, hashes, cid = fields
    return [int(b) for b in budgets], [bytes(p) for p in proofs], [bytes(h) for h in hashes], str(cid)


class ChunkProofChecks(ProofEvidence):
    """The norm proofs of each submission of a bounded round, from its claim."""

    def _claim_proofs(self, ra: RoundAudit, sub: SubmissionRecord, prev: Commitment, faulted: bool) -> None:
        """``sub``'s norm claim: its proofs re-verified and bound, its budgets' sum; the record says where."""
        check = "norm proofs"
        item = f"submission {sub.slot} norm proofs"
        before = len(ra.findings)
        n = self.chunks
        try:
            points = parse_commitment_hex(sub.commitment)
        except (ChainError, ValueError) as exc:
            self._fail(ra, check, item, f"a commitment of {n} points", str(exc))
            points = ()
        args = self._submission_call(ra, sub, item, "submitUpdate")
        if args is None:
            return
        try:
            budgets, proofs, hashes, bundle_cid = _claim_fields(args[4])
        except (IndexError, TypeError, ValueError) as exc:
            self._fail(ra, check, item, "a submitUpdate call with a norm claim", describe_error(exc))
            return
        inline = bool(proofs)
        if not inline:
            proofs = self._bundle(ra, item, bundle_cid, hashes) if not faulted else []
        if len(budgets) != n or (proofs and len(proofs) != n):
            self._fail(ra, check, f"{item} / claim", f"{n} budgets and proofs", f"{len(budgets)}, {len(proofs)}")
        if any(b >= INPUT_RANGE for b in budgets) or sum(budgets) > ra.norm_bound_sq:
            self._fail(ra, check, f"{item} / budgets", f"each < 2^36, sum <= {ra.norm_bound_sq}", str(budgets))
        findings = len(ra.findings)
        for c, proof in enumerate(proofs[: min(len(budgets), n)]):
            self._one_proof(ra, sub, c, proof, budgets[c], points, prev)
        where = (
            "verified on-chain by RoundManager at submission (submitUpdate) and re-verified off-chain by the auditor"
            if inline
            else f"verified off-chain by the auditor from the proof bundle {bundle_cid} (challenge window; "
            f"{'CHALLENGED: a proof failed on-chain, the submission was excluded' if faulted else 'not challenged'})"
        )
        if faulted:
            del ra.findings[findings:]  # a proof the chain already found false and excluded: reported, no finding
        if len(ra.findings) == before:
            note = f"{len(proofs) or n} norm proofs (one per chunk), budgets summing to {sum(budgets)}: {where}"
        else:
            note = f"norm proofs: {len(ra.findings) - before} discrepancies (see findings); {where}"
        self._noted(ra, sub, proof=note, chunk_sum_sq=sum(budgets))

    def _bundle(self, ra: RoundAudit, item: str, cid: str, hashes: list[bytes]) -> list[bytes]:
        """The proofs of the bundle under ``cid``, each hashing to its posted hash (a finding where not)."""
        check = "norm proofs"
        try:
            proofs = read_proof_bundle(self.storage.get(cid))
        except (ZkflError, ValueError) as exc:
            self._fail(ra, check, f"{item} / proof bundle", f"the proof bundle under {cid}", describe_error(exc))
            return []
        bad = [c for c, p in enumerate(proofs) if c >= len(hashes) or keccak(p) != hashes[c]]
        if bad or len(proofs) != len(hashes):
            self._fail(ra, check, f"{item} / proof bundle", "proofs hashing to the posted proofHashes", f"chunks {bad}")
        return proofs

    def _one_proof(
        self, ra: RoundAudit, sub: SubmissionRecord, c: int, proof: bytes, budget: int, points: Any, prev: Commitment
    ) -> None:
        check = "norm proofs"
        item = f"submission {sub.slot} norm proof {c}"
        instances = (1 << (2 * self.scale_bits), budget, c, self.chunks, *address_limbs(sub.hospital))
        if self.artifacts is None:
            self._fail(
                ra,
                check,
                item,
                "verification with the published norm circuit's settings, vk and SRS",
                "not possible: the norm circuit's files did not check out (see deployment findings)",
            )
        else:
            path = self.workdir / f"round-{ra.round_id}" / f"norm-{sub.slot}-{c:03d}.json"
            ok, why = self._verify_offchain(write_proof_file(path, proof, instances), self.artifacts)
            if not ok:
                self._fail(ra, check, item, "ezkl.verify accepts the proof for [2^26, b_c, c, n, limbs]", why)
        expected = [
            ("point 0 (C(2^13 u_c))", self._scaled(G1Point(*points[c])) if c < len(points) else None),
            ("point 1 (previous model)", G1Point(*prev[c]) if c < len(prev) else None),
        ]
        for i, (what, want) in enumerate(expected):
            actual = proof_point(proof, i)
            if want is None or actual != want:
                self._fail(ra, check, f"{item} / {what}", _point_text(want) if want else "a point", found_text(actual))
