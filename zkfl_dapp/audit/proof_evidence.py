"""What the proof checks read proofs from: decoded calldata (or a proof bundle), ezkl proof files rebuilt
from it, and the committed points at the start of a proof.

:class:`ProofEvidence` is the base the proof checks share (:mod:`.chunk_proof_checks` for the norm proofs,
:mod:`.median_proof_checks`): it decodes a transaction with the
RoundManager's ABI, checks that a submission's call is the recorded one, re-verifies a proof file with ezkl
and the published circuit files, and scales a commitment the way the circuits do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ezkl

from zkfl_dapp.audit.context import AuditContext, describe_error
from zkfl_dapp.audit.deployment_checks import _point_text
from zkfl_dapp.audit.events import _same_address
from zkfl_dapp.audit.report import RoundAudit, SubmissionRecord
from zkfl_dapp.chain.views import as_commitment, commitment_hex
from zkfl_dapp.circuits.kzg import POINT_BYTES, G1Point, KzgError, combine
from zkfl_dapp.core.fixedpoint import felt_hex


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


def found_text(point: G1Point | None) -> str:
    return _point_text(point) if point is not None else "not a point"


class ProofEvidence(AuditContext):
    """The decoding, re-verification and point helpers of the proof checks."""

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
