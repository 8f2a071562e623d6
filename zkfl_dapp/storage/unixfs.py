"""UnixFS files: the dag-pb wire format and Kubo's default importer (256 KiB chunks, raw leaves,
balanced layout, at most 174 links per node), and block verification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from multiformats import CID, multihash

from zkfl_dapp.exceptions import (
    CidMismatchError,
    InvalidCidError,
)
from zkfl_dapp.storage.cid import _DAG_PB, _RAW, _SHA2_256, _UNIXFS_FILE, CHUNK_SIZE, MAX_LINKS, Cid, _make_cid


# --- protobuf (dag-pb / UnixFS) wire format -------------------------------------------
def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    """Yield ``(field number, value)`` of a protobuf message.

    Varints come as int, length-delimited fields as bytes; fixed-size fields are skipped.
    """
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _read_varint(buf, pos)
            yield number, value
        elif wire_type == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("truncated length-delimited field")
            yield number, buf[pos : pos + length]
            pos += length
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        if pos > len(buf):
            raise ValueError("truncated fixed-size field")


def _encode_file_node(links: list[tuple[Cid, int, int]]) -> bytes:
    """Encode a UnixFS file node over ``links`` of ``(cid, tsize, filesize)`` as dag-pb.

    Byte layout as boxo writes it: the PBNode's Links (field 2) come first, each PBLink as Hash (1),
    Name (2, always present, empty) and Tsize (3); then Data (field 1), the UnixFS message with
    Type=File (1), filesize (3) and one non-packed blocksizes entry (4) per link; no UnixFS Data (2)
    since the leaves hold all the bytes.
    """
    out = bytearray()
    for cid, tsize, _ in links:
        raw_cid = bytes(CID.decode(cid))
        link = b"\x0a" + _varint(len(raw_cid)) + raw_cid + b"\x12\x00" + b"\x18" + _varint(tsize)
        out += b"\x12" + _varint(len(link)) + link
    unixfs = bytearray(b"\x08" + _varint(_UNIXFS_FILE))
    unixfs += b"\x18" + _varint(sum(size for _, _, size in links))
    for _, _, size in links:
        unixfs += b"\x20" + _varint(size)
    out += b"\x0a" + _varint(len(unixfs)) + unixfs
    return bytes(out)


@dataclass(frozen=True)
class _PbNode:
    links: list[bytes]  # binary CIDs, in order
    unixfs_type: int
    data: bytes  # UnixFS Data field (inline file bytes), usually empty
    filesize: int | None


def _decode_file_node(block: bytes) -> _PbNode:
    links: list[bytes] = []
    pb_data = b""
    for number, value in _fields(block):
        if number == 2 and isinstance(value, bytes):
            hashes = [v for n, v in _fields(value) if n == 1 and isinstance(v, bytes)]
            if len(hashes) != 1:
                raise ValueError("PBLink without exactly one Hash")
            links.append(hashes[0])
        elif number == 1 and isinstance(value, bytes):
            pb_data = value
    unixfs_type: int | None = None
    data = b""
    filesize: int | None = None
    for number, value in _fields(pb_data):
        if number == 1 and isinstance(value, int):
            unixfs_type = value
        elif number == 2 and isinstance(value, bytes):
            data = value
        elif number == 3 and isinstance(value, int):
            filesize = value
    if unixfs_type is None:
        raise ValueError("dag-pb node without UnixFS Type")
    return _PbNode(links=links, unixfs_type=unixfs_type, data=data, filesize=filesize)


# --- the importer -------------------------------------------------------------------------------
_BlockSink = Callable[[Cid, memoryview], None]


def _import(
    data: bytes | bytearray | memoryview,
    *,
    chunk_size: int = CHUNK_SIZE,
    max_links: int = MAX_LINKS,
    sink: _BlockSink | None = None,
) -> Cid:
    """Build the UnixFS DAG Kubo builds for ``data``; pass each block to ``sink``; return the root.

    Mirrors boxo's ``balanced.Layout``: a single chunk is the root itself (a raw block); otherwise
    the tree has the smallest depth ``d`` with ``max_links**d >= chunks`` and is filled left to
    right,
    every subtree but the last one full. ``chunk_size`` and ``max_links`` exist for tests only.
    """
    view = memoryview(data).cast("B")
    length = len(view)
    leaves: list[tuple[Cid, int]] = []
    for start in range(0, max(length, 1), chunk_size):
        chunk = view[start : start + chunk_size]
        cid = _make_cid(_RAW, hashlib.sha256(chunk).digest())
        if sink is not None:
            sink(cid, chunk)
        leaves.append((cid, len(chunk)))
    if len(leaves) == 1:
        return leaves[0][0]

    depth = 1
    while max_links**depth < len(leaves):
        depth += 1

    def build(first: int, level: int) -> tuple[Cid, int, int, int]:
        """Node over leaves from ``first`` at ``level``.

        Returns (cid, tsize, filesize, index of the next unused leaf).
        """
        links: list[tuple[Cid, int, int]] = []
        index = first
        while len(links) < max_links and index < len(leaves):
            if level == 1:
                cid, size = leaves[index]
                links.append((cid, size, size))
                index += 1
            else:
                cid, tsize, filesize, index = build(index, level - 1)
                links.append((cid, tsize, filesize))
        block = _encode_file_node(links)
        cid = _make_cid(_DAG_PB, hashlib.sha256(block).digest())
        if sink is not None:
            sink(cid, memoryview(block))
        tsize = len(block) + sum(t for _, t, _ in links)
        return cid, tsize, sum(f for _, _, f in links), index

    root, _, _, _ = build(0, depth)
    return root


def compute_cid(data: bytes) -> Cid:
    """The CID that ``ipfs add --cid-version=1`` (Kubo, default settings) prints for ``data``."""
    return _import(data)


def _verify_block(cid: Cid, block: bytes) -> None:
    """``block`` hashes to ``cid``, a full-length sha2-256 CID (the stores accept no other)."""
    code, raw_digest = multihash.unwrap_raw(cid.multihash)
    if code != _SHA2_256 or len(raw_digest) != 32:
        raise InvalidCidError(f"cannot verify {cid}: only full-length sha2-256 CIDs are accepted")
    if hashlib.sha256(block).digest() != bytes(raw_digest):
        raise CidMismatchError(f"block {cid} does not hash to its CID: the store is corrupt or was tampered with")
