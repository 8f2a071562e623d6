"""A chunked consortium end to end through the real scripts: ``ape run demo`` commits and norm-proves every
update chunk by chunk (chunk proofs verified on-chain, one transaction each), then ``ape run audit``
re-derives every chunk of each aggregate, re-verifies every chunk proof from its calldata and passes.

``ZKFL_CHUNK_SIZE=16`` puts the 31-parameter model in 2 chunks of the small chunk circuit (the same code path
as the 28 chunks of 4,096 values of ``make demo-large``, in seconds).
"""

from __future__ import annotations

import pytest

from zkfl_dapp.audit.report import AuditReport

from .test_scripts import _ape_run, _free_port

pytestmark = pytest.mark.e2e


def test_chunked_demo_then_audit_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("ZKFL_CHUNK_SIZE", "16")
    workdir = tmp_path / "w"
    common = ["--workdir", str(workdir), "--anvil-port", str(_free_port())]
    demo = _ape_run("demo", "--rounds", "2", "--dropout", "", *common)
    assert demo.returncode == 0, demo.stderr[-3000:] + demo.stdout[-3000:]
    assert "chunk 2 of 2 proven" in demo.stderr + demo.stdout

    audit = _ape_run("audit", *common)
    assert audit.returncode == 0, audit.stderr[-3000:] + audit.stdout[-3000:]
    assert "audit passed" in audit.stdout
    report = AuditReport.model_validate_json((workdir / "audit" / "audit.json").read_text())
    assert report.chunks == 2
    for round_id in (1, 2):
        r = report.round(round_id)
        assert r.phase == "finalized" and r.checks["commitment"] is True and r.checks["model"] is True
        assert len(r.submissions) == 5
        assert all(s.chunk_sum_sq is not None and s.chunk_sum_sq > 0 for s in r.submissions)
    assert [f.line() for r in report.rounds for f in r.findings if f.severity == "error"] == []
    markdown = (workdir / "audit" / "audit.md").read_text()
    assert "chunk" in markdown and "by the auditor" in markdown  # where each norm proof was checked
