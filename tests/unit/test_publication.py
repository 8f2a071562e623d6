"""Publishing the circuits' public artifacts and the KZG basis for auditors, and fetching them back."""

from __future__ import annotations

import hashlib
import json

import pytest
from py_ecc.optimized_bn128 import FQ, add, curve_order, multiply, normalize

from tests.conftest import padded_update
from zkfl_dapp.exceptions import CidMismatchError, DigestMismatchError, ModelFileError
from zkfl_dapp.protocol.publication import CircuitManifest, PublishedFile, fetch_published, publish_circuit
from zkfl_dapp.storage.embedded import EmbeddedStore


def test_publish_circuit_round_trips_every_artifact(suite, tmp_path):
    store = EmbeddedStore(tmp_path / "store")
    manifest = CircuitManifest.parse(store.get(publish_circuit(suite, store)))
    assert (manifest.slots, manifest.model_size, manifest.pad_rows, manifest.scale_bits) == (5, 31, 10, 13)
    assert manifest.chunk == 0  # the small model is one committed vector
    assert manifest.srs_kind == "development" and manifest.ezkl_version == "23.0.5"
    assert manifest.norm.circuit == suite.norm.spec.name and manifest.norm.logrows == suite.norm.logrows
    norm = suite.norm
    for item, path in (
        (manifest.norm.vk, norm.vk),
        (manifest.norm.settings, norm.settings),
        (manifest.norm.srs, norm.srs),
    ):
        fetched = fetch_published(store, item, tmp_path / "out" / path.name)
        assert fetched.read_bytes() == path.read_bytes()
        assert item.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and item.size == path.stat().st_size


def test_published_basis_lets_anyone_commit_without_ezkl(suite, commit_of, tmp_path):
    """C(v) = K + sum_j v_j L_j from the manifest alone equals ezkl's commitment (signed values mod r)."""
    store = EmbeddedStore(tmp_path / "store")
    manifest = CircuitManifest.parse(store.get(publish_circuit(suite, store)))
    basis = manifest.basis
    assert basis.digest == suite.basis.digest() and (basis.logrows, basis.unusable_rows) == (
        suite.basis.logrows,
        suite.basis.unusable_rows,
    )
    k = tuple(int(c, 16) for c in basis.zero_commitment)
    assert k == suite.zero.as_uint256()
    assert basis.lagrange is not None  # published for a model committed as one vector
    lagrange = json.loads(fetch_published(store, basis.lagrange, tmp_path / "lagrange.json").read_bytes())
    assert len(lagrange) == suite.rows
    values = padded_update(5)
    acc = (FQ(k[0]), FQ(k[1]), FQ(1))
    for v, (x, y) in zip(values, lagrange, strict=True):
        acc = add(acc, multiply((FQ(int(x, 16)), FQ(int(y, 16)), FQ(1)), v % curve_order))
    x, y = normalize(acc)
    assert (int(x), int(y)) == commit_of(values).as_uint256()


def test_fetch_published_rejects_content_not_matching_the_manifest(tmp_path):
    store = EmbeddedStore(tmp_path / "store")
    cid = str(store.put(b"a verifying key"))
    lying = PublishedFile(cid=cid, sha256=hashlib.sha256(b"another key").hexdigest(), size=11)
    with pytest.raises(DigestMismatchError, match="does not match the manifest"):
        fetch_published(store, lying, tmp_path / "vk.key")
    assert not (tmp_path / "vk.key").exists()


def test_fetch_published_detects_a_swapped_block(suite, tmp_path):
    store = EmbeddedStore(tmp_path / "store")
    manifest = CircuitManifest.parse(store.get(publish_circuit(suite, store)))
    block = next(p for p in (tmp_path / "store" / "blocks").iterdir() if p.name == manifest.norm.settings.cid)
    block.write_bytes(b'{"run_args": {}}')
    with pytest.raises(CidMismatchError):
        fetch_published(store, manifest.norm.settings, tmp_path / "settings.json")


@pytest.mark.parametrize("bad", [b"{", b"{}", b'{"format": "zkfl-model/v1"}', b'{"format": "zkfl-circuit/v1"}'])
def test_manifest_parse_rejects_malformed_files(bad):
    with pytest.raises(ModelFileError, match="circuit manifest is malformed"):
        CircuitManifest.parse(bad)
