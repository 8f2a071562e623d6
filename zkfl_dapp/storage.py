"""IPFS-compatible content-addressed storage.

Model weights and encrypted updates are stored here and addressed by CIDs that the smart contracts
hold, so a CID computed here is byte-for-byte what Kubo prints for ``ipfs add --cid-version=1``
with default settings:

* content of at most 262144 bytes is a single raw block: CIDv1, codec ``raw`` (0x55), sha2-256,
  base32 lower case (``bafkrei...``); the empty file included;
* larger content is a UnixFS file DAG: 262144-byte chunks (``size-262144`` chunker) stored as raw
  leaves, balanced layout with at most 174 links per node, inner nodes encoded as dag-pb (0x70)
  exactly as boxo encodes them (``bafybei...``).

Two stores implement :class:`Storage`: :class:`EmbeddedStore` (a directory of blocks on disk) and
:class:`KuboRpcStore` (a Kubo node's RPC API over HTTP). :func:`open_storage` picks one.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import httpx
from multiformats import CID, multihash

from zkfl_dapp.exceptions import (
    CidMismatchError,
    CidNotFoundError,
    ConfigError,
    InvalidCidError,
    StorageError,
)

__all__ = [
    "CHUNK_SIZE",
    "MAX_LINKS",
    "Cid",
    "EmbeddedStore",
    "KuboRpcStore",
    "Storage",
    "compute_cid",
    "open_storage",
]

#: Chunk size of Kubo's default chunker (``size-262144``).
CHUNK_SIZE = 262144
#: Most links one UnixFS file node holds in Kubo's default balanced layout.
MAX_LINKS = 174

_RAW = 0x55
_DAG_PB = 0x70
_SHA2_256 = 0x12
_UNIXFS_RAW = 0
_UNIXFS_FILE = 2


# --- CIDs -----------------------------------------------------------------------------------------
class Cid(str):
    """A validated CID string, e.g. ``bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku``.

    The string is kept exactly as given (any multibase, CIDv0 or CIDv1); constructing a ``Cid`` from
    anything that is not a valid CID raises :class:`InvalidCidError`. :attr:`canonical` gives the
    CIDv1 base32 form that Kubo prints with ``--cid-version=1``; two CIDs name the same block when
    their canonical forms are equal.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> Cid:
        if isinstance(value, Cid):
            return value if cls is type(value) else str.__new__(cls, value)
        _decode(value)
        return str.__new__(cls, value)

    @classmethod
    def parse(cls, value: str) -> Cid:
        """Validate ``value`` and return it as a :class:`Cid`; raise :class:`InvalidCidError`."""
        return cls(value)

    @property
    def version(self) -> int:
        """The CID version (0 or 1)."""
        return int(_decode(self).version)

    @property
    def codec(self) -> int:
        """The multicodec code of the content: 0x55 (raw) or 0x70 (dag-pb) for UnixFS files."""
        return int(_decode(self).codec.code)

    @property
    def multihash(self) -> bytes:
        """The multihash (hash function code, digest length, digest) as bytes."""
        return bytes(_decode(self).digest)

    @property
    def canonical(self) -> Cid:
        """The same CID as CIDv1 in base32 lower case, the form Kubo prints."""
        return str.__new__(Cid, str(_decode(self).set(version=1, base="base32")))


def _decode(value: object) -> CID:
    if not isinstance(value, str):
        raise InvalidCidError(f"a CID must be a string, got {type(value).__name__}")
    try:
        cid = CID.decode(value)
        # Decoding the multihash validates that the digest has the length the header claims.
        multihash.unwrap(cid.digest)
    except Exception as exc:  # multiformats raises assorted ValueError subclasses
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidCidError(f"not a valid CID: {shown!r} ({exc})") from exc
    return cid


def _make_cid(codec: int, digest: bytes) -> Cid:
    """CIDv1 base32 string for a sha2-256 ``digest`` of a block with multicodec ``codec``."""
    codec_name = "raw" if codec == _RAW else "dag-pb"
    text = str(CID("base32", 1, codec_name, multihash.wrap(digest, "sha2-256")))
    return str.__new__(Cid, text)


def _as_cid(cid: Cid | str) -> Cid:
    return cid if isinstance(cid, Cid) else Cid.parse(cid)


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
    code, raw_digest = multihash.unwrap_raw(cid.multihash)
    digest = bytes(raw_digest)
    if code == _SHA2_256:
        actual = hashlib.sha256(block).digest()
    else:
        try:
            actual = multihash.unwrap(multihash.digest(block, code, size=len(digest)))
        except Exception as exc:
            raise StorageError(f"cannot verify {cid}: unsupported hash function 0x{code:x}") from exc
    if actual != digest:
        raise CidMismatchError(f"block {cid} does not hash to its CID: the store is corrupt or was tampered with")


# --- the storage interface ----------------------------------------------------------------------
@runtime_checkable
class Storage(Protocol):
    """A content-addressed store; every implementation computes CIDs with :func:`compute_cid`."""

    def put(self, data: bytes) -> Cid:
        """Store ``data``; return its CID (the same as :func:`compute_cid`)."""
        ...

    def get(self, cid: Cid | str) -> bytes:
        """Return the content of ``cid``, verified to hash to ``cid``.

        Raises :class:`CidNotFoundError` when absent and :class:`CidMismatchError` when corrupt.
        """
        ...

    def has(self, cid: Cid | str) -> bool:
        """Whether the content of ``cid`` is held by this store."""
        ...

    def pin(self, cid: Cid | str) -> None:
        """Keep ``cid`` from garbage collection; :class:`CidNotFoundError` when absent."""
        ...


class EmbeddedStore:
    """A :class:`Storage` in a directory.

    ``root/blocks/<cid>`` holds each block, ``root/pins.txt`` the pinned CIDs, one per line.

    Blocks are the raw leaves and dag-pb nodes of the UnixFS DAG, named by their CIDv1 base32
    string, so a multi-chunk file is reassembled from its DAG on :meth:`get`, and every block read
    is checked against its CID. Writes go to a temporary file first and are moved into place with
    :func:`os.replace`, so a reader never sees half a block.
    """

    def __init__(self, root: pathlib.Path) -> None:
        self.root = pathlib.Path(root)
        self._blocks = self.root / "blocks"
        self._pins_path = self.root / "pins.txt"
        self._lock = threading.Lock()
        try:
            self._blocks.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the block directory {self._blocks}: {exc}") from exc

    def __repr__(self) -> str:
        return f"EmbeddedStore({str(self.root)!r})"

    # -- Storage API
    def put(self, data: bytes) -> Cid:
        """Store ``data`` as its UnixFS blocks; return its CID."""
        return _import(data, sink=self._write_block)

    def get(self, cid: Cid | str) -> bytes:
        """Reassemble the content of ``cid`` from its blocks, checking every block's hash."""
        parsed = _as_cid(cid)
        out = bytearray()
        self._read_into(parsed, out, is_root=True)
        return bytes(out)

    def has(self, cid: Cid | str) -> bool:
        """Whether every block of ``cid``'s DAG is on disk.

        Leaf contents are checked only by :meth:`get`; a dag-pb node that fails its hash makes the
        content count as absent (``put`` of the same bytes repairs it).
        """
        parsed = _as_cid(cid)
        try:
            self._check_present(parsed)
        except (CidNotFoundError, CidMismatchError):
            return False
        return True

    def pin(self, cid: Cid | str) -> None:
        """Record ``cid`` in ``pins.txt``; :class:`CidNotFoundError` when the content is absent."""
        parsed = _as_cid(cid)
        if not self.has(parsed):
            raise CidNotFoundError(f"cannot pin {parsed}: no content stored under it in {self.root}")
        with self._lock:
            pins = self._read_pins()
            key = parsed.canonical
            if key in pins:
                return
            pins.add(key)
            text = "".join(f"{pin}\n" for pin in sorted(pins))
            self._atomic_write(self._pins_path, memoryview(text.encode()), fsync=True)

    def pins(self) -> frozenset[Cid]:
        """The pinned CIDs, in canonical (CIDv1 base32) form."""
        with self._lock:
            return frozenset(self._read_pins())

    # -- internals
    def _block_path(self, cid: Cid) -> pathlib.Path:
        return self._blocks / cid.canonical

    def _write_block(self, cid: Cid, block: memoryview) -> None:
        path = self._block_path(cid)
        try:
            if path.read_bytes() == block:
                return  # already stored and intact
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot read block {path}: {exc}") from exc
        self._atomic_write(path, block, fsync=False)

    @staticmethod
    def _atomic_write(path: pathlib.Path, payload: memoryview, *, fsync: bool) -> None:
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                    if fsync:
                        fh.flush()
                        os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                pathlib.Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"cannot write {path}: {exc}") from exc

    def _read_block(self, cid: Cid) -> bytes:
        path = self._block_path(cid)
        try:
            block = path.read_bytes()
        except FileNotFoundError:
            raise CidNotFoundError(f"no block {cid.canonical} in {self._blocks}") from None
        except OSError as exc:
            raise StorageError(f"cannot read block {path}: {exc}") from exc
        _verify_block(cid, block)
        return block

    def _read_into(self, cid: Cid, out: bytearray, *, is_root: bool) -> None:
        try:
            block = self._read_block(cid)
        except CidNotFoundError:
            if is_root:
                raise CidNotFoundError(f"no content stored under {cid} in {self.root}") from None
            raise CidMismatchError(f"content {cid} is incomplete: a block of its DAG is missing") from None
        if cid.codec == _RAW:
            out += block
            return
        if cid.codec != _DAG_PB:
            raise StorageError(f"{cid} is neither a raw block nor a UnixFS (dag-pb) node")
        node = self._decode(cid, block)
        start = len(out)
        out += node.data
        for raw_link in node.links:
            self._read_into(_cid_from_bytes(raw_link), out, is_root=False)
        if node.filesize is not None and len(out) - start != node.filesize:
            raise StorageError(
                f"UnixFS node {cid} declares {node.filesize} bytes " f"but its DAG holds {len(out) - start}"
            )

    def _check_present(self, cid: Cid) -> None:
        if cid.codec != _DAG_PB:
            if not self._block_path(cid).is_file():
                raise CidNotFoundError(str(cid))
            return
        node = self._decode(cid, self._read_block(cid))
        for raw_link in node.links:
            self._check_present(_cid_from_bytes(raw_link))

    @staticmethod
    def _decode(cid: Cid, block: bytes) -> _PbNode:
        try:
            node = _decode_file_node(block)
        except ValueError as exc:
            raise StorageError(f"block {cid} is not a valid dag-pb node: {exc}") from exc
        if node.unixfs_type not in (_UNIXFS_FILE, _UNIXFS_RAW):
            raise StorageError(f"{cid} is not a UnixFS file (UnixFS type {node.unixfs_type})")
        return node

    def _read_pins(self) -> set[Cid]:
        try:
            text = self._pins_path.read_text(encoding="ascii")
        except FileNotFoundError:
            return set()
        except (OSError, UnicodeDecodeError) as exc:
            raise StorageError(f"cannot read the pin list {self._pins_path}: {exc}") from exc
        try:
            return {Cid.parse(line.strip()) for line in text.splitlines() if line.strip()}
        except InvalidCidError as exc:
            raise StorageError(f"the pin list {self._pins_path} is corrupt: {exc}") from exc


def _cid_from_bytes(raw: bytes) -> Cid:
    try:
        cid = CID.decode(raw)
    except Exception as exc:
        raise StorageError(f"dag-pb link holds an invalid binary CID: {exc}") from exc
    text = str(cid.set(base="base32")) if cid.version == 1 else str(cid)
    return str.__new__(Cid, text)


class KuboRpcStore:
    """A :class:`Storage` backed by a Kubo node's RPC API (``/api/v0``, plain HTTP POST).

    Every CID the node returns or serves is checked against :func:`compute_cid`, so a node that
    imports with other settings, or serves wrong bytes, raises :class:`CidMismatchError`. Only
    content in the layout :func:`compute_cid` produces can be verified, so :meth:`get` of a CID made
    with other import settings (CIDv0, other chunkers) also raises :class:`CidMismatchError`.
    """

    def __init__(
        self,
        api_url: str = "http://127.0.0.1:5001",
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be positive, got {timeout_s}")
        self.api_url = api_url.rstrip("/")
        self.timeout_s = timeout_s
        self._client = httpx.Client(base_url=self.api_url, timeout=timeout_s, transport=transport)

    def __repr__(self) -> str:
        return f"KuboRpcStore({self.api_url!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> KuboRpcStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- Storage API
    def put(self, data: bytes) -> Cid:
        """``ipfs add --cid-version=1 --pin`` the bytes.

        Raises :class:`CidMismatchError` unless the node's CID equals :func:`compute_cid`.
        """
        expected = compute_cid(data)
        params = {
            "cid-version": "1",
            "pin": "true",
            # Kubo's defaults, spelled out so a node with other Import.* config still matches.
            "raw-leaves": "true",
            "chunker": f"size-{CHUNK_SIZE}",
            "hash": "sha2-256",
            "trickle": "false",
        }
        response = self._post(
            "add",
            params=params,
            files={"file": ("data", bytes(data), "application/octet-stream")},
        )
        returned: str | None = None
        for line in response.text.splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise StorageError(f"Kubo at {self.api_url} answered add with non-JSON: {line[:200]!r}") from exc
            if isinstance(entry, dict) and isinstance(entry.get("Hash"), str):
                returned = entry["Hash"]
        if returned is None:
            raise StorageError(f"Kubo at {self.api_url} answered add without a Hash: {response.text[:200]!r}")
        try:
            got = Cid.parse(returned)
        except InvalidCidError as exc:
            raise CidMismatchError(f"Kubo at {self.api_url} returned {returned!r}, expected {expected}") from exc
        if got.canonical != expected:
            raise CidMismatchError(
                f"Kubo at {self.api_url} stored the content as {returned}, "
                f"but its CID is {expected}; the node imports with non-default settings "
                "(chunker, layout, max links) or is faulty"
            )
        return expected

    def get(self, cid: Cid | str) -> bytes:
        """``ipfs cat`` the CID and check the bytes hash to it."""
        parsed = _as_cid(cid)
        response = self._post("cat", params={"arg": str(parsed)}, cid=parsed)
        content = response.content
        actual = compute_cid(content)
        if actual != parsed.canonical:
            raise CidMismatchError(f"Kubo at {self.api_url} served content for {parsed} that hashes to {actual}")
        return content

    def has(self, cid: Cid | str) -> bool:
        """Whether the node holds the CID's root block locally.

        Asks ``block/stat`` with ``offline=true``, so the node does not search the network.
        """
        parsed = _as_cid(cid)
        try:
            self._post("block/stat", params={"arg": str(parsed), "offline": "true"}, cid=parsed)
        except CidNotFoundError:
            return False
        return True

    def pin(self, cid: Cid | str) -> None:
        """``ipfs pin add`` the CID."""
        parsed = _as_cid(cid)
        self._post("pin/add", params={"arg": str(parsed)}, cid=parsed)

    # -- internals
    def _post(
        self,
        command: str,
        *,
        params: dict[str, str],
        files: dict[str, tuple[str, bytes, str]] | None = None,
        cid: Cid | None = None,
    ) -> httpx.Response:
        url = f"/api/v0/{command}"
        try:
            response = self._client.post(url, params=params, files=files)
        except httpx.TimeoutException as exc:
            raise StorageError(
                f"Kubo RPC {command} at {self.api_url} timed out after {self.timeout_s} s"
                + (f" (is {cid} available anywhere on the network?)" if cid is not None else "")
            ) from exc
        except httpx.TransportError as exc:
            raise StorageError(
                f"cannot reach the Kubo RPC API at {self.api_url} ({type(exc).__name__}: {exc}); "
                "is the IPFS daemon running (`ipfs daemon`) and is the API address right?"
            ) from exc
        if response.status_code == 200:
            return response
        message = _kubo_error_message(response)
        lowered = message.lower()
        if cid is not None and ("not found" in lowered or "no link named" in lowered):
            raise CidNotFoundError(f"Kubo at {self.api_url} has no content for {cid}: {message}")
        if "invalid cid" in lowered or "invalid path" in lowered:
            raise InvalidCidError(f"Kubo at {self.api_url} rejected the CID: {message}")
        raise StorageError(
            f"Kubo RPC {command} at {self.api_url} failed " f"with HTTP {response.status_code}: {message}"
        )


def _kubo_error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text[:300] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("Message"), str):
        return str(body["Message"])
    return response.text[:300]


def open_storage(kind: str, *, root: pathlib.Path | None = None, api_url: str | None = None) -> Storage:
    """Open the store named by ``kind``.

    ``"embedded"`` needs ``root``; ``"kubo"`` takes an optional ``api_url``.

    Arguments that do not apply to ``kind`` are ignored. Raises :class:`ConfigError` for an unknown
    kind or an embedded store without a root.
    """
    if kind == "embedded":
        if root is None:
            raise ConfigError("storage kind 'embedded' needs a root directory (root=...)")
        return EmbeddedStore(pathlib.Path(root))
    if kind == "kubo":
        return KuboRpcStore(api_url) if api_url is not None else KuboRpcStore()
    raise ConfigError(f"unknown storage kind {kind!r}; use 'embedded' or 'kubo'")
