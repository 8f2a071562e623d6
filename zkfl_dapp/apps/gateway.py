"""A loopback HTTP gateway for the web UI: the built UI, its config, and ``GET /ipfs/<cid>``.

Content comes from a :class:`~zkfl_dapp.storage.Storage` whose ``get`` checks every block against its
CID, so the gateway never serves content that does not match the CID asked for:

- ``200`` with the bytes when the content is intact;
- ``404`` (JSON ``{"error": "not_found", ...}``) when nothing is stored under the CID;
- ``502`` (JSON ``{"error": "integrity", ...}``) when the stored content does not hash to its CID,
  which is how the UI shows a tampered artifact;
- ``400`` for something that is not a CID.

``GET /config.json`` tells the UI where the chain's RPC endpoint is and the contract addresses.
The server binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import mimetypes
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.exceptions import CidMismatchError, CidNotFoundError, InvalidCidError, StorageError
from zkfl_dapp.storage.base import Storage
from zkfl_dapp.storage.cid import Cid

DEFAULT_UI_DIR = REPO_ROOT / "frontend" / "dist"
LOOPBACK = "127.0.0.1"

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

    A PredictionRegistry recorded beside it by ``ape run predict`` (``prediction-registry.json``, for the
    same RoundManager) is included, so the UI lists the prediction receipts too.
    """
    record = json.loads(Path(deployment_file).read_text())
    contracts = dict(record["contracts"])
    predictions = Path(deployment_file).with_name("prediction-registry.json")
    if predictions.is_file():
        extra = json.loads(predictions.read_text())
        if str(extra.get("round_manager", "")).lower() == str(contracts.get("RoundManager", "")).lower():
            contracts.update(extra.get("contracts", {}))
    return ui_config(rpc_url, int(record.get("chain_id", 31337)), contracts)


class _Handler(BaseHTTPRequestHandler):
    server: Gateway
    protocol_version = "HTTP/1.1"

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
        try:
            data = self.server.storage.get(cid)
        except InvalidCidError as exc:  # a CID the stores refuse (not full-length sha2-256)
            self._error(HTTPStatus.BAD_REQUEST, "bad_cid", str(exc), cid=cid_text)
            return
        except CidNotFoundError as exc:
            self._error(HTTPStatus.NOT_FOUND, "not_found", str(exc), cid=cid_text)
            return
        except (CidMismatchError, StorageError) as exc:
            # the store holds something under this CID, but not content that hashes to it
            self._error(HTTPStatus.BAD_GATEWAY, "integrity", f"content does not match its CID: {exc}", cid=cid_text)
            return
        extra = {"Cache-Control": "public, max-age=31536000, immutable", "X-Ipfs-Path": f"/ipfs/{cid_text}"}
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
                self._error(HTTPStatus.NOT_FOUND, "ui_not_built", f"no UI in {root}: run `make frontend` to build it")
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
    ) -> None:
        self.storage = storage
        self.config = config
        self.ui_dir = Path(ui_dir)
        self.verbose = verbose
        self._thread: threading.Thread | None = None
        super().__init__((LOOPBACK, port), _Handler)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}"

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
