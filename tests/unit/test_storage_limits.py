"""Hostile DAGs and oversized content: every store's ``get`` has a size cap (checked against the declared
sizes before expanding, and counted while expanding) and the embedded store a depth and block-count cap."""

from __future__ import annotations

import hashlib
import pathlib
import time

import httpx
import pytest

from zkfl_dapp.exceptions import ContentTooLargeError, DagTooDeepError, StorageError
from zkfl_dapp.storage.cid import _DAG_PB, _RAW, MAX_LINKS, Cid, _make_cid
from zkfl_dapp.storage.embedded import DEFAULT_MAX_GET_BYTES, EmbeddedStore
from zkfl_dapp.storage.kubo import KuboRpcStore
from zkfl_dapp.storage.unixfs import _encode_file_node, compute_cid


def _block(store: EmbeddedStore, codec: int, block: bytes) -> Cid:
    cid = _make_cid(codec, hashlib.sha256(block).digest())
    (store.root / "blocks" / cid).write_bytes(block)
    return cid


def _node(store: EmbeddedStore, links: list[tuple[Cid, int, int]]) -> Cid:
    return _block(store, _DAG_PB, _encode_file_node(links))


@pytest.fixture
def store(tmp_path: pathlib.Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "store")


def test_the_default_cap_is_64_mib(store: EmbeddedStore) -> None:
    assert DEFAULT_MAX_GET_BYTES == 64 << 20 and store.max_bytes == DEFAULT_MAX_GET_BYTES


def test_a_dag_repeating_its_blocks_is_refused_before_expanding(store: EmbeddedStore) -> None:
    """3 blocks: a 280 kB leaf, a node linking it 174 times, a root linking that node 174 times (8.5 GB)."""
    leaf_data = bytes(280_000)
    leaf = _block(store, _RAW, leaf_data)
    size = len(leaf_data)
    middle = _node(store, [(leaf, size, size)] * MAX_LINKS)
    root = _node(store, [(middle, size * MAX_LINKS, size * MAX_LINKS)] * MAX_LINKS)
    t0 = time.perf_counter()
    with pytest.raises(ContentTooLargeError, match=r"declares 8477280000 bytes.*67108864"):
        store.get(root)
    assert time.perf_counter() - t0 < 1.0  # decided from the root's declared size: nothing was expanded


def test_a_dag_understating_its_size_is_stopped_while_expanding(tmp_path: pathlib.Path) -> None:
    store = EmbeddedStore(tmp_path / "small", max_bytes=1 << 20)
    leaf = _block(store, _RAW, bytes(100_000))
    middle = _node(store, [(leaf, 0, 0)] * MAX_LINKS)  # declares 0 bytes, expands to 17.4 MB
    root = _node(store, [(middle, 0, 0)] * MAX_LINKS)
    t0 = time.perf_counter()
    with pytest.raises(StorageError, match="declares 0 bytes|more than"):
        store.get(root)
    assert time.perf_counter() - t0 < 2.0


def test_an_honest_dag_beyond_the_cap_is_refused_and_the_cap_is_per_store(tmp_path: pathlib.Path) -> None:
    data = bytes(range(256)) * 5000  # 1.28 MB, 5 chunks
    small, big = EmbeddedStore(tmp_path / "s", max_bytes=1 << 20), EmbeddedStore(tmp_path / "b")
    cid = small.put(data)
    with pytest.raises(ContentTooLargeError, match="1048576"):
        small.get(cid)
    assert big.put(data) == cid and big.get(cid) == data
    one_chunk = small.put(bytes(2 << 20))  # a single raw block of 2 MiB: beyond the cap, too
    with pytest.raises(ContentTooLargeError, match="1048576"):
        small.get(one_chunk)


def test_a_fan_out_of_empty_blocks_is_refused(store: EmbeddedStore) -> None:
    """174^5 links to one empty leaf: no bytes at all, but an unbounded walk without a block cap."""
    cid = _block(store, _RAW, b"")
    for _ in range(5):
        cid = _node(store, [(cid, 0, 0)] * MAX_LINKS)
    t0 = time.perf_counter()
    with pytest.raises(ContentTooLargeError, match="blocks"):
        store.get(cid)
    with pytest.raises(ContentTooLargeError, match="blocks"):
        store.has(cid)
    assert time.perf_counter() - t0 < 10.0


def test_a_3000_deep_dag_is_too_deep(store: EmbeddedStore) -> None:
    cid = _block(store, _RAW, b"x")
    for _ in range(3000):
        cid = _node(store, [(cid, 1, 1)])
    with pytest.raises(DagTooDeepError, match="too deep"):
        store.get(cid)
    with pytest.raises(DagTooDeepError, match="too deep"):
        store.has(cid)
    with pytest.raises(DagTooDeepError, match="too deep"):
        store.pin(cid)


def test_an_oversized_block_file_is_not_read(store: EmbeddedStore) -> None:
    big = bytes(3 << 20)
    cid = _make_cid(_RAW, hashlib.sha256(big).digest())
    (store.root / "blocks" / cid).write_bytes(big)
    with pytest.raises(ContentTooLargeError, match="block"):
        store.get(cid)


def test_kubo_get_stops_reading_at_the_cap() -> None:
    content = bytes(5000)
    cid = str(compute_cid(content))
    served: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        def body():
            for _ in range(1000):  # 5 MB, streamed
                served.append(1)
                yield content

        return httpx.Response(200, content=body())

    store = KuboRpcStore("http://kubo.test:5001", transport=httpx.MockTransport(handler), max_bytes=20_000)
    with pytest.raises(ContentTooLargeError, match="20000"):
        store.get(cid)
    assert len(served) < 10


def test_caps_must_be_positive(tmp_path: pathlib.Path) -> None:
    from zkfl_dapp.exceptions import ConfigError

    with pytest.raises(ConfigError):
        EmbeddedStore(tmp_path, max_bytes=0)
    with pytest.raises(ConfigError):
        EmbeddedStore(tmp_path, max_depth=0)
    with pytest.raises(ConfigError):
        KuboRpcStore(max_bytes=-1)


def test_open_storage_passes_the_cap_to_either_store(tmp_path: pathlib.Path) -> None:
    from zkfl_dapp.storage.base import open_storage

    assert open_storage("embedded", root=tmp_path, max_bytes=1000).max_bytes == 1000  # type: ignore[attr-defined]
    assert open_storage("kubo", max_bytes=2000).max_bytes == 2000  # type: ignore[attr-defined]
    assert open_storage("embedded", root=tmp_path).max_bytes == DEFAULT_MAX_GET_BYTES  # type: ignore[attr-defined]
