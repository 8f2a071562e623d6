"""The :class:`Storage` port every store implements, and :func:`open_storage` which picks one.
"""

from __future__ import annotations

import pathlib
from typing import Protocol, runtime_checkable

from zkfl_dapp.exceptions import (
    ConfigError,
)
from zkfl_dapp.storage.cid import Cid
from zkfl_dapp.storage.embedded import DEFAULT_MAX_GET_BYTES, EmbeddedStore
from zkfl_dapp.storage.kubo import KuboRpcStore


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


@runtime_checkable
class BlockStorage(Storage, Protocol):
    """A store that also serves single blocks (the gateway's ``?format=raw``): both stores here do."""

    def block(self, cid: Cid | str) -> bytes:
        """The one block under ``cid`` (a raw leaf or a dag-pb node), verified to hash to ``cid``."""
        ...


def open_storage(
    kind: str,
    *,
    root: pathlib.Path | None = None,
    api_url: str | None = None,
    max_bytes: int = DEFAULT_MAX_GET_BYTES,
) -> Storage:
    """Open the store named by ``kind``.

    ``"embedded"`` needs ``root``; ``"kubo"`` takes an optional ``api_url``. ``max_bytes`` caps what one
    ``get`` returns (:class:`ContentTooLargeError` beyond it).

    Arguments that do not apply to ``kind`` are ignored. Raises :class:`ConfigError` for an unknown
    kind or an embedded store without a root.
    """
    if kind == "embedded":
        if root is None:
            raise ConfigError("storage kind 'embedded' needs a root directory (root=...)")
        return EmbeddedStore(pathlib.Path(root), max_bytes=max_bytes)
    if kind == "kubo":
        if api_url is not None:
            return KuboRpcStore(api_url, max_bytes=max_bytes)
        return KuboRpcStore(max_bytes=max_bytes)
    raise ConfigError(f"unknown storage kind {kind!r}; use 'embedded' or 'kubo'")

