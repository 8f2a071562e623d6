"""Re-verification of the proofs a round's chain state rests on, from the chain and the content store alone.

* ``norm proofs`` (a round with a norm bound): every ``UpdateSubmitted`` transaction is looked up and its
  ``submitBoundedUpdate`` calldata decoded with the RoundManager's ABI; the norm proof in it is verified with
  ezkl and the norm circuit's published settings, verifying key and SRS, and bound to that submission:
  point 0 is ``C(2^13 u) = combine([C(u)], [2^13], K)`` of the submitted commitment, point 1 the round's
  previous model commitment, the instances are ``[2^26 (within the bound), normBoundSq, the sender's
  address in five 32-bit limbs]``.
* ``median proof`` (a median round): the proof file under the ``RoundFinalized`` CID hashes (keccak) to the
  round's ``proofHash``, holds the proof and instances of the ``finalizeMedianRound`` calldata, verifies with
  the median circuit's published files, and its slot points are ``C(2^13 u_i)`` of the included slots'
  commitments (the previous model's commitment for the others), its point ``slots`` the new model's.
  Without a median circuit in the manifest the check is not applicable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ezkl
from eth_utils import keccak

from zkfl_dapp.audit.context import AuditContext, describe_error
from zkfl_dapp.audit.deployment_checks import _point_text
from zkfl_dapp.audit.events import _same_address
from zkfl_dapp.audit.report import Finding, RoundAudit, SubmissionRecord
from zkfl_dapp.circuits.artifacts import load_proof
from zkfl_dapp.circuits.kzg import POINT_BYTES, G1Point, KzgError, combine
from zkfl_dapp.circuits.kzg_norm import address_limbs
from zkfl_dapp.core.fixedpoint import felt_hex
from zkfl_dapp.exceptions import CircuitError, StorageError


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


class ProofChecks(AuditContext):
    """Norm proofs of a bounded round and the median proof of a median round."""

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

    # --- norm proofs --------------------------------------------------------------------------------

    def _norm_proofs(self, ra: RoundAudit, prev_point: tuple[int, int]) -> None:
        ra.checks["norm proofs"] = True
        for sub in ra.submissions:
            self._norm_proof(ra, sub, prev_point)

    def _norm_proof(self, ra: RoundAudit, sub: SubmissionRecord, prev_point: tuple[int, int]) -> None:
        check = "norm proofs"
        item = f"submission {sub.slot} norm proof"
        if sub.tx is None:
            self._fail(ra, check, item, "the UpdateSubmitted transaction", "none")
            return
        try:
            tx, method, args = self._decode(sub.tx)
        except Exception as exc:
            self._fail(ra, check, item, f"submitBoundedUpdate calldata in {sub.tx}", describe_error(exc))
            return
        if not method.startswith("submitBoundedUpdate") or len(args) != 6:
            self._fail(ra, check, item, f"a submitBoundedUpdate call in {sub.tx}", method)
            return
        round_id, point, cid, samples, proof, instances = args
        proof, instances = bytes(proof), tuple(int(v) for v in instances)
        commitment = G1Point(int(point[0]), int(point[1]))
        called = (int(round_id), "0x" + f"{commitment.x:064x}{commitment.y:064x}", str(cid), int(samples))
        recorded = (ra.round_id, sub.commitment, sub.cid, sub.sample_count)
        if called != recorded or not _same_address(tx.receiver, self.rm.address):
            self._fail(
                ra, check, f"{item} / calldata", f"{recorded} to {self.rm.address}", f"{called} to {tx.receiver}"
            )
        if not _same_address(tx.sender, sub.hospital):
            self._fail(ra, check, f"{item} / sender", sub.hospital, str(tx.sender))

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
                found = _point_text(actual) if actual is not None else "not a point"
                self._fail(ra, check, f"{item} / {what}", _point_text(expected), found)
        one = 1 << (2 * self.scale_bits)
        expected_instances = (one, ra.norm_bound_sq, *address_limbs(sub.hospital))
        names = ["flag", "bound", *(f"address limb {j}" for j in range(len(expected_instances) - 2))]
        if len(instances) != len(expected_instances):
            self._fail(ra, check, f"{item} / instances", f"{len(expected_instances)} instances", str(len(instances)))
            return
        for name, want, got in zip(names, expected_instances, instances, strict=True):
            if want != got:
                self._fail(ra, check, f"{item} / {name}", str(want), str(got))

    # --- the median proof ------------------------------------------------------------------------------

    def _median_proof(self, ra: RoundAudit, prev_point: tuple[int, int], new_point: tuple[int, int]) -> int | None:
        """Check the median round's proof; returns the number of included slots (None: not determinable).

        The points' layout is circuits.layouts.MedianLayout's (slots 0 .. S-1, then the new model at point S);
        the single instance is the certificate z, which must be 0.
        """
        check = "median proof"
        ra.checks[check] = True
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
                c = int(sub.commitment[2:66], 16), int(sub.commitment[66:], 16)
                expected, what = self._scaled(G1Point(*c)), f"C(2^13 u) of slot {i}'s commitment"
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
