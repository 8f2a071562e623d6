"""The auditor's re-verification of a chunked deployment's chunk norm proofs, without a chain: a SMALL chunk
circuit (64 values per chunk, logrows 11, the one of tests/unit/test_kzg_chunk_norm.py, built once under
build/circuits), a 100-value model in 2 chunks, real proofs, and stubbed ``ChunkProofAccepted`` events and
``submitChunkProof`` / ``submitUpdate`` calldata. Each way a chunk proof can fail to back a submission is a
named failed check, never an exception; the manifest's chunk size is checked against ``chunks()``; the report
says what was checked where."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from zkfl_dapp.audit.deployment_checks import DeploymentChecks
from zkfl_dapp.audit.proof_checks import ChunkProofEvent, ProofChecks
from zkfl_dapp.audit.report import CHECKS, AuditReport, RoundAudit, SubmissionRecord
from zkfl_dapp.chain.views import commitment_hex, point_hash
from zkfl_dapp.circuits import kzg_chunk_norm as kc
from zkfl_dapp.circuits.kzg import commit_vectors, zero_commitment
from zkfl_dapp.core.layout import CommitmentLayout

ROOT = Path(__file__).resolve().parent.parent.parent
SMALL = kc.KzgChunkNormSpec(chunk=64, inner_cols=2)  # as tests/unit/test_kzg_chunk_norm.py: built once
MODEL_SIZE = 100  # two chunks of 64, the second zero-filled from row 36
LAYOUT = CommitmentLayout(MODEL_SIZE, SMALL.chunk, SMALL.pad_rows)
ROUND_MANAGER = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
HOSPITAL = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ROUND = 4
SUBMITTED_AT = (100, 3)  # the UpdateSubmitted log's (block, log index)
SUBMIT = "submitUpdate(uint256,uint256[2][],string,uint64)"
CHUNK = "submitChunkProof(uint256,uint256,bytes,uint256[])"


@pytest.fixture(scope="module")
def art() -> kc.KzgChunkNormArtifacts:
    return kc.ensure_kzg_chunk_norm_artifacts(SMALL, ROOT / "build" / "circuits")


@pytest.fixture(scope="module")
def data(art, tmp_path_factory) -> SimpleNamespace:
    """A previous model (2 chunk vectors at scale 2^26), an update near it, their chunk points, and the update's
    chunk proofs by HOSPITAL (plus chunk 0 proven by OTHER)."""
    rng = random.Random(11)
    basis = art.basis()
    prev = [
        tuple(rng.randint(-(2**33), 2**33) if j < SMALL.chunk and c * SMALL.chunk + j < MODEL_SIZE else 0
              for j in range(SMALL.rows))
        for c in range(LAYOUT.chunks)
    ]  # fmt: skip
    model = [round(v / 2**13) + rng.randint(-200, 200) for vec in prev for v in vec[: SMALL.chunk]][:MODEL_SIZE]
    update = LAYOUT.vectors(LAYOUT.assemble(model, [[rng.randrange(2**22) for _ in range(10)] for _ in range(2)]))
    work = tmp_path_factory.mktemp("chunk-proofs")
    proofs = [kc.prove_chunk(art, c, 2, update[c], prev[c], HOSPITAL, work / f"c{c}") for c in range(2)]
    other = kc.prove_chunk(art, 0, 2, update[0], prev[0], OTHER, work / "other")
    return SimpleNamespace(
        zero=zero_commitment(basis),
        points=tuple(p.as_uint256() for p in commit_vectors([v for vec in update for v in vec], LAYOUT, basis)),
        prev=tuple(p.as_uint256() for p in commit_vectors([v for vec in prev for v in vec], LAYOUT, basis)),
        proofs=proofs,
        other=other,
    )


class _Checks(ProofChecks):
    """ProofChecks of a chunked deployment over stubbed transactions (``txs``: hash -> (sender, method, args))."""

    def __init__(self, art: Any, zero: Any, workdir: Path, txs: dict[str, tuple[str, str, list[Any]]]) -> None:
        self.scale_bits, self.chunks, self.zero, self.workdir = 13, 2, zero, workdir
        self.artifacts = {"settings": art.settings, "vk": art.vk, "srs": art.srs}
        self.rm = SimpleNamespace(address=ROUND_MANAGER)
        self._txs = txs

    def _decode(self, tx_hash: str) -> tuple[Any, str, list[Any]]:
        sender, method, args = self._txs[tx_hash]
        return SimpleNamespace(receiver=ROUND_MANAGER, sender=sender), method, list(args)


def _event(proof: kc.KzgChunkProof, chunk: int, tx: str, at: tuple[int, int], ss: int | None = None):
    """The ChunkProofAccepted log the contract would emit for ``proof`` sent as ``chunk`` in ``tx``."""
    ss = proof.sum_of_squares if ss is None else ss
    return ChunkProofEvent(ROUND, HOSPITAL, chunk, ss, point_hash(proof.commitments[0].as_uint256()), tx, at)


def _audit(art, data, tmp_path, *, calls=None, events=None, points=None, bound=2**35) -> RoundAudit:
    """Audit one bounded round's submission 0 by HOSPITAL; ``calls`` maps chunk tx -> (chunk, proof, instances)
    (default: the genuine proofs), ``events`` the ChunkProofAccepted logs (default: one per chunk)."""
    points = data.points if points is None else points
    if calls is None:
        calls = {f"0xc{c}": (c, p.proof, p.instances) for c, p in enumerate(data.proofs)}
    if events is None:
        events = [_event(p, c, f"0xc{c}", (90 + c, 0)) for c, p in enumerate(data.proofs)]
    txs: dict[str, tuple[str, str, list[Any]]] = {
        tx: (HOSPITAL, CHUNK, [ROUND, chunk, proof, list(instances)]) for tx, (chunk, proof, instances) in calls.items()
    }
    txs["0xsub"] = (HOSPITAL, SUBMIT, [ROUND, [list(p) for p in points], "bafy-update", 17])
    sub = SubmissionRecord(slot=0, hospital=HOSPITAL, commitment=commitment_hex(points), cid="bafy-update",
                           sample_count=17, tx="0xsub")  # fmt: skip
    ra = RoundAudit(round_id=ROUND, phase="finalized", norm_bound_sq=bound, opened_block=1,
                    prev_model_commitment=commitment_hex(data.prev), prev_model_cid="", submissions=[sub],
                    checks=dict.fromkeys(CHECKS))  # fmt: skip
    _Checks(art, data.zero, tmp_path, txs)._norm_proofs(ra, data.prev, events, {0: SUBMITTED_AT})
    return ra


def _items(ra: RoundAudit) -> set[str]:
    assert all(f.check == "norm proofs" and f.severity == "error" for f in ra.findings)
    return {f.item for f in ra.findings}


def test_accepted_chunk_proofs_re_verify_and_the_submission_says_where(art, data, tmp_path):
    ra = _audit(art, data, tmp_path)
    assert ra.findings == [] and ra.checks["norm proofs"] is True
    (sub,) = ra.submissions
    total = sum(p.sum_of_squares for p in data.proofs)
    assert sub.chunk_sum_sq == total > 0
    assert sub.proof is not None
    assert "2 chunk proofs verified on-chain (ChunkProofAccepted) and re-verified by the auditor" in sub.proof
    assert f"sum of squares {total} <= bound {2**35}" in sub.proof


def test_proof_of_another_chunk_is_named(art, data, tmp_path):
    """Chunk 0's record backed by chunk 1's proof: its index, and both committed points, are not chunk 0's."""
    p1 = data.proofs[1]
    calls = {"0xc0": (0, p1.proof, p1.instances), "0xc1": (1, p1.proof, p1.instances)}
    events = [_event(p1, 0, "0xc0", (90, 0)), _event(p1, 1, "0xc1", (91, 0))]
    ra = _audit(art, data, tmp_path, calls=calls, events=events)
    items = _items(ra)
    assert {
        "submission 0 chunk proof 0 / chunk index",
        "submission 0 chunk proof 0 / point 0 (C(2^13 u_c))",
        "submission 0 chunk proof 0 / point 1 (previous model)",
    } <= items, items
    assert not any(i.startswith("submission 0 chunk proof 1") for i in items)
    assert ra.checks["norm proofs"] is False
    assert ra.submissions[0].proof is not None and "discrepancies" in ra.submissions[0].proof


def test_proof_of_another_hospital_is_named(art, data, tmp_path):
    """A proof made for another address (its limbs are constrained instances) does not back HOSPITAL's chunk."""
    calls = {"0xc0": (0, data.other.proof, data.other.instances), "0xc1": (1, *_genuine(data, 1))}
    events = [_event(data.other, 0, "0xc0", (90, 0)), _event(data.proofs[1], 1, "0xc1", (91, 0))]
    ra = _audit(art, data, tmp_path, calls=calls, events=events)
    items = _items(ra)
    assert items and all(i.startswith("submission 0 chunk proof 0 / address limb") for i in items), items


def _genuine(data, c: int) -> tuple[bytes, tuple[int, ...]]:
    return data.proofs[c].proof, data.proofs[c].instances


def test_missing_chunk_is_named(art, data, tmp_path):
    events = [_event(data.proofs[0], 0, "0xc0", (90, 0))]
    ra = _audit(art, data, tmp_path, events=events)
    (f,) = ra.findings
    assert f.item == "submission 0 chunk proofs / missing" and "each of the 2 chunks" in f.expected
    assert f.actual == "none of chunk 1"


def test_chunk_proved_only_after_the_submission_does_not_count(art, data, tmp_path):
    events = [_event(data.proofs[0], 0, "0xc0", (90, 0)), _event(data.proofs[1], 1, "0xc1", (100, 4))]
    ra = _audit(art, data, tmp_path, events=events)
    assert _items(ra) == {"submission 0 chunk proofs / missing"}


def test_understated_sum_of_squares_fails_ezkl(art, data, tmp_path):
    """An instance ss_c - 1 (and the record the contract would have made of it): ezkl rejects the proof."""
    proof, instances = _genuine(data, 1)
    understated = (instances[0] - 1, *instances[1:])
    calls = {"0xc0": (0, *_genuine(data, 0)), "0xc1": (1, proof, understated)}
    events = [_event(data.proofs[0], 0, "0xc0", (90, 0)), _event(data.proofs[1], 1, "0xc1", (91, 0), instances[0] - 1)]
    ra = _audit(art, data, tmp_path, calls=calls, events=events)
    (f,) = ra.findings
    assert f.item == "submission 0 chunk proof 1" and f.expected == "ezkl.verify accepts the chunk proof"


def test_reordered_chunk_points_are_named(art, data, tmp_path):
    """A submission whose chunk points are in another order than its proven chunks: every point 0 differs."""
    ra = _audit(art, data, tmp_path, points=(data.points[1], data.points[0]))
    assert _items(ra) == {
        "submission 0 chunk proof 0 / point 0 (C(2^13 u_c))",
        "submission 0 chunk proof 1 / point 0 (C(2^13 u_c))",
    }


def test_the_last_accepted_proof_of_a_chunk_counts(art, data, tmp_path):
    """Re-proving overwrites the contract's record: an earlier bad proof of chunk 1 does not count."""
    p0, p1 = data.proofs
    calls = {
        "0xc0": (0, p0.proof, p0.instances),
        "0xbad": (1, p0.proof, p0.instances),
        "0xc1": (1, p1.proof, p1.instances),
    }
    events = [_event(p0, 0, "0xc0", (90, 0)), _event(p0, 1, "0xbad", (90, 1)), _event(p1, 1, "0xc1", (95, 0))]
    assert _audit(art, data, tmp_path, calls=calls, events=events).findings == []
    events = [_event(p0, 0, "0xc0", (90, 0)), _event(p1, 1, "0xc1", (90, 1)), _event(p0, 1, "0xbad", (95, 0))]
    assert "submission 0 chunk proof 1 / chunk index" in _items(_audit(art, data, tmp_path, calls=calls, events=events))


def test_sum_over_the_bound_is_named(art, data, tmp_path):
    total = sum(p.sum_of_squares for p in data.proofs)
    ra = _audit(art, data, tmp_path, bound=total - 1)
    (f,) = ra.findings
    assert f.item == "submission 0 chunk proofs / sum of squares" and f.actual.startswith(f"{total} over 2")


def test_point_hash_of_the_event_is_checked(art, data, tmp_path):
    p0, p1 = data.proofs
    events = [
        _event(p0, 0, "0xc0", (90, 0)),
        ChunkProofEvent(ROUND, HOSPITAL, 1, p1.sum_of_squares, bytes(32), "0xc1", (91, 0)),
    ]
    assert _items(_audit(art, data, tmp_path, events=events)) == {"submission 0 chunk proof 1 / point 0 hash"}


# --- deployment: the manifest's chunk size against RoundManager.chunks() --------------------------------------


def _layout_check(chunks: int, manifest_chunk: int) -> tuple[AuditReport, DeploymentChecks]:
    checks = DeploymentChecks.__new__(DeploymentChecks)
    checks.chunks, checks.model_size, checks.pad_rows = chunks, MODEL_SIZE, 10
    checks.layout = CommitmentLayout.single(MODEL_SIZE, 10) if chunks == 1 else None
    report = AuditReport(chain_id=1, head_block=1, round_manager="rm", registry="r", verifier="v", circuit_cid="c")
    checks._layout_checks(report, SimpleNamespace(chunk=manifest_chunk))  # type: ignore[arg-type]
    return report, checks


def test_manifest_chunk_must_match_the_chain():
    report, checks = _layout_check(2, 64)
    assert report.deployment_findings == [] and checks.layout == LAYOUT
    for chunks, chunk in ((2, 32), (2, 0), (2, 200), (1, 64)):
        report, checks = _layout_check(chunks, chunk)
        (f,) = report.deployment_findings
        assert f.item == "circuit manifest / chunk" and report.deployment_checks["circuit manifest"] is False
        assert checks.layout is None or chunks == 1


def test_lagrange_check_is_not_applicable_for_a_chunked_model_and_says_why():
    report, checks = _layout_check(2, 64)
    checks.manifest = SimpleNamespace(basis=SimpleNamespace(lagrange=None))  # type: ignore[assignment]
    checks._lagrange_checks(report, None, None)
    assert report.deployment_checks["lagrange"] is None and report.deployment_findings == []
    (note,) = report.notes
    assert "no Lagrange file, by design" in note and "opens every model file with ezkl" in note
    assert "web UI does not check model files" in note


def test_one_vector_manifest_without_lagrange_file_is_named():
    report, checks = _layout_check(1, 0)
    checks._lagrange_checks(report, None, None)
    (f,) = report.deployment_findings
    assert f.item == "Lagrange points" and report.deployment_checks["lagrange"] is False


def test_report_says_which_proofs_were_checked_where():
    report = AuditReport(chain_id=1, head_block=9, round_manager="rm", registry="r", verifier="0xV", circuit_cid="c",
                         chunks=28, notes=["lagrange: not applicable: by design"])  # fmt: skip
    point = "0x" + "ab" * 64
    report.rounds.append(
        RoundAudit(
            round_id=1,
            phase="finalized",
            norm_bound_sq=5,
            opened_block=1,
            prev_model_commitment=point * 28,
            prev_model_cid="bafy",
            new_model_commitment=point * 28,
            new_model_cid="bafy2",
            checks=dict.fromkeys(CHECKS),
        )  # fmt: skip
    )
    md = report.to_markdown()
    assert "## Proofs: where each was checked" in md and "- lagrange: not applicable: by design" in md
    assert "chunk norm proofs (rounds [1]): one `submitChunkProof` transaction per chunk, verified on-chain" in md
    assert "re-verified by the auditor with ezkl and the published chunk circuit" in md
    assert f"(commitment `{point[:130]}… (28 chunk points)`)" in md
    single = AuditReport(chain_id=1, head_block=9, round_manager="rm", registry="r", verifier="0xV", circuit_cid="c")
    assert (
        "norm proofs (rounds none): verified on-chain by RoundManager in `submitBoundedUpdate`" in single.to_markdown()
    )
