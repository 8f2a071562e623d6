"""The embedded store: a directory of verified blocks on disk, with Kubo's CIDs.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
import threading
from dataclasses import dataclass

from zkfl_dapp.exceptions import (
    CidMismatchError,
    CidNotFoundError,
    ConfigError,
    ContentTooLargeError,
    DagTooDeepError,
    InvalidCidError,
    StorageError,
)
from zkfl_dapp.storage.cid import (
    _DAG_PB,
    _RAW,
    _UNIXFS_FILE,
    _UNIXFS_RAW,
    CHUNK_SIZE,
    Cid,
    _as_cid,
    _cid_from_bytes,
)
from zkfl_dapp.storage.unixfs import _decode_file_node, _import, _PbNode, _verify_block

#: Default cap on what one ``get`` returns (every file of the protocol is far smaller).
DEFAULT_MAX_GET_BYTES = 64 << 20

#: Default cap on a UnixFS DAG's depth: Kubo's balanced layout needs 3 levels for 7 GiB.
DEFAULT_MAX_DAG_DEPTH = 16

#: Largest block read from disk: what Kubo accepts (its importer's blocks are 256 KiB or a few KiB).
MAX_BLOCK_BYTES = 2 << 20


def _default_max_blocks(max_bytes: int) -> int:
    """Blocks a Kubo-layout file of ``max_bytes`` has (its leaves, their nodes), with room to spare."""
    return 16 + 2 * (-(-max_bytes // CHUNK_SIZE))


@dataclass
class _Walk:
    """The caps of one DAG walk (``get``, ``has``) and what it has used of them."""

    root: Cid
    max_bytes: int
    max_depth: int
    max_blocks: int
    blocks: int = 0

    def visit(self, depth: int) -> None:
        if depth > self.max_depth:
            raise DagTooDeepError(
                f"the DAG of {self.root} is too deep: more than {self.max_depth} levels (Kubo's files of "
                "gigabytes have 3); refusing it. Raise the store's max_depth only for content you trust"
            )
        self.blocks += 1
        if self.blocks > self.max_blocks:
            raise ContentTooLargeError(
                f"the DAG of {self.root} links more than {self.max_blocks} blocks, more than a file of the "
                f"store's cap ({self.max_bytes} bytes) has: refusing to expand it"
            )

    def append(self, out: bytearray, data: bytes, end: int, owner: tuple[Cid, int] | None) -> None:
        """Append ``data`` unless ``out`` would pass ``end`` (the cap, or the size ``owner`` declares)."""
        if len(out) + len(data) <= end:
            out += data
        elif len(out) + len(data) > self.max_bytes:
            raise ContentTooLargeError(
                f"content {self.root} holds more than this store's cap of {self.max_bytes} bytes (max_bytes): "
                "refusing to read further"
            )
        else:
            assert owner is not None
            raise CidMismatchError(
                f"UnixFS node {owner[0]} declares {owner[1]} bytes but its DAG holds more: "
                "the DAG is corrupt or hostile"
            )


class EmbeddedStore:
    """A :class:`Storage` in a directory.

    ``root/blocks/<cid>`` holds each block, ``root/pins.txt`` the pinned CIDs, one per line.

    Blocks are the raw leaves and dag-pb nodes of the UnixFS DAG, named by their CIDv1 base32
    string, so a multi-chunk file is reassembled from its DAG on :meth:`get`, and every block read
    is checked against its CID. Writes go to a temporary file first and are moved into place with
    :func:`os.replace`, so a reader never sees half a block.
    """

    def __init__(
        self,
        root: pathlib.Path,
        *,
        max_bytes: int = DEFAULT_MAX_GET_BYTES,
        max_depth: int = DEFAULT_MAX_DAG_DEPTH,
        max_blocks: int | None = None,
    ) -> None:
        if max_bytes < 1 or max_depth < 1 or (max_blocks is not None and max_blocks < 1):
            raise ConfigError(
                f"the store's caps must be positive: max_bytes={max_bytes}, max_depth={max_depth}, "
                f"max_blocks={max_blocks}"
            )
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.max_blocks = max_blocks if max_blocks is not None else _default_max_blocks(max_bytes)
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
        """Reassemble the content of ``cid`` from its blocks, checking every block's hash.

        A DAG whose declared size exceeds ``max_bytes`` is refused before it is expanded; the bytes are
        counted while expanding (a node may understate its size), and so are the blocks and the depth.

        Raises:
            ContentTooLargeError: beyond ``max_bytes`` (declared or actual), or too many blocks.
            DagTooDeepError: nested deeper than ``max_depth``.
        """
        parsed = _as_cid(cid)
        out = bytearray()
        self._read_into(parsed, out, self._walk(parsed), depth=0, end=self.max_bytes, owner=None)
        return bytes(out)

    def block(self, cid: Cid | str) -> bytes:
        """The one block stored under ``cid`` (a raw leaf or a dag-pb node), checked against its CID: what a
        gateway serves for ``?format=raw``, so that a client can check a DAG block by block itself."""
        return self._read_block(_as_cid(cid))

    def has(self, cid: Cid | str) -> bool:
        """Whether every block of ``cid``'s DAG is on disk.

        Leaf contents are checked only by :meth:`get`; a dag-pb node that fails its hash makes the
        content count as absent (``put`` of the same bytes repairs it).
        """
        parsed = _as_cid(cid)
        try:
            self._check_present(parsed, self._walk(parsed), depth=0)
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
    def _walk(self, root: Cid) -> _Walk:
        return _Walk(root, self.max_bytes, self.max_depth, self.max_blocks)

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
            with path.open("rb") as fh:
                block = fh.read(MAX_BLOCK_BYTES + 1)
        except FileNotFoundError:
            raise CidNotFoundError(f"no block {cid.canonical} in {self._blocks}") from None
        except OSError as exc:
            raise StorageError(f"cannot read block {path}: {exc}") from exc
        if len(block) > MAX_BLOCK_BYTES:
            raise ContentTooLargeError(
                f"block {cid} is larger than {MAX_BLOCK_BYTES} bytes, more than any block Kubo makes"
            )
        _verify_block(cid, block)
        return block

    def _read_into(
        self, cid: Cid, out: bytearray, walk: _Walk, *, depth: int, end: int, owner: tuple[Cid, int] | None
    ) -> None:
        """Append ``cid``'s content to ``out``, never past ``end`` (the cap, or the size ``owner`` declares)."""
        walk.visit(depth)
        try:
            block = self._read_block(cid)
        except CidNotFoundError:
            if depth == 0:
                raise CidNotFoundError(f"no content stored under {cid} in {self.root}") from None
            raise CidMismatchError(f"content {cid} is incomplete: a block of its DAG is missing") from None
        if cid.codec == _RAW:
            walk.append(out, block, end, owner)
            return
        if cid.codec != _DAG_PB:
            raise StorageError(f"{cid} is neither a raw block nor a UnixFS (dag-pb) node")
        node = self._decode(cid, block)
        start = len(out)
        if node.filesize is not None:
            if start + node.filesize > walk.max_bytes:
                raise ContentTooLargeError(
                    f"{cid} declares {node.filesize} bytes, more than this store's cap of {walk.max_bytes} bytes "
                    "(max_bytes): refusing to expand it"
                )
            if start + node.filesize > end:
                raise CidMismatchError(f"UnixFS node {cid} declares more bytes than its parent {owner and owner[0]}")
            end, owner = start + node.filesize, (cid, node.filesize)
        walk.append(out, node.data, end, owner)
        for raw_link in node.links:
            self._read_into(_cid_from_bytes(raw_link), out, walk, depth=depth + 1, end=end, owner=owner)
        if node.filesize is not None and len(out) - start != node.filesize:
            raise StorageError(
                f"UnixFS node {cid} declares {node.filesize} bytes " f"but its DAG holds {len(out) - start}"
            )

    def _check_present(self, cid: Cid, walk: _Walk, *, depth: int) -> None:
        walk.visit(depth)
        if cid.codec != _DAG_PB:
            if not self._block_path(cid).is_file():
                raise CidNotFoundError(str(cid))
            return
        node = self._decode(cid, self._read_block(cid))
        for raw_link in node.links:
            self._check_present(_cid_from_bytes(raw_link), walk, depth=depth + 1)

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

