"""What every UI test module shares: Chromium's location and flags, free loopback ports, screenshots, the ape
scripts that populate a work directory, and serving that work directory (its chain on a fresh anvil, the UI
gateway over its store)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zkfl_dapp.apps.gateway import DEFAULT_UI_DIR, Gateway, config_from_deployment
from zkfl_dapp.chain.anvil import LocalAnvil
from zkfl_dapp.config import Settings
from zkfl_dapp.storage.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "ui-screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shot(page: Any, name: str) -> None:
    """A full-page screenshot into build/ui-screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def ensure_ui_built() -> None:
    if not (DEFAULT_UI_DIR / "index.html").is_file():
        subprocess.run(["node", str(ROOT / "frontend" / "build.mjs")], check=True, cwd=ROOT)


def ape_run(*args: str, workdir: Path) -> None:
    """``ape run ARGS --workdir WORKDIR`` on a fresh anvil port; fails the test with the output's tail."""
    ape = str(Path(sys.executable).with_name("ape"))
    cmd = [ape, "run", *args, "--workdir", str(workdir), "--anvil-port", str(free_port())]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=os.environ.copy(), timeout=900)
    assert proc.returncode == 0, f"{args[0]} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@contextlib.contextmanager
def served(workdir: Path) -> Iterator[tuple[LocalAnvil, Gateway]]:
    """The work directory's persisted chain on a fresh anvil and the UI gateway over its store."""
    anvil = LocalAnvil(workdir / "chain" / "anvil-state.json", port=free_port(), mnemonic=Settings().mnemonic)
    anvil.start()
    try:
        config = config_from_deployment(workdir / "deployment.json", anvil.url)
        with Gateway(EmbeddedStore(workdir / "ipfs"), config, port=0) as gateway:
            yield anvil, gateway
    finally:
        anvil.stop()
