"""Run a Flower app against a consortium deployed on the embedded local chain (``ape run deploy``).

``ape run deploy --workdir W`` leaves the chain's state in ``W/chain/anvil-state.json``; :func:`local_chain`
serves it again on loopback (zkfl_dapp's own :class:`~zkfl_dapp.chain.anvil.LocalAnvil`, ape-free) while the
Flower simulation runs, and writes the state back when it stops, so that ``ape run audit --workdir W`` (or
``ape run round``) continues from what the Flower rounds did.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator

from zkfl_dapp.chain.anvil import LocalAnvil
from zkfl_dapp.config import REPO_ROOT, Settings
from zkfl_dapp.exceptions import ChainError, ConfigError, ToolchainError

#: The main environment's ape (``make install``), which deploys and audits: ape cannot live in this one.
MAIN_APE = REPO_ROOT / ".venv" / "bin" / "ape"


def main_env(settings: Settings) -> dict[str, str]:
    """Environment variables for ``ape run`` in the main environment on this consortium (its settings as
    ``ZKFL_*``, the checkout's toolchain on PATH)."""
    bin_dirs = [str(REPO_ROOT / "node_modules" / ".bin"), str(REPO_ROOT / ".venv" / "bin")]
    return {
        **os.environ,
        "PATH": os.pathsep.join([*bin_dirs, os.environ.get("PATH", "")]),
        "SOLCX_BINARY_PATH": str(REPO_ROOT / ".toolchain" / "solcx"),
        "VIRTUAL_ENV": str(REPO_ROOT / ".venv"),
        "PYTHONPATH": str(REPO_ROOT),
        "ZKFL_WORKDIR": str(settings.workdir),
        "ZKFL_HOSPITALS": str(settings.hospitals),
        "ZKFL_QUORUM": str(settings.quorum),
        "ZKFL_ANVIL_PORT": str(settings.anvil_port),
    }


def ape_run(settings: Settings, *args: str, timeout_s: float = 900) -> subprocess.CompletedProcess[str]:
    """``ape run <args> --workdir <workdir>`` in the main environment (deploy, audit, round ...), captured.

    Raises:
        ToolchainError: the main environment is not installed (``make install``).
    """
    if not MAIN_APE.is_file():
        raise ToolchainError(f"no ape at {MAIN_APE}: run `make install` (the main environment deploys and audits)")
    cmd = [str(MAIN_APE), "run", *args, "--workdir", str(settings.workdir)]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=main_env(settings), capture_output=True, text=True, timeout=timeout_s)


def local_rpc_url(settings: Settings) -> str:
    """The embedded anvil's URL for these settings (loopback, ``settings.anvil_port``)."""
    return f"http://127.0.0.1:{settings.anvil_port}"


@contextlib.contextmanager
def local_chain(settings: Settings) -> Iterator[str]:
    """Serve the deployment's persisted chain state on loopback; yields the RPC URL. The state is saved
    back when the block ends (also on an exception, where anvil still answers).

    The ``ZKFL_*`` environment of this process is what Flower's simulated nodes (Ray workers, started
    from it) build their settings from, so the workdir, hospitals and port are exported here too.

    Raises:
        ConfigError: no chain state in the workdir (deploy first).
    """
    if not settings.chain_state.is_file():
        raise ConfigError(
            f"no chain state at {settings.chain_state}: deploy first (`ape run deploy --workdir {settings.workdir}`)"
        )
    exported = {
        "ZKFL_WORKDIR": str(settings.workdir),
        "ZKFL_HOSPITALS": str(settings.hospitals),
        "ZKFL_QUORUM": str(settings.quorum),
        "ZKFL_ANVIL_PORT": str(settings.anvil_port),
    }
    saved = {k: os.environ.get(k) for k in exported}
    os.environ.update(exported)
    try:
        with LocalAnvil(settings.chain_state, port=settings.anvil_port, mnemonic=settings.mnemonic) as anvil:
            # the state file keeps what the Flower rounds did, however the block ends and anvil is stopped
            try:
                yield anvil.url
            except BaseException:
                with contextlib.suppress(ChainError):
                    anvil.persist()
                raise
            anvil.persist()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def main() -> int:
    """``python -m zkfl_flower.local``: serve the deployment's chain (``ZKFL_WORKDIR`` ...) until interrupted
    (SIGINT or SIGTERM), then save its state, for ``flwr run`` and the ``ape run`` commands after it."""
    import signal
    import threading

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    settings = Settings()
    try:
        with local_chain(settings) as url:
            print(f"serving {settings.workdir}'s chain at {url} (Ctrl-C saves its state and stops)", flush=True)
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
