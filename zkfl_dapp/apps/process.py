"""What a command-line process owns: its work directory (one process at a time), its children (stopped on
SIGTERM as on Ctrl-C), and the project's own toolchain (anvil, the solc shim) found without PATH tricks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from zkfl_dapp.config import REPO_ROOT
from zkfl_dapp.exceptions import ConfigError

#: Marks a directory as a zkFL work directory (the demo replaces only such a directory).
WORKDIR_MARKER = ".zkfl-workdir"
_LOCK_FILE = ".lock"
#: Work directories this process holds the lock of (a nested acquisition is a no-op).
_held: set[Path] = set()


@contextlib.contextmanager
def workdir_lock(workdir: Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``workdir`` for the duration: two commands on one work directory would
    drive one chain state and one store from two processes (one's finalization silently lost).

    Raises:
        ConfigError: another process holds the lock (its pid is named).
    """
    key = workdir.resolve()
    if key in _held:
        yield workdir
        return
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / WORKDIR_MARKER).touch()
    fd = os.open(workdir / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise ConfigError(
                f"work directory {workdir} is in use by process {holder}: wait for it to finish, "
                "or give this command another --workdir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        _held.add(key)
        try:
            yield workdir
        finally:
            _held.discard(key)
    finally:
        os.close(fd)  # closing releases the lock


def _raise_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def terminate_as_exit() -> Iterator[None]:
    """Turn SIGTERM into SystemExit while inside, so that every context manager unwinds (anvil is stopped
    cleanly and dumps its state, locks are released) exactly as on Ctrl-C (KeyboardInterrupt)."""
    previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def use_project_toolchain(root: Path = REPO_ROOT) -> None:
    """Let this process (and ape, ape-foundry, py-solc-x) find the checkout's own anvil and solc shim, so
    that ``.venv/bin/ape run ...`` works outside ``make`` as it does inside. Nothing outside the checkout
    is used or written."""
    bin_dir = root / "node_modules" / ".bin"
    path = os.environ.get("PATH", "")
    if bin_dir.is_dir() and str(bin_dir) not in path.split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([str(bin_dir), path]) if path else str(bin_dir)
    shim_dir = root / ".toolchain" / "solcx"
    if shim_dir.is_dir():
        os.environ.setdefault("SOLCX_BINARY_PATH", str(shim_dir))


def replaceable_workdir(workdir: Path) -> bool:
    """Whether ``workdir`` may be replaced by a new demo consortium: absent, empty, or made by this tool."""
    return not workdir.exists() or not any(workdir.iterdir()) or (workdir / WORKDIR_MARKER).exists()


def clear_workdir(workdir: Path) -> bool:
    """Remove everything in a work directory whose lock this process holds, but the lock and the marker;
    returns whether there was anything to remove."""
    if workdir.resolve() not in _held:
        raise ConfigError(f"refusing to clear {workdir}: this process does not hold its lock")
    removed = False
    for child in workdir.iterdir():
        if child.name in (_LOCK_FILE, WORKDIR_MARKER):
            continue
        removed = True
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    return removed
