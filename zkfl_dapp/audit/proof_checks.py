"""Checks of one finalized round's proof: off-chain with the published artifacts, on-chain against the
finalization calldata and the verifier contract, and every public instance against the chain."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ezkl

from zkfl_dapp.audit.context import AuditContext, describe_error
from zkfl_dapp.audit.events import _same_address
from zkfl_dapp.audit.report import RoundAudit, _hex
from zkfl_dapp.circuits.artifacts import CircuitProof, load_proof
from zkfl_dapp.circuits.layouts import AggregationLayout, MedianLayout
from zkfl_dapp.core.aggregation import normalized_weights
from zkfl_dapp.core.commitments import model_commitment
from zkfl_dapp.core.fixedpoint import from_field
from zkfl_dapp.exceptions import (
    CircuitError,
    RoundError,
    StorageError,
)


class ProofChecks(AuditContext):
    """Proof and instance checks of a finalized round."""

    def _calldata(self, ra: RoundAudit) -> tuple[bytes, tuple[int, ...]] | None:
        try:
            receipt = self.chain.provider.get_receipt(ra.finalize_tx)
            tx = receipt.transaction
            _, args = self.rm.decode_input(bytes(tx.data))
            values = list(args.values())
            round_id, proof, instances, model_cid, proof_cid = values[0], values[1], values[2], values[3], values[4]
        except Exception as exc:
            self._fail(
                ra,
                "proof (on-chain)",
                "finalize calldata",
                f"a finalizeRound transaction {ra.finalize_tx}",
                describe_error(exc),
            )
            return None
        if not _same_address(tx.receiver, self.rm.address):
            self._fail(ra, "proof (on-chain)", "finalize calldata", f"a call to {self.rm.address}", str(tx.receiver))
        actual = (int(round_id), str(model_cid), str(proof_cid))
        expected = (ra.round_id, ra.new_model_cid, ra.proof_cid)
        if actual != expected:
            self._fail(ra, "proof (on-chain)", "finalize calldata", f"{expected}", f"{actual}")
        return bytes(proof), tuple(int(v) for v in instances)

    def _proof_file(self, ra: RoundAudit) -> tuple[CircuitProof | None, Path | None]:
        assert ra.proof_cid is not None
        try:
            data = self.storage.get(ra.proof_cid)
        except StorageError as exc:
            self._fail(ra, "CIDs", "proof file", f"the proof file under {ra.proof_cid}", describe_error(exc))
            ra.checks["proof (off-chain)"] = False
            return None, None
        path = self.workdir / f"round-{ra.round_id}" / "proof.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        try:
            return load_proof(path), path
        except CircuitError as exc:
            self._fail(ra, "proof (off-chain)", "proof file", "an ezkl proof file", str(exc))
            return None, None

    def _verify_offchain(self, proof_path: Path, a: dict[str, Path]) -> tuple[bool, str]:
        try:
            ok = bool(ezkl.verify(str(proof_path), str(a["settings"]), str(a["vk"]), str(a["srs"])))
        except (RuntimeError, ValueError, OSError) as exc:
            return False, f"ezkl.verify failed: {exc}"
        return ok, "ezkl.verify returned false" if not ok else ""

    def _verify_onchain(self, verifier: Any, proof: bytes, instances: Sequence[int]) -> tuple[bool, str]:
        if verifier is None:
            return False, "the round uses the median rule but the deployment has no median verifier"
        try:
            ok = bool(verifier.verifyProof.call(proof, list(instances)))
        except Exception as exc:
            return False, f"verifyProof reverted: {describe_error(exc)}"
        return ok, "verifyProof returned false" if not ok else ""

    def _instances(self, ra: RoundAudit, instances: Sequence[int]) -> None:
        s, layout = self.slots, AggregationLayout(self.slots, self.model_size)
        if len(instances) != layout.count:
            self._fail(ra, "instances", "instance count", str(layout.count), str(len(instances)))
            return
        by_slot = {sub.slot: sub for sub in ra.submissions}
        counts = []
        for i in range(s):
            sub = by_slot.get(i)
            included = sub is not None and not sub.excluded
            counts.append(sub.sample_count if sub is not None and included else 0)
            expected = int(sub.commitment, 16) if sub is not None and included else self.empty_slot
            what = (
                "the commitment of the submission in this slot"
                if sub is not None and included
                else ("the empty-slot commitment (excluded update)" if sub is not None else "the empty-slot commitment")
            )
            at = layout.slot_hash(i)
            if instances[at] != expected:
                self._fail(ra, "instances", f"instances[{at}]", f"{_hex(expected)} ({what})", _hex(instances[at]))
        try:
            weights: tuple[int, ...] = normalized_weights(counts, self.scale_bits)
        except RoundError:
            weights = (0,) * s
        offset = layout.weights.start
        for i, w in enumerate(weights):
            if instances[offset + i] != w:
                self._fail(
                    ra,
                    "instances",
                    f"instances[{offset + i}]",
                    f"weight {w} of slot {i} (from on-chain sample counts {counts})",
                    str(instances[offset + i]),
                )
        self._counts(ra, sum(1 for w in weights if w), sum(counts))

    def _median_instances(self, ra: RoundAudit, instances: Sequence[int]) -> None:
        """A median round's bindings: included slots carry their commitments, the others hash(g), and g is
        the round's previous model."""
        s, layout = self.slots, MedianLayout(self.slots, self.model_size)
        if len(instances) != layout.count:
            self._fail(ra, "instances", "instance count", f"{layout.count} (median circuit)", str(len(instances)))
            return
        by_slot = {sub.slot: sub for sub in ra.submissions}
        included = 0
        samples = 0
        for i in range(s):
            sub = by_slot.get(i)
            if sub is not None and not sub.excluded:
                included += 1
                samples += sub.sample_count
                expected, what = int(sub.commitment, 16), "the commitment of the submission in this slot"
            else:
                expected = instances[layout.prev_hash]
                what = "hash(g): the previous model fills a slot without an update"
            at = layout.slot_hash(i)
            if instances[at] != expected:
                self._fail(ra, "instances", f"instances[{at}]", f"{_hex(expected)} ({what})", _hex(instances[at]))
        prev = model_commitment([from_field(v) for v in instances[layout.prev]])
        if _hex(prev) != ra.prev_model_commitment:
            self._fail(ra, "instances", "previous model (g)", f"{ra.prev_model_commitment} (RoundOpened)", _hex(prev))
        self._counts(ra, included, samples)

    def _counts(self, ra: RoundAudit, included: int, samples: int) -> None:
        """The included count and total samples derived from the submissions match RoundFinalized's."""
        if included != ra.included_count or samples != ra.total_samples:
            self._fail(
                ra,
                "instances",
                "included count / samples",
                f"{included} / {samples} (from the submissions)",
                f"{ra.included_count} / {ra.total_samples} (RoundFinalized)",
            )
