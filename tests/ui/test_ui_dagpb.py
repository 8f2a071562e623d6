"""The page hashes every file it shows, a multi-block UnixFS (dag-pb) file included, without a browser:
``frontend/src/content.js`` runs in Node (``tests/ui/dagpb_fetch_check.mjs``) against a stub gateway serving the
blocks of a 700 KB file as the embedded store holds them (a dag-pb root over three raw leaves), and against a
lying gateway that substitutes one block. The page fetches every block with ``?format=raw``, hashes each, checks
the root's links and sizes (``@ipld/dag-pb``, ``ipfs-unixfs``) and reassembles the file; any substitution is an
integrity error, never a file taken on the gateway's word.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

from multiformats import CID

from zkfl_dapp.storage.embedded import EmbeddedStore
from zkfl_dapp.storage.unixfs import _decode_file_node

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("dagpb_fetch_check.mjs")


def _run(tmp_path: Path) -> tuple[dict, bytes, list[str]]:
    data = hashlib.shake_256(b"a multi-block file").digest(700_000)
    store = EmbeddedStore(tmp_path / "store")
    root = str(store.put(data))
    root_block = store.block(root)
    leaves = [CID.decode(link).encode("base32") for link in _decode_file_node(root_block).links]
    blocks = {cid: store.block(cid).hex() for cid in [root, *leaves]}
    forged_leaf = bytearray(store.block(leaves[1]))
    forged_leaf[100] ^= 0x01
    forged_root = bytearray(root_block)
    forged_root[-1] ^= 0x01  # a size in the root's UnixFS data: the root no longer hashes to its CID
    cases = {
        "honest": {},
        "leaf-substituted": {"replace": {leaves[1]: forged_leaf.hex()}},
        "leaf-swapped": {"replace": {leaves[0]: blocks[leaves[2]]}},  # another genuine block of the same file
        "root-substituted": {"replace": {root: forged_root.hex()}},
        "leaf-missing": {"remove": [leaves[2]]},
    }
    path = tmp_path / "fixture.json"
    path.write_text(json.dumps({"root": root, "blocks": blocks, "cases": cases}))
    proc = subprocess.run(["node", str(SCRIPT), str(path)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    return out, data, [root, *leaves]


def test_multi_block_file_is_hashed_block_by_block_and_substitutions_are_integrity_errors(tmp_path: Path) -> None:
    out, data, cids = _run(tmp_path)
    honest = out["honest"]
    assert honest["ok"] is True and honest["length"] == len(data)
    assert honest["sha256"] == hashlib.sha256(data).hexdigest()
    assert honest["blocks"] == 4 and "4 blocks, each hashed here" in honest["how"]
    # every block was asked for as a single raw block, the root first
    assert honest["requested"][0]["cid"] == cids[0]
    assert sorted(r["cid"] for r in honest["requested"]) == sorted(cids) and all(r["raw"] for r in honest["requested"])
    for case in ("leaf-substituted", "leaf-swapped", "root-substituted"):
        result = out[case]
        assert result["ok"] is False and result["kind"] == "integrity", (case, result)
        assert "does not hash to its CID" in result["message"], (case, result)
    assert out["leaf-missing"]["ok"] is False and out["leaf-missing"]["kind"] == "missing"
