"""The auditor's KZG pieces without a chain: the Lagrange multi-scalar multiplication and the re-verification
of a norm proof taken from (stubbed) submitUpdate calldata (its norm claim), bound to its submission."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.kzg_fixtures import ADDRESS, basis, kzg_norm, prev_aggregate, updates, zero  # noqa: F401
from zkfl_dapp.audit.deployment_checks import lagrange_msm
from zkfl_dapp.audit.proof_checks import ProofChecks
from zkfl_dapp.audit.proof_evidence import write_proof_file
from zkfl_dapp.audit.report import CHECKS, RoundAudit, SubmissionRecord
from zkfl_dapp.chain.views import commitment_hex
from zkfl_dapp.circuits.kzg import commit, lagrange_points
from zkfl_dapp.circuits.kzg_chunk_norm import prove_chunk
from zkfl_dapp.circuits.proving import load_proof

ROUND_MANAGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BOUND = 2**35


def test_lagrange_msm_recomputes_commitments(basis, zero, updates, tmp_path):  # noqa: F811
    points = lagrange_points(basis, len(updates[0]), cache_dir=tmp_path)
    for u in updates[:2]:
        (expected,) = commit(u, basis)
        assert lagrange_msm(zero, points, u) == expected
    swapped = [points[1], points[0], *points[2:]]
    assert lagrange_msm(zero, swapped, updates[0]) != commit(updates[0], basis)[0]


class _Checks(ProofChecks):
    """ProofChecks over one stubbed submission transaction (no chain)."""

    def __init__(self, kzg_norm: Any, zero: Any, workdir: Path, call: tuple[Any, ...], sender: str) -> None:  # noqa: F811
        self.scale_bits, self.chunks = 13, 1
        self.zero = zero
        self.workdir = workdir
        self.artifacts = {"settings": kzg_norm.settings, "vk": kzg_norm.vk, "srs": kzg_norm.srs}
        self.rm = SimpleNamespace(address=ROUND_MANAGER, faultedSlots=lambda round_id: 0)
        self._call, self._sender = call, sender

    def _decode(self, tx_hash: str) -> tuple[Any, str, list[Any]]:
        tx = SimpleNamespace(receiver=ROUND_MANAGER, sender=self._sender)
        sig = "submitUpdate(uint256,uint256[2][],string,uint64,(uint256[],bytes[],bytes32[],string))"
        return tx, sig, list(self._call)


@pytest.fixture(scope="module")
def norm_submission(kzg_norm, basis, updates, prev_aggregate, tmp_path_factory):  # noqa: F811
    workdir = tmp_path_factory.mktemp("norm")
    proof = prove_chunk(kzg_norm, 0, 1, BOUND, updates[0], prev_aggregate, ADDRESS, workdir)
    assert proof.flag
    (c,) = commit(updates[0], basis)
    (prev,) = commit(prev_aggregate, basis)
    return proof, c, prev


def _audit_norm_proof(norm_submission, kzg_norm, zero, tmp_path, *, proof=None, prev=None, hospital=ADDRESS):  # noqa: F811
    genuine, c, prev_point = norm_submission
    proof = genuine.proof if proof is None else proof
    call = (3, [[c.x, c.y]], "bafy-update", 17, ([BOUND], [proof], [], ""))
    sub = SubmissionRecord(slot=0, hospital=hospital, commitment=commitment_hex((c.as_uint256(),)), cid="bafy-update",
                           sample_count=17, tx="0x01")  # fmt: skip
    ra = RoundAudit(round_id=3, phase="finalized", norm_bound_sq=BOUND, opened_block=1, prev_model_commitment="0x",
                    prev_model_cid="", submissions=[sub], checks=dict.fromkeys(CHECKS))  # fmt: skip
    checks = _Checks(kzg_norm, zero, tmp_path, call, sender=hospital)
    checks._norm_proofs(ra, ((prev or prev_point).as_uint256(),))
    return ra


def test_accepted_norm_proof_re_verifies(norm_submission, kzg_norm, zero, tmp_path):  # noqa: F811
    ra = _audit_norm_proof(norm_submission, kzg_norm, zero, tmp_path)
    assert ra.findings == [] and ra.checks["norm proofs"] is True
    proof = ra.submissions[0].proof
    assert proof is not None and "verified on-chain by RoundManager at submission (submitUpdate)" in proof
    assert "re-verified off-chain by the auditor" in proof


def test_norm_proof_under_another_commitment_is_named(norm_submission, kzg_norm, zero, basis, updates, tmp_path):  # noqa: F811
    """The submission record (event and state) names another commitment than the calldata's."""
    genuine, c, prev_point = norm_submission
    (other,) = commit(updates[1], basis)
    call = (3, [[c.x, c.y]], "bafy-update", 17, ([BOUND], [genuine.proof], [], ""))
    sub = SubmissionRecord(slot=0, hospital=ADDRESS, commitment=commitment_hex((other.as_uint256(),)),
                           cid="bafy-update", sample_count=17, tx="0x01")  # fmt: skip
    ra = RoundAudit(round_id=3, phase="finalized", norm_bound_sq=BOUND, opened_block=1, prev_model_commitment="0x",
                    prev_model_cid="", submissions=[sub], checks=dict.fromkeys(CHECKS))  # fmt: skip
    _Checks(kzg_norm, zero, tmp_path, call, sender=ADDRESS)._norm_proofs(ra, (prev_point.as_uint256(),))
    assert [f.item for f in ra.findings] == [
        "submission 0 norm proofs / calldata",
        "submission 0 norm proof 0 / point 0 (C(2^13 u_c))",
    ]
    assert "discrepancies" in str(ra.submissions[0].proof)


def test_norm_proof_against_another_previous_model_is_named(norm_submission, kzg_norm, zero, basis, updates, tmp_path):  # noqa: F811
    (other,) = commit(updates[1], basis)
    ra = _audit_norm_proof(norm_submission, kzg_norm, zero, tmp_path, prev=other)
    assert [f.item for f in ra.findings] == ["submission 0 norm proof 0 / point 1 (previous model)"]
    assert ra.checks["norm proofs"] is False


def test_norm_proof_of_another_hospital_is_named(norm_submission, kzg_norm, zero, tmp_path):  # noqa: F811
    """The auditor builds the instances from the submitting hospital, as the contract does: another hospital's
    limbs, and the proof does not verify."""
    ra = _audit_norm_proof(norm_submission, kzg_norm, zero, tmp_path, hospital=OTHER)
    (f,) = ra.findings
    assert f.item == "submission 0 norm proof 0" and "ezkl.verify" in f.expected


def test_altered_norm_proof_fails_verification(norm_submission, kzg_norm, zero, tmp_path):  # noqa: F811
    proof = bytearray(norm_submission[0].proof)
    proof[len(proof) // 2] ^= 0x01
    ra = _audit_norm_proof(norm_submission, kzg_norm, zero, tmp_path, proof=bytes(proof))
    (f,) = ra.findings
    assert f.item == "submission 0 norm proof 0" and "ezkl.verify" in f.expected


def test_written_proof_file_loads_back(norm_submission, tmp_path):
    genuine = norm_submission[0]
    loaded = load_proof(write_proof_file(tmp_path / "p.json", genuine.proof, genuine.instances))
    assert (loaded.proof, loaded.instances) == (genuine.proof, genuine.instances)


class _MedianChecks(ProofChecks):
    """ProofChecks of a median round over a stubbed finalization and store (no chain, no median circuit)."""

    def __init__(self, zero: Any, workdir: Path, proof_file: bytes, call: tuple[Any, ...]) -> None:  # noqa: F811
        self.scale_bits, self.slots, self.zero, self.workdir, self.chunks = 13, 5, zero, workdir, 1
        self.rm = SimpleNamespace(address=ROUND_MANAGER)
        self.manifest = SimpleNamespace(median=None)  # type: ignore[assignment]
        self.median_artifacts = None
        self.storage = SimpleNamespace(get=lambda cid: proof_file)
        self._call = call

    def _decode(self, tx_hash: str) -> tuple[Any, str, list[Any]]:
        tx = SimpleNamespace(receiver=ROUND_MANAGER, sender=OTHER)
        sig = "finalizeMedianRound(uint256,bytes,uint256[],string,string,uint256)"
        return tx, sig, list(self._call)


def test_median_proof_points_are_checked_against_the_layout(basis, zero, updates, prev_aggregate, tmp_path):  # noqa: F811
    """The median layout on a stub proof of points only: slots 0..4 are C(2^13 u_i) of included slots or the
    previous model, point 5 the new model, and the one instance (the certificate) must be 0."""
    from eth_utils import keccak

    from zkfl_dapp.circuits.kzg import combine

    commitments = [commit(u, basis)[0] for u in updates[:4]]  # slot 4 is empty
    (prev,) = commit(prev_aggregate, basis)
    new = commitments[0]
    scaled = [combine([c], [2**13], zero) for c in commitments]
    proof = b"".join(p.to_bytes() for p in (*scaled, prev, new)) + bytes(64)
    proof_file = write_proof_file(tmp_path / "median.json", proof, (0,)).read_bytes()
    subs = [
        SubmissionRecord(
            slot=i, hospital=ADDRESS, commitment=commitment_hex((c.as_uint256(),)), cid="x", sample_count=1
        )
        for i, c in enumerate(commitments)
    ]

    def run(prev_point, certificate=0):
        ra = RoundAudit(round_id=2, phase="finalized", rule="median", opened_block=1, prev_model_commitment="0x",
                        prev_model_cid="", submissions=subs, checks=dict.fromkeys(CHECKS), proof_cid="bafy-proof",
                        proof_hash="0x" + keccak(proof).hex(), finalize_tx="0x02")  # fmt: skip
        calldata = (2, proof, [certificate], "bafy-model", "bafy-proof", 0)
        checks = _MedianChecks(zero, tmp_path, proof_file, calldata)
        return ra, checks._median_proof(ra, (prev_point.as_uint256(),), (new.as_uint256(),))

    ra, included = run(prev)
    assert included == 4 and ra.checks["median proof"] is True
    assert [(f.severity, f.item) for f in ra.findings] == [("warning", "proof (off-chain)")]  # no median circuit
    ra, _ = run(commitments[1])  # another previous model: the empty slot's point is not it
    assert [f.item for f in ra.findings if f.severity == "error"] == ["median proof / slot point 4"]
    ra, _ = run(prev, certificate=5)  # a proof of a wrong claimed median: its certificate is not 0
    assert "median certificate" in [f.item for f in ra.findings if f.severity == "error"]
