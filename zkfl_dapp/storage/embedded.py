"""The embedded store: a directory of verified blocks on disk, with Kubo's CIDs.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
import threading

from zkfl_dapp.exceptions import (
    CidMismatchError,
    CidNotFoundError,
    InvalidCidError,
    StorageError,
)
from zkfl_dapp.storage.cid import _DAG_PB, _RAW, _UNIXFS_FILE, _UNIXFS_RAW, Cid, _as_cid, _cid_from_bytes
from zkfl_dapp.storage.unixfs import _decode_file_node, _import, _PbNode, _verify_block


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

