"""The loopback gateway against hostile clients, over real sockets: DNS rebinding (Host header), idle and
half-sent connections, too many connections, and error bodies that must not reveal server paths."""

from __future__ import annotations

import hashlib
import json
import pathlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from multiformats import CID, multihash

from zkfl_dapp.apps.gateway import DEFAULT_IDLE_TIMEOUT_S, Gateway, ui_config
from zkfl_dapp.storage.embedded import EmbeddedStore

CONFIG = ui_config("http://127.0.0.1:8545", 31337, {})


@pytest.fixture
def gateway(tmp_path: pathlib.Path) -> Iterator[Gateway]:
    store = EmbeddedStore(tmp_path / "secret-store-root")
    with Gateway(store, CONFIG, port=0, ui_dir=tmp_path / "secret-ui-dir", idle_timeout_s=1.0, max_connections=4) as gw:
        yield gw


def _port(gw: Gateway) -> int:
    return int(gw.server_address[1])


def _request(gw: Gateway, raw: bytes) -> tuple[int, bytes]:
    """Send ``raw`` and read the whole answer (the request asks the server to close)."""
    with socket.create_connection(("127.0.0.1", _port(gw)), timeout=5) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    answer = b"".join(chunks)
    status = int(answer.split(b" ", 2)[1]) if answer else 0
    return status, answer.partition(b"\r\n\r\n")[2]


def _get(gw: Gateway, path: str, host: str | None) -> tuple[int, bytes]:
    host_line = f"Host: {host}\r\n" if host is not None else ""
    return _request(gw, f"GET {path} HTTP/1.1\r\n{host_line}Connection: close\r\n\r\n".encode())


def test_requests_for_the_gateways_own_host_are_served(gateway: Gateway) -> None:
    port = _port(gateway)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        status, body = _get(gateway, "/config.json", host)
        assert status == 200 and json.loads(body) == CONFIG, host


def test_other_hosts_are_refused_against_dns_rebinding(gateway: Gateway) -> None:
    port = _port(gateway)
    for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1:{port + 1}", "127.0.0.1", "", None):
        status, body = _get(gateway, "/config.json", host)
        assert status == 421, host
        assert b"rpcUrl" not in body and json.loads(body)["error"] == "bad_host"


def test_a_half_sent_request_is_dropped_after_the_idle_timeout(gateway: Gateway) -> None:
    assert DEFAULT_IDLE_TIMEOUT_S == 10
    with socket.create_connection(("127.0.0.1", _port(gateway)), timeout=8) as sock:
        sock.sendall(b"GET /config.json HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        t0 = time.monotonic()
        assert sock.recv(1024) == b""  # the server closed it
        assert time.monotonic() - t0 < 5


def test_connections_beyond_the_cap_are_refused_without_a_thread_each(gateway: Gateway) -> None:
    threads_before = threading.active_count()
    held = [socket.create_connection(("127.0.0.1", _port(gateway)), timeout=5) for _ in range(4)]
    try:
        for sock in held:
            sock.sendall(b"GET / HTTP/1.1\r\n")  # half-sent: each holds a handler thread
        time.sleep(0.2)
        extra = []
        for _ in range(50):
            status, _ = _get(gateway, "/config.json", f"127.0.0.1:{_port(gateway)}")
            extra.append(status)
        assert set(extra) == {503}
        assert threading.active_count() <= threads_before + 4
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the slots come back once the held connections end
        if _get(gateway, "/config.json", f"127.0.0.1:{_port(gateway)}")[0] == 200:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the gateway did not recover its connection slots")


def test_error_bodies_do_not_reveal_server_paths(gateway: Gateway, tmp_path: pathlib.Path) -> None:
    host = f"127.0.0.1:{_port(gateway)}"
    missing = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    gateway.storage.put(b"x")
    tampered = str(gateway.storage.put(b"genuine"))
    (pathlib.Path(tmp_path / "secret-store-root" / "blocks" / tampered)).write_bytes(b"swapped")
    cases = [("/", 404), ("/index.html", 404), ("/nope.js", 404), (f"/ipfs/{missing}", 404), (f"/ipfs/{tampered}", 502)]
    for path, expected in cases:
        status, body = _get(gateway, path, host)
        assert status == expected, path
        assert str(tmp_path).encode() not in body and b"secret-" not in body, (path, body)


def test_a_weak_cid_is_a_bad_request(gateway: Gateway) -> None:
    weak = str(CID("base32", 1, "raw", multihash.wrap(hashlib.sha512(b"x").digest()[:1], "sha2-512")))
    status, body = _get(gateway, f"/ipfs/{weak}", f"127.0.0.1:{_port(gateway)}")
    assert status == 400 and json.loads(body)["error"] == "bad_cid"


def test_format_raw_serves_checked_blocks_of_a_multi_block_file(gateway: Gateway, tmp_path: pathlib.Path) -> None:
    """``?format=raw`` (Kubo's gateway convention) serves the one block under a CID: the dag-pb root of a file over
    256 KiB, then each leaf it links; a block that does not hash to its CID is a 502, never served."""
    from zkfl_dapp.storage.unixfs import _decode_file_node

    host = f"127.0.0.1:{_port(gateway)}"
    data = hashlib.shake_256(b"multi-block").digest(768_000)  # a dag-pb root over 3 distinct raw leaves
    root = gateway.storage.put(data)
    status, block = _get(gateway, f"/ipfs/{root}?format=raw", host)
    assert status == 200 and CID.decode(str(root)).codec.name == "dag-pb"
    assert hashlib.sha256(block).digest() == bytes(CID.decode(str(root)).raw_digest)
    links = [CID.decode(link).encode("base32") for link in _decode_file_node(block).links]
    assert len(links) == 3
    leaves = []
    for link in links:
        status, leaf = _get(gateway, f"/ipfs/{link}?format=raw", host)
        assert status == 200 and hashlib.sha256(leaf).digest() == bytes(CID.decode(link).raw_digest)
        leaves.append(leaf)
    assert b"".join(leaves) == data
    status, whole = _get(gateway, f"/ipfs/{root}", host)  # without ?format=raw: the file itself
    assert status == 200 and whole == data
    (tmp_path / "secret-store-root" / "blocks" / links[1]).write_bytes(b"swapped")
    status, body = _get(gateway, f"/ipfs/{links[1]}?format=raw", host)
    assert status == 502 and json.loads(body)["error"] == "integrity"
