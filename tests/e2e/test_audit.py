"""The auditor, end to end: a clean deployment audits green; every tampering is caught and named.

One consortium is built once per module (five rounds: all present, one absent hospital, one excluded
update in a round without a norm bound, one aborted, and one finalized after the abort; the rounds the
driver runs have a norm bound, so their submissions carry norm proofs); the tests only read its chain and
audit copies of its content store, each tampered in one way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import ape
import pytest

from zkfl_dapp.audit.auditor import audit, record_audit
from zkfl_dapp.audit.report import AuditReport
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.config import Settings
from zkfl_dapp.core.fixedpoint import quantize
from zkfl_dapp.core.formats import ModelFile, UpdatePayload
from zkfl_dapp.crypto.envelope import associated_data, seal
from zkfl_dapp.protocol.consortium import Consortium, Roles
from zkfl_dapp.protocol.publication import CircuitManifest, PublishedFile, lagrange_file
from zkfl_dapp.storage.embedded import EmbeddedStore
from zkfl_dapp.storage.unixfs import compute_cid

from .rounds import open_round, submit_honestly
from .test_scripts import _ape_run, _free_port

pytestmark = pytest.mark.e2e


def _round_with_excluded_update(c: Consortium) -> None:
    round_id, model, key = open_round(c)
    submit_honestly(c, round_id, model, key, skip=2)
    cheat = c.hospitals[2]
    honest = cheat.prepare_update(round_id, model, key)
    forged = UpdatePayload(
        round_id=round_id,
        hospital=cheat.address,
        sample_count=honest.sample_count,
        scale_bits=13,
        values=(*(v + 100 for v in quantize(honest.local_params, 13)), *(0,) * c.enclave.circuits.pad_rows),
    )  # does not open the commitment it is submitted under
    points = b"".join(p.to_bytes() for p in honest.commitment)
    ad = associated_data(round_id, cheat.address, points, enclave_key_hash=hashlib.sha256(key).digest())
    envelope = seal(key, forged.to_bytes(), ad)
    cheat.submit(c.deployment.round_manager, dataclasses.replace(honest, cid=str(c.storage.put(envelope))))
    final = c.enclave.finalize(c.deployment.round_manager, round_id)
    assert final.excluded_mask == 1 << 4  # the cheat submitted last: slot 4


def _aborted_round(c: Consortium) -> None:
    rm = c.deployment.round_manager
    round_id, model, key = open_round(c)
    for h in c.hospitals[:2]:
        h.submit(rm, h.prepare_update(round_id, model, key))
    ape.chain.pending_timestamp = rm.getRound(round_id).deadline + 1
    rm.abortRound(round_id, sender=c.roles.hospitals[0])


@pytest.fixture(scope="module")
def consortium(tmp_path_factory, suite, admin, aggregator, hospitals, auditor) -> Consortium:
    settings = Settings(workdir=tmp_path_factory.mktemp("audit") / "consortium", hospitals=5)
    roles = Roles(admin, aggregator, tuple(hospitals[:5]), auditor)
    c = Consortium.bootstrap(settings, ape.project, ape.chain, roles, EmbeddedStore(settings.store_dir), suite)
    c.run_round()  # 1: every hospital (a norm bound: norm proofs)
    c.run_round(absent=frozenset({3}))  # 2: an empty slot
    _round_with_excluded_update(c)  # 3: an excluded update, no norm bound
    _aborted_round(c)  # 4: aborted, the model stays
    c.run_round(rule="median")  # 5: the median rule (a median proof), continues from round 3's model
    return c


@pytest.fixture(scope="module")
def clean_report(consortium, tmp_path_factory) -> AuditReport:
    return audit(consortium.deployment.round_manager, consortium.storage, workdir=tmp_path_factory.mktemp("work"))


def _store_copy(c: Consortium, tmp_path: Path) -> EmbeddedStore:
    root = tmp_path / "store"
    assert isinstance(c.storage, EmbeddedStore)
    shutil.copytree(c.storage.root, root)
    return EmbeddedStore(root)


def _audit(c: Consortium, store, tmp_path: Path) -> AuditReport:
    return audit(c.deployment.round_manager, store, workdir=tmp_path / "work")


def _block(store: EmbeddedStore, cid: str) -> Path:
    path = store.root / "blocks" / str(cid)
    assert path.exists(), "small files are one raw block named by their CID"
    return path


def _errors(report: AuditReport) -> set[tuple[int | None, str]]:
    return {(f.round_id, f.item) for f in report.errors}


class _ServesOtherContent:
    """A store that answers one CID with other bytes (as a lying gateway would), without the CID check."""

    def __init__(self, inner: EmbeddedStore, cid: str, content: bytes) -> None:
        self.inner, self.cid, self.content = inner, cid, content

    def get(self, cid):
        return self.content if str(cid) == self.cid else self.inner.get(cid)

    def has(self, cid):
        return self.inner.has(cid)

    def put(self, data):
        return self.inner.put(data)

    def pin(self, cid):
        return self.inner.pin(cid)


def test_clean_deployment_audits_green(clean_report, consortium):
    r = clean_report
    assert r.passed and r.findings == [], [f.line() for f in r.findings]
    assert r.deployment_checks == {
        "circuit manifest": True,
        "basis": True,
        "lagrange": True,
        "genesis model": True,
        "verifier": True,
        "enclave key": True,
        "receipts": True,
        "predictions": None,  # no PredictionRegistry recorded on-chain: not applicable (and a note says so)
    }
    assert [x.phase for x in r.rounds] == ["finalized", "finalized", "finalized", "aborted", "finalized"]
    for x in r.rounds:
        if x.phase == "finalized":
            for c in ("weights", "commitment", "model", "CIDs", "lineage"):
                assert x.checks[c] is True, (x.round_id, x.checks)
            # FedAvg: derived on-chain, no proof; the median round's proof re-verified with the published circuit
            assert x.checks["median proof"] is (True if x.round_id == 5 else None), (x.round_id, x.checks)
        else:
            assert x.checks["lineage"] is True and x.checks["commitment"] is None and x.checks["model"] is None
    # the rounds the driver ran had a norm bound: every submission's norm proof was re-verified from calldata
    assert [x.checks["norm proofs"] for x in r.rounds] == [True, True, None, None, True]
    assert all(x.norm_bound_sq > 0 for x in (r.round(1), r.round(2), r.round(5))) and r.round(3).norm_bound_sq == 0
    # rounds the driver ran have a published report that agrees with the chain; 3 and 4 were played by hand
    assert [x.checks["report"] for x in r.rounds] == [True, True, None, None, True]
    # and their bounds follow the published policy (round 5's from round 2's published figures)
    assert [x.checks["policy"] for x in r.rounds] == [True, True, None, None, True]
    assert r.enclave["attested"] is False and r.enclave["kind"] == "development"  # labelled as such, in red
    assert [k["status"] for k in r.enclave["keys"]] == ["development"]
    assert "RED: development enclave: not attested" in r.enclave_line()  # what the audit commands print
    assert [x.included_count for x in r.rounds] == [5, 4, 4, 0, 5]
    assert [s.slot for s in r.round(3).submissions if s.excluded] == [4]
    # lineage across the abort: round 5 starts from round 3's model
    assert r.round(5).prev_model_cid == r.round(3).new_model_cid == r.round(4).prev_model_cid
    assert (r.round(5).prev_model_round, r.round(1).prev_model_round) == (3, 0)
    admitted = [(m.role, m.name) for m in r.membership if m.action == "admitted"]
    assert ("aggregator", "aggregator-enclave") in admitted and ("auditor", "auditor-0") in admitted
    assert sum(1 for role, _ in admitted if role == "hospital") == 5
    assert any(m.action == "enclave key" for m in r.membership)
    md = r.to_markdown()
    assert "PASSED" in md and "| 5 | finalized | 5 | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ | ✓ |" in md
    assert "| 3 | finalized | 4 | ✓ | ✓ | – | – | ✓ | ✓ | ✓ | – | – |" in md
    assert "derived on-chain" in md and "re-derived by the auditor" in md
    # which proofs were checked where: on-chain, and again by the auditor
    assert "## Proofs: where each was checked" in md
    sites = "norm proofs (rounds [1, 2, 5]): one per chunk (1) within its budget, verified on-chain by RoundManager"
    assert f"{sites} in `submitUpdate`" in md
    assert "median proof (rounds [5]): verified on-chain by RoundManager in `finalizeMedianRound`" in md
    for x in (r.round(1), r.round(2), r.round(5)):
        assert all("verified on-chain by RoundManager" in str(s.proof) for s in x.submissions), x.submissions
    assert all(s.proof is None for s in r.round(3).submissions)  # no norm bound, no proof
    assert r.chunks == 1 and len(r.notes) == 1 and r.notes[0].startswith("no PredictionRegistry recorded on-chain")
    assert "**RED: development enclave: not attested, key readable by whoever holds the work folder" in md
    assert AuditReport.model_validate_json(r.to_json()).passed


def test_replaced_model_file_is_named(consortium, clean_report, tmp_path):
    store = _store_copy(consortium, tmp_path)
    cid = clean_report.round(2).new_model_cid
    _block(store, cid).write_bytes(b'{"format":"zkfl-model/v1","values":[1,2,3]}')
    report = _audit(consortium, store, tmp_path)
    assert _errors(report) == {(2, "model file")}, [f.line() for f in report.errors]
    assert report.round(2).checks["model"] is False and report.round(2).checks["commitment"] is True
    (f,) = report.errors
    assert cid in f.expected and "does not match its CID" in f.actual


def test_model_file_that_does_not_open_its_commitment_is_named(consortium, clean_report, tmp_path):
    """Served without a CID check (as a lying gateway would), a well-formed model file with other values is
    caught only by opening the round's commitment."""
    cid = str(clean_report.round(1).new_model_cid)
    genuine = ModelFile.parse(consortium.storage.get(cid))
    other = genuine.model_copy(update={"values": tuple(v + 1 for v in genuine.values)})
    report = _audit(consortium, _ServesOtherContent(consortium.storage, cid, other.to_bytes()), tmp_path)
    assert _errors(report) == {(1, "model file")}, [f.line() for f in report.errors]
    (f,) = report.errors
    assert "opening the commitment" in f.expected and "do not open" in f.actual
    assert report.round(1).checks["model"] is False and report.round(1).checks["commitment"] is True


def test_swapped_verifying_key_is_named(consortium, clean_report, suite, tmp_path):
    store = _store_copy(consortium, tmp_path)
    manifest = CircuitManifest.parse(store.get(clean_report.circuit_cid))
    other_vk = bytearray(suite.norm.vk.read_bytes())
    other_vk[100:132] = bytes(32)  # another verifying key
    _block(store, manifest.norm.vk.cid).write_bytes(bytes(other_vk))
    report = _audit(consortium, store, tmp_path)
    assert (None, "circuit manifest / vk") in _errors(report)
    assert report.deployment_checks["circuit manifest"] is False
    assert report.deployment_checks["basis"] is False  # the basis cannot be recomputed without the vk
    bounded = [report.round(i) for i in (1, 2, 5)]
    assert all(x.checks["norm proofs"] is False for x in bounded)  # nor can the norm proofs be verified
    assert report.round(3).checks["norm proofs"] is None


def test_verifying_key_served_with_other_content_is_named(consortium, clean_report, tmp_path):
    """Even a store that skips CID checks cannot pass a different vk: the manifest's SHA-256 catches it."""
    manifest = CircuitManifest.parse(consortium.storage.get(clean_report.circuit_cid))
    store = _ServesOtherContent(consortium.storage, manifest.norm.vk.cid, b"not the vk")
    report = _audit(consortium, store, tmp_path)
    (f,) = [f for f in report.errors if f.item == "circuit manifest / vk"]
    assert manifest.norm.vk.sha256 in f.expected


def test_statistics_served_with_other_content_are_named(consortium, clean_report, tmp_path):
    """The published standardisation statistics are checked like every other file the manifest names."""
    manifest = CircuitManifest.parse(consortium.storage.get(clean_report.circuit_cid))
    assert manifest.statistics is not None and clean_report.deployment_checks["circuit manifest"] is True
    store = _ServesOtherContent(consortium.storage, manifest.statistics.cid, b'{"format":"zkfl-stats/v1"}')
    report = _audit(consortium, store, tmp_path)
    (f,) = [f for f in report.errors if f.item == "circuit manifest / statistics"]
    assert manifest.statistics.sha256 in f.expected and report.deployment_checks["circuit manifest"] is False


def test_a_manifest_naming_malformed_statistics_is_named(consortium, clean_report, tmp_path):
    manifest = CircuitManifest.parse(consortium.storage.get(clean_report.circuit_cid))
    store = _store_copy(consortium, tmp_path)
    bad = b'{"format":"zkfl-stats/v1"}'
    entry = PublishedFile(cid=str(store.put(bad)), sha256=hashlib.sha256(bad).hexdigest(), size=len(bad))
    lying = _ServesOtherContent(
        store, clean_report.circuit_cid, manifest.model_copy(update={"statistics": entry}).to_bytes()
    )
    report = _audit(consortium, lying, tmp_path)
    (f,) = [f for f in report.errors if f.item == "circuit manifest / statistics"]
    assert "zkfl-stats/v1" in f.expected and "invalid at" in f.actual


def _serve_manifest(c: Consortium, report: AuditReport, tmp_path: Path, manifest: CircuitManifest):
    """A store copy that answers the deployment's manifest CID with ``manifest`` (a lying gateway)."""
    return _ServesOtherContent(_store_copy(c, tmp_path), report.circuit_cid, manifest.to_bytes())


def test_wrong_lagrange_file_is_named(consortium, clean_report, tmp_path):
    """A Lagrange file with two points swapped, published with its own (matching) SHA-256: only the spot
    checks of K + sum_j S_j L_j against kzg.commit catch it."""
    genuine = CircuitManifest.parse(consortium.storage.get(clean_report.circuit_cid))
    points = [(int(x, 16), int(y, 16)) for x, y in json.loads(consortium.storage.get(genuine.basis.lagrange.cid))]
    points[0], points[1] = points[1], points[0]
    store = _store_copy(consortium, tmp_path)
    data = lagrange_file(points)
    published = genuine.basis.lagrange.model_copy(
        update={"cid": str(store.put(data)), "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    )
    manifest = genuine.model_copy(update={"basis": genuine.basis.model_copy(update={"lagrange": published})})
    report = _audit(consortium, _ServesOtherContent(store, clean_report.circuit_cid, manifest.to_bytes()), tmp_path)
    errors = _errors(report)
    assert {
        (None, "Lagrange points / the current model"),
        (None, "Lagrange points / a random vector over every row"),
    } <= errors
    assert all(f.round_id is None and f.check == "lagrange" for f in report.errors), [f.line() for f in report.errors]
    assert report.deployment_checks["lagrange"] is False
    assert all(ok is not False for name, ok in report.deployment_checks.items() if name != "lagrange")


def test_wrong_basis_digest_is_named(consortium, clean_report, tmp_path):
    genuine = CircuitManifest.parse(consortium.storage.get(clean_report.circuit_cid))
    wrong = "00" * 32
    manifest = genuine.model_copy(update={"basis": genuine.basis.model_copy(update={"digest": wrong})})
    report = _audit(consortium, _serve_manifest(consortium, clean_report, tmp_path, manifest), tmp_path)
    assert _errors(report) == {(None, "basis digest"), (None, "basis digest (recomputed)")}, [
        f.line() for f in report.errors
    ]
    assert report.deployment_checks["basis"] is False
    f = next(f for f in report.errors if f.item == "basis digest")
    assert wrong in f.actual and genuine.basis.digest in f.expected  # the chain's digest is the genuine one


def test_unresolvable_ciphertext_cid_is_named(consortium, clean_report, tmp_path):
    store = _store_copy(consortium, tmp_path)
    sub = clean_report.round(1).submissions[2]
    _block(store, sub.cid).unlink()
    report = _audit(consortium, store, tmp_path)
    assert _errors(report) == {(1, "submission 2 ciphertext")}, [f.line() for f in report.errors]
    (f,) = report.errors
    assert sub.cid in f.expected and "does not resolve" in f.actual
    assert report.round(1).checks["CIDs"] is False


def test_missing_ciphertext_of_an_excluded_update_is_only_a_warning(consortium, clean_report, tmp_path):
    store = _store_copy(consortium, tmp_path)
    sub = clean_report.round(3).submissions[4]
    assert sub.excluded
    _block(store, sub.cid).unlink()
    report = _audit(consortium, store, tmp_path)
    assert report.passed
    # and its exclusion's evidence cannot be re-checked without it: a warning too, not the aggregator's fault
    assert [(f.round_id, f.item, f.severity) for f in report.findings] == [
        (3, "submission 4 ciphertext", "warning"),
        (3, f"exclusion of submission 4 ({sub.hospital})", "warning"),
    ]


def _report_cids(c: Consortium, round_id: int) -> list[str]:
    rm = c.deployment.round_manager
    logs = rm.RoundReportPublished.range(0, ape.chain.blocks.height + 1)
    return [str(log.reportCid) for log in logs if int(log.roundId) == round_id]


def test_edited_round_report_is_named(consortium, clean_report, tmp_path):
    store = _store_copy(consortium, tmp_path)
    (cid,) = _report_cids(consortium, 1)
    _block(store, cid).write_bytes(_block(store, cid).read_bytes().replace(b'"accuracy": 0.', b'"accuracy": 1.'))
    report = _audit(consortium, store, tmp_path)
    assert _errors(report) == {(1, f"round report {cid}")}, [f.line() for f in report.errors]
    assert report.round(1).checks["report"] is False
    assert "does not match its CID" in report.errors[0].actual


def test_deleted_round_report_is_named(consortium, clean_report, tmp_path):
    store = _store_copy(consortium, tmp_path)
    (cid,) = _report_cids(consortium, 2)
    _block(store, cid).unlink()
    report = _audit(consortium, store, tmp_path)
    assert _errors(report) == {(2, f"round report {cid}")}, [f.line() for f in report.errors]
    assert "does not resolve" in report.errors[0].actual
    assert report.round(5).checks["policy"] is None  # its bound derives from round 2's missing figures


def test_round_report_that_misstates_the_model_is_named(consortium, clean_report, tmp_path):
    """Served without a CID check (as a lying gateway would), a report naming another model is caught by
    comparing it with the chain."""
    (cid,) = _report_cids(consortium, 5)
    genuine = json.loads(consortium.storage.get(cid))
    lying = {**genuine, "model_cid": clean_report.round(1).new_model_cid, "rule": "fedavg"}
    report = _audit(consortium, _ServesOtherContent(consortium.storage, cid, json.dumps(lying).encode()), tmp_path)
    assert _errors(report) == {(5, f"round report {cid} / model CID"), (5, f"round report {cid} / rule")}


def test_deleted_enclave_key_is_named(consortium, clean_report, tmp_path):
    store = _store_copy(consortium, tmp_path)
    _, key_cid, _ = consortium.deployment.registry.enclaveKey()
    _block(store, str(key_cid)).unlink()
    report = _audit(consortium, store, tmp_path)
    assert _errors(report) == {(None, "enclave key file")}, [f.line() for f in report.errors]
    assert report.deployment_checks["enclave key"] is False


def test_deleted_enclave_evidence_is_named(consortium, clean_report, tmp_path):
    store = _store_copy(consortium, tmp_path)
    _, evidence_cid, _ = consortium.deployment.registry.enclaveEvidence()
    _block(store, str(evidence_cid)).unlink()
    report = _audit(consortium, store, tmp_path)
    (block,) = [k["block"] for k in clean_report.enclave["keys"]]
    assert _errors(report) == {(None, f"enclave evidence {evidence_cid} (block {block})")}, report.errors
    assert report.deployment_checks["enclave key"] is False and report.enclave["attested"] is False


def test_record_puts_verdicts_on_chain(consortium, clean_report, auditor, tmp_path):
    rm = consortium.deployment.round_manager
    start = ape.chain.blocks.height + 1
    recorded = record_audit(clean_report, rm, consortium.storage, auditor)
    assert sorted(recorded) == [1, 2, 3, 4, 5]
    store = _store_copy(consortium, tmp_path)
    _block(store, clean_report.round(2).new_model_cid).write_bytes(b"tampered")
    bad = _audit(consortium, store, tmp_path)
    bad_cids = record_audit(bad, rm, store, auditor)

    logs = list(rm.AuditRecorded.range(start, ape.chain.blocks.height + 1))
    verdicts = [(int(log.roundId), bool(log.passed), str(log.reportCid)) for log in logs]
    assert verdicts[:5] == [(i, True, recorded[i]) for i in range(1, 6)]
    assert verdicts[5:] == [(i, i != 2, bad_cids[i]) for i in range(1, 6)]
    assert all(str(log.auditor) == auditor.address for log in logs)
    assert AuditReport.model_validate_json(consortium.storage.get(recorded[1])).passed
    assert not AuditReport.model_validate_json(store.get(bad_cids[2])).passed
    assert compute_cid(bad.to_json().encode()) == bad_cids[2]


def test_receipt_whose_report_is_missing_is_named(consortium, clean_report, auditor, tmp_path):
    """Runs after the receipts above: an audit receipt must point at a report that exists and agrees."""
    rm = consortium.deployment.round_manager
    missing = str(compute_cid(b"a report nobody stored"))
    rm.recordAudit(1, True, missing, sender=auditor)
    report = _audit(consortium, consortium.storage, tmp_path)
    item = f"audit receipt of round 1 ({missing})"
    assert (None, item) in _errors(report)
    assert report.deployment_checks["receipts"] is False


def test_ape_run_audit_on_persisted_deployment(tmp_path):
    workdir = tmp_path / "w"
    common = ["--workdir", str(workdir), "--anvil-port", str(_free_port())]
    for step in (("deploy",), ("round", "--absent", "1")):
        done = _ape_run(*step, *common)
        assert done.returncode == 0, done.stderr[-3000:]

    clean = _ape_run("audit", *common, "--record")
    assert clean.returncode == 0, clean.stderr[-3000:] + clean.stdout[-3000:]
    assert "round  phase      included  weights  commitment  norm proofs  median proof" in clean.stdout
    assert "1      finalized  4         ✓" in clean.stdout and "audit passed" in clean.stdout
    assert (workdir / "audit" / "audit.json").exists() and (workdir / "audit" / "audit.md").exists()
    assert "recorded 1 verdicts on-chain" in clean.stderr

    report = AuditReport.model_validate_json((workdir / "audit" / "audit.json").read_text())
    model_block = workdir / "ipfs" / "blocks" / str(report.round(1).new_model_cid)
    model_block.write_bytes(b"tampered")
    tampered = _ape_run("audit", *common)
    assert tampered.returncode == 1, tampered.stdout[-3000:]
    assert "round 1: model file: expected the global model under" in tampered.stdout
    assert "AUDIT FAILED" in tampered.stderr and "Traceback" not in tampered.stderr


def test_rolled_back_round_is_reported_as_such(consortium, tmp_path):
    """Runs last (it adds a round): a round whose model file vanished is rolled back by the hospitals'
    reports; the audit reports it as rolled back, and the current model is round 5's again."""
    c = consortium
    c.run_round()  # 6
    rm = c.deployment.round_manager
    cid = read_round(rm, 6).new_model_cid
    assert isinstance(c.storage, EmbeddedStore)
    _block(c.storage, cid).unlink()
    assert c.recover_unavailable_model()
    report = _audit(c, c.storage, tmp_path)
    r6 = report.round(6)
    assert r6.phase == "rolled back" and r6.new_model_cid == cid
    assert r6.checks["lineage"] is True and all(r6.checks[k] is None for k in ("weights", "commitment", "model"))
    assert [f.line() for r in report.rounds for f in r.findings if f.severity == "error"] == []
    assert int(rm.currentModel()[1]) == 5


def test_altered_median_proof_file_is_named(consortium, clean_report, tmp_path):
    """The published median proof must be the one the chain accepted (its keccak is proofHash)."""
    cid = clean_report.round(5).proof_cid
    genuine = json.loads(consortium.storage.get(cid))
    flipped = bytearray(bytes.fromhex(genuine["hex_proof"].removeprefix("0x")))
    flipped[400] ^= 1
    altered = {**genuine, "hex_proof": "0x" + flipped.hex(), "proof": list(flipped)}
    report = _audit(consortium, _ServesOtherContent(consortium.storage, cid, json.dumps(altered).encode()), tmp_path)
    assert (5, "proof file hash") in _errors(report), [f.line() for f in report.errors]


def test_bound_that_does_not_follow_the_policy_is_named(consortium, clean_report, tmp_path):
    """Round 5's bound derives from round 2's published bound and norm statistic: a report of round 2 claiming
    another count (served as a lying gateway would) makes round 5's bound a policy violation."""
    (cid,) = _report_cids(consortium, 2)
    genuine = json.loads(consortium.storage.get(cid))
    lying = {**genuine, "norm_within_noised": genuine["norm_within_noised"] + 10}
    report = _audit(consortium, _ServesOtherContent(consortium.storage, cid, json.dumps(lying).encode()), tmp_path)
    assert (5, "norm bound (normBoundSq)") in _errors(report), [f.line() for f in report.errors]
    assert report.round(5).checks["policy"] is False


def test_exclusion_whose_evidence_file_is_missing_names_the_aggregator(consortium, clean_report, tmp_path):
    rm = consortium.deployment.round_manager
    (declared,) = [
        dict(log.event_arguments)
        for log in rm.ExclusionDeclared.range(0, ape.chain.blocks.head.number + 1)
        if int(log.event_arguments["roundId"]) == 3
    ]
    assert int(declared["slot"]) == 4 and clean_report.round(3).passed  # the honest exclusion's evidence holds
    store = _store_copy(consortium, tmp_path)
    _block(store, declared["evidenceCid"]).unlink()
    report = _audit(consortium, store, tmp_path)
    (finding,) = [f for f in report.errors if f.item.startswith("exclusion of submission 4")]
    assert finding.round_id == 3 and "not served" in finding.actual
    assert consortium.roles.aggregator.address in finding.actual
