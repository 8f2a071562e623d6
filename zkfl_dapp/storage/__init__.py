"""IPFS-compatible content-addressed storage.

Model weights and encrypted updates are stored here and addressed by CIDs that the smart contracts
hold, so a CID computed here is byte-for-byte what Kubo prints for ``ipfs add --cid-version=1``
with default settings:

* content of at most 262144 bytes is a single raw block: CIDv1, codec ``raw`` (0x55), sha2-256,
  base32 lower case (``bafkrei...``); the empty file included;
* larger content is a UnixFS file DAG: 262144-byte chunks (``size-262144`` chunker) stored as raw
  leaves, balanced layout with at most 174 links per node, inner nodes encoded as dag-pb (0x70)
  exactly as boxo encodes them (``bafybei...``).

Two stores implement :class:`Storage` (:mod:`.base`): :class:`EmbeddedStore` (:mod:`.embedded`, a
directory of blocks on disk) and :class:`KuboRpcStore` (:mod:`.kubo`, a Kubo node's RPC API over
HTTP). :func:`open_storage` picks one. :mod:`.cid` and :mod:`.unixfs` compute the CIDs.
"""

from zkfl_dapp.storage.base import Storage, open_storage
from zkfl_dapp.storage.cid import CHUNK_SIZE, MAX_LINKS, Cid
from zkfl_dapp.storage.embedded import EmbeddedStore
from zkfl_dapp.storage.kubo import KuboRpcStore
from zkfl_dapp.storage.unixfs import compute_cid

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
