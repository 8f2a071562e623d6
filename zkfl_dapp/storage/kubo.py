"""A :class:`~zkfl_dapp.storage.base.Storage` backed by a Kubo node's RPC API over plain HTTP.
"""

from __future__ import annotations

import json

import httpx

from zkfl_dapp.exceptions import (
    CidMismatchError,
    CidNotFoundError,
    ConfigError,
    ContentTooLargeError,
    InvalidCidError,
    StorageError,
)
from zkfl_dapp.storage.cid import CHUNK_SIZE, Cid, _as_cid
from zkfl_dapp.storage.unixfs import _verify_block, compute_cid

#: Default cap on what one ``get`` returns (the embedded store's default too).
DEFAULT_MAX_GET_BYTES = 64 << 20


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
        *,
        max_bytes: int = DEFAULT_MAX_GET_BYTES,
    ) -> None:
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be positive, got {timeout_s}")
        if max_bytes < 1:
            raise ConfigError(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = max_bytes
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
        """``ipfs cat`` the CID and check the bytes hash to it.

        The answer is read as a stream and refused (:class:`ContentTooLargeError`) as soon as it passes
        ``max_bytes``; the node is asked for at most ``max_bytes + 1`` bytes in the first place.
        """
        parsed = _as_cid(cid)
        content = self._cat(parsed)
        actual = compute_cid(content)
        if actual != parsed.canonical:
            raise CidMismatchError(f"Kubo at {self.api_url} served content for {parsed} that hashes to {actual}")
        return content

    def block(self, cid: Cid | str) -> bytes:
        """``ipfs block get`` the CID: its one block (a raw leaf or a dag-pb node), checked against its CID."""
        parsed = _as_cid(cid)
        data = self._post("block/get", params={"arg": str(parsed)}, cid=parsed).content
        _verify_block(parsed, data)
        return data

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
    def _cat(self, cid: Cid) -> bytes:
        params = {"arg": str(cid), "length": str(self.max_bytes + 1)}
        out = bytearray()
        try:
            with self._client.stream("POST", "/api/v0/cat", params=params) as response:
                if response.status_code != 200:
                    response.read()
                    self._check(response, "cat", cid)
                for chunk in response.iter_bytes():
                    if len(out) + len(chunk) > self.max_bytes:
                        raise ContentTooLargeError(
                            f"Kubo at {self.api_url} serves more than this store's cap of {self.max_bytes} bytes "
                            f"(max_bytes) for {cid}: refusing to read further"
                        )
                    out += chunk
        except httpx.TransportError as exc:
            raise self._transport_error(exc, "cat", cid) from exc
        return bytes(out)

    def _transport_error(self, exc: httpx.TransportError, command: str, cid: Cid | None) -> StorageError:
        if isinstance(exc, httpx.TimeoutException):
            return StorageError(
                f"Kubo RPC {command} at {self.api_url} timed out after {self.timeout_s} s"
                + (f" (is {cid} available anywhere on the network?)" if cid is not None else "")
            )
        return StorageError(
            f"cannot reach the Kubo RPC API at {self.api_url} ({type(exc).__name__}: {exc}); "
            "is the IPFS daemon running (`ipfs daemon`) and is the API address right?"
        )

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
        except httpx.TransportError as exc:
            raise self._transport_error(exc, command, cid) from exc
        return self._check(response, command, cid)

    def _check(self, response: httpx.Response, command: str, cid: Cid | None) -> httpx.Response:
        """The response when it is a success; otherwise the typed error it stands for."""
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

