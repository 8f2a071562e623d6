"""The median proof of a median round (one-vector deployments only), re-verified and bound to the round.

The proof file under the ``RoundFinalized`` CID hashes (keccak) to the round's ``proofHash``, holds the proof
and instances of the ``finalizeMedianRound`` calldata, verifies with the median circuit's published files,
and its slot points are ``C(2^13 u_i)`` of the included slots' commitments (the previous model's commitment
for the others), its point ``slots`` the new model's. Without a median circuit in the manifest the check is
not applicable.
"""

from __future__ import annotations

from eth_utils import keccak

from zkfl_dapp.audit.context import describe_error
from zkfl_dapp.audit.deployment_checks import _point_text
from zkfl_dapp.audit.events import _same_address
from zkfl_dapp.audit.proof_evidence import ProofEvidence, proof_point
from zkfl_dapp.audit.report import Finding, RoundAudit
from zkfl_dapp.chain.views import Commitment, parse_commitment_hex
from zkfl_dapp.circuits.kzg import G1Point, KzgError
from zkfl_dapp.circuits.proving import load_proof
from zkfl_dapp.exceptions import ChainError, CircuitError, StorageError


class MedianProofChecks(ProofEvidence):
    """The median proof of a finalized median round."""

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
