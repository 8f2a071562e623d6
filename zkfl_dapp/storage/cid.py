"""CIDs exactly as Kubo prints them for ``ipfs add --cid-version=1`` with default settings.
"""

from __future__ import annotations

from multiformats import CID, multicodec, multihash

from zkfl_dapp.exceptions import (
    InvalidCidError,
    StorageError,
)

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


def _require_sha2_256(cid: Cid) -> Cid:
    """``cid`` when its multihash is a full 32-byte sha2-256 digest; anything weaker (a truncated digest,
    the identity "hash", another function) could let a store verify swapped content."""
    code, digest = multihash.unwrap_raw(cid.multihash)
    if code != _SHA2_256 or len(digest) != 32:
        try:
            name = multicodec.get(code=code).name
        except KeyError:
            name = f"0x{code:x}"
        raise InvalidCidError(
            f"{cid} uses the multihash {name} with a {len(digest)}-byte digest: the stores accept only "
            "full-length sha2-256 CIDs (32-byte digests, what Kubo makes by default)"
        )
    return cid


def _as_cid(cid: Cid | str) -> Cid:
    """A CID the stores put, get and pin: valid, and full-length sha2-256 (:class:`InvalidCidError`)."""
    return _require_sha2_256(cid if isinstance(cid, Cid) else Cid.parse(cid))


def _cid_from_bytes(raw: bytes) -> Cid:
    """A dag-pb link's binary CID, held to the same rule as :func:`_as_cid`."""
    try:
        cid = CID.decode(raw)
        multihash.unwrap(cid.digest)
    except Exception as exc:
        raise StorageError(f"dag-pb link holds an invalid binary CID: {exc}") from exc
    text = str(cid.set(base="base32")) if cid.version == 1 else str(cid)
    return _require_sha2_256(str.__new__(Cid, text))

