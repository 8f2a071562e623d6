"""The auditor's re-verification of a chunked deployment's norm proofs, without a chain: a SMALL chunk circuit
(64 values per chunk, logrows 11, the one of tests/unit/test_kzg_chunk_norm.py, built once under
build/circuits), a 100-value model in 2 chunks, real proofs, stubbed ``submitUpdate`` calldata (its norm claim:
the proofs inline, or their hashes and a proof bundle in a stubbed store). Each way a claim can fail to back a
submission is a named failed check, never an exception; a slot a challenge excluded is reported, not a finding;
the manifest's chunk size is checked against ``chunks()``; the report says what was checked where."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from zkfl_dapp.audit.deployment_checks import DeploymentChecks
from zkfl_dapp.audit.proof_checks import ProofChecks
from zkfl_dapp.audit.report import CHECKS, AuditReport, RoundAudit, SubmissionRecord
from zkfl_dapp.chain.norm_claims import proof_bundle, proof_hash
from zkfl_dapp.chain.views import commitment_hex
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
SUBMIT = "submitUpdate(uint256,uint256[2][],string,uint64,(uint256[],bytes[],bytes32[],string))"
BOUND = 2**35


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
    budgets = kc.chunk_budgets([kc.chunk_sum_of_squares(SMALL, update[c], prev[c]) for c in range(2)], BOUND)
    proofs = [kc.prove_chunk(art, c, 2, budgets[c], update[c], prev[c], HOSPITAL, work / f"c{c}") for c in range(2)]
    other = kc.prove_chunk(art, 0, 2, budgets[0], update[0], prev[0], OTHER, work / "other")
    return SimpleNamespace(
        zero=zero_commitment(basis),
        points=tuple(p.as_uint256() for p in commit_vectors([v for vec in update for v in vec], LAYOUT, basis)),
        prev=tuple(p.as_uint256() for p in commit_vectors([v for vec in prev for v in vec], LAYOUT, basis)),
        proofs=proofs,
        other=other,
    )


class _Checks(ProofChecks):
    """ProofChecks of a chunked deployment over one stubbed submission transaction and a stubbed store."""

    def __init__(self, art: Any, zero: Any, workdir: Path, call: list[Any], store: dict[str, bytes], faulted: int):
        self.scale_bits, self.chunks, self.zero, self.workdir = 13, 2, zero, workdir
        self.artifacts = {"settings": art.settings, "vk": art.vk, "srs": art.srs}
        self.rm = SimpleNamespace(address=ROUND_MANAGER, faultedSlots=lambda round_id: faulted)
        self.storage = SimpleNamespace(get=lambda cid: store[cid])  # type: ignore[assignment]
        self._call = call

    def _decode(self, tx_hash: str) -> tuple[Any, str, list[Any]]:
        return SimpleNamespace(receiver=ROUND_MANAGER, sender=HOSPITAL), SUBMIT, list(self._call)


def _audit(art, data, tmp_path, *, proofs=None, budgets=None, optimistic=False, store=None, faulted=0):
    """Audit one bounded round's submission 0 by HOSPITAL whose claim carries ``proofs`` (default: the genuine
    ones) with ``budgets`` (default: theirs), inline or (``optimistic``) as hashes and a bundle in ``store``."""
    proofs = data.proofs if proofs is None else proofs
    budgets = [p.budget for p in data.proofs] if budgets is None else budgets
    if optimistic:
        store = {"bafy-bundle": proof_bundle(proofs)} if store is None else store
        claim = (budgets, [], [proof_hash(p.proof) for p in proofs], "bafy-bundle")
    else:
        store, claim = {}, (budgets, [p.proof for p in proofs], [], "")
    call = [ROUND, [list(p) for p in data.points], "bafy-update", 17, claim]
    sub = SubmissionRecord(slot=0, hospital=HOSPITAL, commitment=commitment_hex(data.points), cid="bafy-update",
                           sample_count=17, tx="0xsub")  # fmt: skip
    ra = RoundAudit(round_id=ROUND, phase="finalized", norm_bound_sq=BOUND, opened_block=1,
                    prev_model_commitment=commitment_hex(data.prev), prev_model_cid="", submissions=[sub],
                    checks=dict.fromkeys(CHECKS))  # fmt: skip
    _Checks(art, data.zero, tmp_path, call, store, faulted)._norm_proofs(ra, data.prev)
    return ra


def _items(ra: RoundAudit) -> set[str]:
    assert all(f.check == "norm proofs" and f.severity == "error" for f in ra.findings)
    return {f.item for f in ra.findings}


def test_inline_chunk_proofs_re_verify_and_the_submission_says_where(art, data, tmp_path):
    ra = _audit(art, data, tmp_path)
    assert ra.findings == [] and ra.checks["norm proofs"] is True
    (sub,) = ra.submissions
    assert sub.chunk_sum_sq == BOUND  # chunk_budgets hands the whole bound out
    assert "2 norm proofs (one per chunk)" in str(sub.proof) and "verified on-chain by RoundManager" in str(sub.proof)


def test_bundled_chunk_proofs_re_verify_off_chain(art, data, tmp_path):
    ra = _audit(art, data, tmp_path, optimistic=True)
    assert ra.findings == []
    assert "verified off-chain by the auditor from the proof bundle bafy-bundle" in str(ra.submissions[0].proof)
    assert "not challenged" in str(ra.submissions[0].proof)


def test_proofs_swapped_between_chunks_are_named(art, data, tmp_path):
    ra = _audit(art, data, tmp_path, proofs=data.proofs[::-1])
    assert "submission 0 norm proof 0 / point 0 (C(2^13 u_c))" in _items(ra)


def test_another_hospitals_proof_fails_verification(art, data, tmp_path):
    ra = _audit(art, data, tmp_path, proofs=[data.other, data.proofs[1]])
    assert _items(ra) == {"submission 0 norm proof 0"}


def test_budgets_over_the_bound_are_named(art, data, tmp_path):
    budgets = [data.proofs[0].budget, data.proofs[1].budget + 1]
    assert "submission 0 norm proofs / budgets" in _items(_audit(art, data, tmp_path, budgets=budgets))


def test_a_bundle_whose_proof_is_not_the_posted_one_is_named(art, data, tmp_path):
    tampered = bytearray(data.proofs[1].proof)
    tampered[900] ^= 1
    bundle = proof_bundle([data.proofs[0], SimpleNamespace(proof=bytes(tampered), instances=())])
    ra = _audit(art, data, tmp_path, optimistic=True, store={"bafy-bundle": bundle})
    assert "submission 0 norm proofs / proof bundle" in _items(ra)


def test_an_unavailable_bundle_is_named(art, data, tmp_path):
    from zkfl_dapp.exceptions import StorageError

    class _Gone(dict):
        def __missing__(self, cid):
            raise StorageError(f"{cid}: not found")

    ra = _audit(art, data, tmp_path, optimistic=True, store=_Gone())
    assert "submission 0 norm proofs / proof bundle" in _items(ra)


def test_a_challenged_submission_is_reported_not_found_again(art, data, tmp_path):
    """The chain already excluded it (faultedSlots): its false proof is reported, not a finding."""
    ra = _audit(art, data, tmp_path, optimistic=True, faulted=1)
    assert ra.findings == [] and "CHALLENGED" in str(ra.submissions[0].proof)


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
    assert "norm proofs (rounds [1]): one per chunk (28) within its budget, verified on-chain" in md
    assert "with ezkl and the published norm circuit" in md
    assert f"(commitment `{point[:130]}… (28 chunk points)`)" in md
    optimistic = AuditReport(chain_id=1, head_block=9, round_manager="rm", registry="r", verifier="0xV",
                             circuit_cid="c", chunks=28, challenge_window=10800)  # fmt: skip
    assert "posted as hashes with a challenge window of 10800 s" in optimistic.to_markdown()
