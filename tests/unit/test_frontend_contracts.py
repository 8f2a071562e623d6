"""The web UI's contracts module is generated from ape's compiled artifacts (``frontend/gen-contracts.mjs``).

Its enums are the compiled contracts' own, so they agree with the Python mirrors in ``zkfl_dapp.chain.enums``
(three languages, one source); without compiled artifacts the UI build stops and says what to run.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ape import project

from zkfl_dapp.chain.enums import Phase, Role, Rule

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "frontend" / "gen-contracts.mjs"
# Prints the generated module's exports as JSON.
DUMP = "import(process.argv[1]).then((m) => console.log(JSON.stringify(m)))"


def _generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["node", str(GENERATOR), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_ui_build_stops_without_compiled_contracts(tmp_path: Path) -> None:
    out = tmp_path / "contracts.mjs"
    proc = _generate("--manifest", str(tmp_path / "absent.json"), "--out", str(out))
    assert proc.returncode == 1
    assert "the compiled contracts are missing" in proc.stderr
    assert "run `ape compile`" in proc.stderr
    assert not out.exists()


def test_ui_enums_and_abis_come_from_the_compiled_contracts(tmp_path: Path) -> None:
    project.load_contracts()  # compiles the contracts into .build/ when they changed
    out = tmp_path / "contracts.mjs"
    proc = _generate("--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("// GENERATED FILE: do not edit.")
    dump = subprocess.run(["node", "-e", DUMP, out.as_uri()], capture_output=True, text=True, timeout=60, check=True)
    module = json.loads(dump.stdout)
    for ui, mirror in [("Role", Role), ("Phase", Phase), ("AggregationRule", Rule)]:
        assert [name.upper() for name in module[ui]] == [m.name.replace("_", "") for m in mirror]
    assert set(module["abis"]) == {"ConsortiumRegistry", "RoundManager", "PredictionRegistry", "IHalo2Verifier"}
    for contract, items in module["abis"].items():
        compiled = {(x.type, getattr(x, "name", None)) for x in project.get_contract(contract).contract_type.abi}
        assert {(x["type"], x["name"]) for x in items} <= compiled
