"""Publishing the circuit's public artifacts for auditors, and fetching them back."""

from __future__ import annotations

import hashlib

import pytest

from zkfl_dapp.exceptions import CidMismatchError, DigestMismatchError, ModelFileError
from zkfl_dapp.protocol.publication import CircuitManifest, PublishedFile, fetch_published, publish_circuit
from zkfl_dapp.storage.embedded import EmbeddedStore


def test_publish_circuit_round_trips_every_artifact(circuit, tmp_path):
    store = EmbeddedStore(tmp_path / "store")
    manifest = CircuitManifest.parse(store.get(publish_circuit(circuit, store)))
    assert manifest.spec() == circuit.spec and manifest.logrows == circuit.logrows
    assert manifest.srs_kind == "development" and manifest.ezkl_version == "23.0.5"
    for item, path in ((manifest.vk, circuit.vk), (manifest.settings, circuit.settings), (manifest.srs, circuit.srs)):
        fetched = fetch_published(store, item, tmp_path / "out" / path.name)
        assert fetched.read_bytes() == path.read_bytes()
        assert item.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and item.size == path.stat().st_size


def test_fetch_published_rejects_content_not_matching_the_manifest(tmp_path):
    store = EmbeddedStore(tmp_path / "store")
    cid = str(store.put(b"a verifying key"))
    lying = PublishedFile(cid=cid, sha256=hashlib.sha256(b"another key").hexdigest(), size=11)
    with pytest.raises(DigestMismatchError, match="does not match the manifest"):
        fetch_published(store, lying, tmp_path / "vk.key")
    assert not (tmp_path / "vk.key").exists()


def test_fetch_published_detects_a_swapped_block(circuit, tmp_path):
    store = EmbeddedStore(tmp_path / "store")
    manifest = CircuitManifest.parse(store.get(publish_circuit(circuit, store)))
    block = next(p for p in (tmp_path / "store" / "blocks").iterdir() if p.name == manifest.settings.cid)
    block.write_bytes(b'{"run_args": {}}')
    with pytest.raises(CidMismatchError):
        fetch_published(store, manifest.settings, tmp_path / "settings.json")


@pytest.mark.parametrize("bad", [b"{", b"{}", b'{"format": "zkfl-model/v1"}'])
def test_manifest_parse_rejects_malformed_files(bad):
    with pytest.raises(ModelFileError, match="circuit manifest is malformed"):
        CircuitManifest.parse(bad)
