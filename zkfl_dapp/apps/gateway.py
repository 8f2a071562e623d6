"""A loopback HTTP gateway for the web UI: the built UI, its config, and ``GET /ipfs/<cid>``.

Content comes from a :class:`~zkfl_dapp.storage.Storage` whose ``get`` checks every block against its
CID, so the gateway never serves content that does not match the CID asked for:

- ``200`` with the bytes when the content is intact;
- ``404`` (JSON ``{"error": "not_found", ...}``) when nothing is stored under the CID;
- ``502`` (JSON ``{"error": "integrity", ...}``) when the stored content does not hash to its CID,
  which is how the UI shows a tampered artifact;
- ``400`` for something that is not a CID (or one the stores refuse: not full-length sha2-256);
- ``502`` (JSON ``{"error": "too_large", ...}``) for content beyond the store's size or DAG limits.

``GET /ipfs/<cid>?format=raw`` (or ``Accept: application/vnd.ipld.raw``, as Kubo's gateway) serves the one block
stored under the CID, a raw leaf or a dag-pb node, checked against the CID like the rest: the web UI fetches a
multi-block file block by block and checks each block's hash and links itself.

``GET /config.json`` suggests the chain's RPC endpoint and the RoundManager (the page shows them as the
server's, lets a user pin others in its URL, and reads every other address from the chain).

The server binds 127.0.0.1 only, and still treats its clients as hostile: a request whose ``Host`` is not
the gateway's own loopback address (``127.0.0.1``, ``localhost`` or ``[::1]`` with its port) gets ``421``
(a web page that rebinds its DNS name to 127.0.0.1 cannot read the gateway); a connection idle for
``idle_timeout_s`` (10 s) is closed; beyond ``max_connections`` concurrent connections a new one gets
``503`` at once, without a thread; error bodies never name a server path.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.exceptions import (
    CidMismatchError,
    CidNotFoundError,
    ConfigError,
    ContentTooLargeError,
    DagTooDeepError,
    InvalidCidError,
    StorageError,
)
from zkfl_dapp.storage.base import BlockStorage, Storage
from zkfl_dapp.storage.cid import Cid

DEFAULT_UI_DIR = REPO_ROOT / "frontend" / "dist"
LOOPBACK = "127.0.0.1"

#: Seconds a connection may sit idle (or half-send a request) before the gateway closes it.
DEFAULT_IDLE_TIMEOUT_S = 10.0

#: Connections served at once; one more is answered 503 and closed without a handler thread.
DEFAULT_MAX_CONNECTIONS = 32

_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def ui_config(rpc_url: str, chain_id: int, contracts: dict[str, str], **extra: Any) -> dict[str, Any]:
    """The JSON the UI reads from ``/config.json``."""
    return {"rpcUrl": rpc_url, "chainId": chain_id, "contracts": contracts, **extra}


def config_from_deployment(deployment_file: Path, rpc_url: str) -> dict[str, Any]:
    """Build the UI config from a ``deployment.json`` written by ``ape run deploy``/``demo``.

    Only a suggestion: the page shows where each value came from and a user may pin others in its URL
    (``?rpc=...&rounds=...&registry=...``). Every other contract (the PredictionRegistry, the verifiers) the page
    reads from the chain: ``ConsortiumRegistry.predictionRegistry()``, ``RoundManager.normVerifier()``, ...
    """
    record = json.loads(Path(deployment_file).read_text())
    contracts = {name: str(record["contracts"][name]) for name in ("RoundManager", "ConsortiumRegistry")}
    return ui_config(rpc_url, int(record.get("chain_id", 31337)), contracts)


class _Handler(BaseHTTPRequestHandler):
    server: Gateway
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout_s)  # an idle or half-sent request ends here

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # -- responses
    def _headers(self, status: int, ctype: str, length: int, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self._headers(status, ctype, len(body), extra)
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        headers = {"Cache-Control": "no-store", **(extra or {})}
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _error(self, status: int, code: str, message: str, **fields: Any) -> None:
        self._json(status, {"error": code, "message": message, "status": status, **fields})

    # -- routes
    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.allowed_hosts:
            self.close_connection = True
            self._error(
                HTTPStatus.MISDIRECTED_REQUEST,
                "bad_host",
                f"this gateway serves {self.server.url} only (Host {host[:100]!r} refused)",
            )
            return
        url = urlsplit(self.path)
        path = unquote(url.path)
        if path == "/config.json":
            self._json(HTTPStatus.OK, self.server.config)
        elif path.startswith("/ipfs/"):
            self._ipfs(path[len("/ipfs/") :], parse_qs(url.query))
        else:
            self._static(path)

    def _ipfs(self, rest: str, query: dict[str, list[str]]) -> None:
        cid_text = rest.strip("/")
        try:
            cid = Cid.parse(cid_text)
        except InvalidCidError:
            self._error(HTTPStatus.BAD_REQUEST, "bad_cid", f"not a CID: {cid_text!r}", cid=cid_text)
            return
        accept = self.headers.get("Accept") or ""
        raw = (query.get("format") or [""])[0] == "raw" or "application/vnd.ipld.raw" in accept
        store = self.server.storage
        fetch = store.get
        if raw:
            if not isinstance(store, BlockStorage):
                self._error(HTTPStatus.NOT_IMPLEMENTED, "no_blocks", "this store does not serve single blocks")
                return
            fetch = store.block
        try:
            data = fetch(cid)
        # The messages are the gateway's own: a store's errors may name its directory.
        except InvalidCidError:  # a CID the stores refuse (not full-length sha2-256)
            message = f"{cid_text!r} is not a CID the store accepts (full-length sha2-256 only)"
            self._error(HTTPStatus.BAD_REQUEST, "bad_cid", message, cid=cid_text)
            return
        except CidNotFoundError:
            self._error(HTTPStatus.NOT_FOUND, "not_found", f"nothing is stored under {cid_text}", cid=cid_text)
            return
        except (ContentTooLargeError, DagTooDeepError) as exc:
            message = f"the content under {cid_text} exceeds the store's limits ({type(exc).__name__})"
            self._error(HTTPStatus.BAD_GATEWAY, "too_large", message, cid=cid_text)
            return
        except (CidMismatchError, StorageError):
            # the store holds something under this CID, but not content that hashes to it
            self._error(HTTPStatus.BAD_GATEWAY, "integrity", "content does not match its CID", cid=cid_text)
            return
        extra = {"Cache-Control": "public, max-age=31536000, immutable", "X-Ipfs-Path": f"/ipfs/{cid_text}"}
        if raw:
            self._send(HTTPStatus.OK, data, "application/vnd.ipld.raw", {**extra, "Vary": "Accept"})
            return
        filename = (query.get("filename") or [""])[0]
        if filename and all(c.isalnum() or c in "-_." for c in filename):
            extra["Content-Disposition"] = f'attachment; filename="{filename}"'
        self._send(HTTPStatus.OK, data, "application/octet-stream", extra)

    def _static(self, path: str) -> None:
        root = self.server.ui_dir.resolve()
        rel = path.lstrip("/") or "index.html"
        target = (root / rel).resolve()
        if not target.is_relative_to(root):
            self._error(HTTPStatus.FORBIDDEN, "forbidden", "outside the UI directory")
            return
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            if rel == "index.html":
                self._error(HTTPStatus.NOT_FOUND, "ui_not_built", "the UI is not built: run `make frontend`")
            else:
                self._error(HTTPStatus.NOT_FOUND, "not_found", f"no file {rel}")
            return
        ctype = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        self._send(HTTPStatus.OK, target.read_bytes(), ctype, {"Cache-Control": "no-cache"})


class Gateway(ThreadingHTTPServer):
    """The UI server on ``127.0.0.1:<port>`` (port 0 picks a free one); ``start()`` runs it in a thread."""

    daemon_threads = True

    def __init__(
        self,
        storage: Storage,
        config: dict[str, Any],
        *,
        port: int = 8080,
        ui_dir: Path = DEFAULT_UI_DIR,
        verbose: bool = False,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
    ) -> None:
        if idle_timeout_s <= 0 or max_connections < 1:
            raise ConfigError(
                f"the gateway needs a positive idle timeout and connection cap, got {idle_timeout_s} s "
                f"and {max_connections}"
            )
        self.idle_timeout_s = idle_timeout_s
        self._slots = threading.BoundedSemaphore(max_connections)
        self.storage = storage
        self.config = config
        self.ui_dir = Path(ui_dir)
        self.verbose = verbose
        self._thread: threading.Thread | None = None
        super().__init__((LOOPBACK, port), _Handler)
        bound = self.server_address[1]
        #: The Host header values this gateway answers (lower case): its own loopback names and port.
        self.allowed_hosts = frozenset(f"{name}:{bound}" for name in (LOOPBACK, "localhost", "[::1]"))

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection in a thread if a slot is free; otherwise answer 503 and close it here."""
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):  # the client may be gone already: nothing left to tell it
                request.settimeout(1.0)
                request.sendall(_BUSY)
                request.shutdown(socket.SHUT_WR)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def start(self) -> Gateway:
        self._thread = threading.Thread(target=self.serve_forever, name="zkfl-gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
