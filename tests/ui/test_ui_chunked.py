"""The web UI's model check and commitment display for a CHUNKED deployment (a model committed one point per chunk),
without a browser or a large circuit: ``frontend/src/verify.js`` runs in Node (``tests/ui/chunked_model_check.mjs``)
against a stub chain and content store holding a FedAvg round of 3 chunk points per commitment, built here with the
Python reference (``circuits.kzg.combine`` per chunk, ``chain.views.commitment_hash``).

The page re-derives the new model's points chunk by chunk from the hospitals' points and the contract's weights, checks
the stored hash over all points, and does NOT pass the model file against the commitment: it says "not checked in the
browser: checked by the auditor". A reordered chunk point or another hash is flagged.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from py_ecc.optimized_bn128 import G1, multiply, normalize

from zkfl_dapp.chain.views import commitment_hash
from zkfl_dapp.circuits.kzg import G1Point, combine
from zkfl_dapp.storage.unixfs import compute_cid

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("chunked_model_check.mjs")
CHUNKS, CHUNK, PAD, MODEL_SIZE = 3, 4, 2, 10
WEIGHTS = (3000, 4000, 1192)  # sum 2^13


def _point(k: int) -> G1Point:
    x, y = normalize(multiply(G1, k))
    return G1Point(int(x), int(y))


def _fixture(tmp_path: Path, *, reorder: bool = False, other_hash: bool = False) -> Path:
    zero = _point(7)
    subs = [[_point(100 * i + c + 11) for c in range(CHUNKS)] for i in range(len(WEIGHTS))]
    event = [combine([s[c] for s in subs], list(WEIGHTS), zero).as_uint256() for c in range(CHUNKS)]
    new_hash = "0x" + commitment_hash(tuple(event)).hex()
    if reorder:  # a submission's chunk points in another order: the per-chunk combination differs
        subs[1][0], subs[1][1] = subs[1][1], subs[1][0]
    if other_hash:
        new_hash = "0x" + commitment_hash(tuple(event[:2])).hex()
    manifest = {
        "format": "zkfl-circuit/v2",
        "chunk": CHUNK,
        "basis": {"digest": "ab" * 32, "zero_commitment": [hex(zero.x), hex(zero.y)], "lagrange": None},
    }
    model = {"format": "zkfl-model/v2", "values": list(range(CHUNKS * (CHUNK + PAD)))}
    store = {str(compute_cid(json.dumps(d).encode())): json.dumps(d) for d in (manifest, model)}
    manifest_cid, model_cid = list(store)
    fixture = {
        "zero": [str(zero.x), str(zero.y)],
        "digest": "0x" + "ab" * 32,
        "modelSize": MODEL_SIZE,
        "padRows": PAD,
        "chunks": CHUNKS,
        "weights": [str(w) for w in WEIGHTS],
        "submissions": [[[str(p.x), str(p.y)] for p in s] for s in subs],
        "event": [[str(x), str(y)] for x, y in event],
        "newModelHash": new_hash,
        "manifestCid": manifest_cid,
        "modelCid": model_cid,
        "store": store,
    }
    path = tmp_path / "fixture.json"
    path.write_text(json.dumps(fixture))
    return path


def _run(fixture: Path) -> dict:
    if not (ROOT / "frontend" / "src" / "generated" / "contracts.js").is_file():  # the UI build writes it
        subprocess.run(["node", str(ROOT / "frontend" / "gen-contracts.mjs")], cwd=ROOT, check=True, timeout=120)
    proc = subprocess.run(["node", str(SCRIPT), str(fixture)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    out["by_id"] = {c["id"]: c for c in out["checks"]}
    return out


def test_chunked_model_is_not_passed_in_the_browser_but_its_points_are_rederived(tmp_path: Path) -> None:
    out = _run(_fixture(tmp_path))
    checks = out["by_id"]
    assert out["chunks"] == CHUNKS
    assert checks["event-hash"]["ok"] is True and "keccak256(x_0 || y_0 || …)" in checks["event-hash"]["what"]
    assert checks["basis"]["ok"] is True, checks["basis"]
    assert checks["model-cid"]["ok"] is True
    opens = checks["model-opens"]
    assert opens["ok"] is None, opens  # not a green tick: not checked here
    assert "not checked in the browser: checked by the auditor" in opens["what"]
    derived = checks["fedavg-derived"]
    assert derived["ok"] is True and f"for each of the {CHUNKS} chunks" in derived["what"], derived
    assert f"({CHUNKS} chunk points)" in out["html"] and out["html"].count("<code>") == 2  # the first point only


def test_reordered_chunk_points_fail_the_rederivation(tmp_path: Path) -> None:
    checks = _run(_fixture(tmp_path, reorder=True))["by_id"]
    assert checks["fedavg-derived"]["ok"] is False
    assert "does NOT follow from the hospitals' commitments" in checks["fedavg-derived"]["what"]
    assert checks["event-hash"]["ok"] is True


def test_hash_over_other_points_is_flagged(tmp_path: Path) -> None:
    checks = _run(_fixture(tmp_path, other_hash=True))["by_id"]
    assert checks["event-hash"]["ok"] is False and checks["fedavg-derived"]["ok"] is False
