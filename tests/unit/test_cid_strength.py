"""The stores accept only full-length sha2-256 CIDs (what Kubo makes by default): a weak or truncated
multihash would let a store "verify" swapped content."""

from __future__ import annotations

import hashlib
import pathlib

import httpx
import pytest
from multiformats import CID, multihash

from zkfl_dapp.exceptions import InvalidCidError
from zkfl_dapp.storage.cid import _DAG_PB, Cid, _make_cid
from zkfl_dapp.storage.embedded import EmbeddedStore
from zkfl_dapp.storage.kubo import KuboRpcStore
from zkfl_dapp.storage.unixfs import _encode_file_node

GENUINE, SWAPPED = b"the genuine update", b"a swapped update!!"


def _weak_cid_and_swapped_content() -> tuple[str, bytes]:
    """A CID with a 1-byte sha2-512 digest of GENUINE, and other content with the same digest (a short search)."""
    target = hashlib.sha512(GENUINE).digest()[:1]
    for i in range(10_000):
        swapped = SWAPPED + i.to_bytes(2, "big")
        if hashlib.sha512(swapped).digest()[:1] == target:
            return str(CID("base32", 1, "raw", multihash.wrap(target, "sha2-512"))), swapped
    raise AssertionError("no collision")


WEAK_CID, SWAPPED_CONTENT = _weak_cid_and_swapped_content()
WEAK = {
    "1-byte sha2-512": WEAK_CID,
    "truncated sha2-256": str(
        CID("base32", 1, "raw", multihash.wrap(hashlib.sha256(GENUINE).digest()[:20], "sha2-256"))
    ),
    "identity": str(CID("base32", 1, "raw", multihash.wrap(GENUINE, "identity"))),
    "full sha2-512": str(CID("base32", 1, "raw", multihash.wrap(hashlib.sha512(GENUINE).digest(), "sha2-512"))),
}


@pytest.mark.parametrize("name", sorted(WEAK))
def test_the_embedded_store_refuses_other_multihashes(tmp_path: pathlib.Path, name: str) -> None:
    store = EmbeddedStore(tmp_path)
    cid = WEAK[name]
    # planted (the store never writes such names): content the weak digest "verifies"
    (tmp_path / "blocks" / Cid(cid).canonical).write_bytes(SWAPPED_CONTENT if cid == WEAK_CID else GENUINE)
    for call in (store.get, store.has, store.pin):
        with pytest.raises(InvalidCidError, match="full-length sha2-256"):
            call(cid)


@pytest.mark.parametrize("name", sorted(WEAK))
def test_the_kubo_client_refuses_other_multihashes_without_asking(name: str) -> None:
    asked: list[httpx.Request] = []
    store = KuboRpcStore(transport=httpx.MockTransport(lambda r: asked.append(r) or httpx.Response(200)))
    for call in (store.get, store.has, store.pin):
        with pytest.raises(InvalidCidError, match="full-length sha2-256"):
            call(WEAK[name])
    assert asked == []


def test_a_dag_linking_a_weak_cid_is_refused(tmp_path: pathlib.Path) -> None:
    store = EmbeddedStore(tmp_path)
    weak = WEAK_CID
    (tmp_path / "blocks" / Cid(weak).canonical).write_bytes(SWAPPED_CONTENT)
    block = _encode_file_node([(weak, len(GENUINE), len(GENUINE))] * 2)  # type: ignore[list-item]
    root = _make_cid(_DAG_PB, hashlib.sha256(block).digest())
    (tmp_path / "blocks" / root).write_bytes(block)
    with pytest.raises(InvalidCidError, match="full-length sha2-256"):
        store.get(root)


def test_full_sha2_256_cids_still_work(tmp_path: pathlib.Path) -> None:
    store = EmbeddedStore(tmp_path)
    cid = store.put(GENUINE)
    store.pin(cid)
    assert store.get(cid) == GENUINE and store.has(cid)
