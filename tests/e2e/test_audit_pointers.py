"""`ape run audit` finds every contract of a deployment from the chain: the PredictionRegistry is the one the
ConsortiumRegistry records (a leftover or forged ``prediction-registry.json`` changes nothing; deleting it skips
nothing), and a deployment record naming a contract that is no RoundManager is one clear line, not a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_scripts import _ape_run, _free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_ape_run_audit_reads_the_prediction_registry_from_the_chain(tmp_path):
    workdir = tmp_path / "w"
    common = ["--workdir", str(workdir), "--anvil-port", str(_free_port())]
    for step in (("demo", "--rounds", "1"), ("predict", "--patient", str(ROOT / "examples" / "patient.json"))):
        done = _ape_run(*step, *common)
        assert done.returncode == 0, done.stderr[-3000:]
    assert not (workdir / "prediction-registry.json").exists()  # recorded on-chain only

    clean = _ape_run("audit", *common)
    assert clean.returncode == 0, clean.stderr[-3000:] + clean.stdout[-3000:]
    assert "deployment predictions: ✓" in clean.stdout and "audit passed" in clean.stdout

    # A local pointer file naming another contract (what the old audit trusted) is not read at all.
    contracts = json.loads((workdir / "deployment.json").read_text())["contracts"]
    forged = {"contracts": {"PredictionRegistry": contracts["ConsortiumRegistry"]}}
    (workdir / "prediction-registry.json").write_text(json.dumps(forged))
    again = _ape_run("audit", *common)
    assert again.returncode == 0 and "deployment predictions: ✓" in again.stdout, again.stderr[-3000:]

    # A deployment record naming a contract that is no RoundManager: one line, no traceback.
    record = json.loads((workdir / "deployment.json").read_text())
    record["contracts"]["RoundManager"] = contracts["ConsortiumRegistry"]
    (workdir / "deployment.json").write_text(json.dumps(record))
    wrong = _ape_run("audit", *common)
    assert wrong.returncode == 1, wrong.stdout[-3000:]
    assert "is not a RoundManager" in wrong.stderr and "Traceback" not in wrong.stderr, wrong.stderr[-3000:]
