"""`ape run serve`: the web UI on loopback, over the persisted local chain and the embedded store.

Starts anvil with the chain state of ``--workdir`` (as ``ape run round`` does; or uses ``--rpc-url``
for a chain that already runs), then serves the built UI (``make frontend``), ``/config.json`` and
``GET /ipfs/<cid>`` from the content store on ``http://127.0.0.1:<port>/`` until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import time
from urllib.parse import urlencode

import click

from zkfl_dapp.apps.cli import build_settings, clean_errors, settings_options
from zkfl_dapp.apps.gateway import DEFAULT_UI_DIR, Gateway, config_from_deployment
from zkfl_dapp.apps.process import workdir_lock
from zkfl_dapp.apps.session import make_storage, say
from zkfl_dapp.chain.anvil import LocalAnvil
from zkfl_dapp.exceptions import ChainError, ConfigError


@click.command(short_help="Serve the web UI (consortium, rounds, proofs, lineage) on 127.0.0.1")
@settings_options
@click.option("--port", type=int, default=8080, show_default=True, help="UI/gateway port on 127.0.0.1")
@click.option("--rpc-url", default=None, help="RPC of a chain that already runs (default: start anvil)")
@clean_errors
def cli(port: int, rpc_url: str | None, **overrides: object) -> None:
    settings = build_settings(**overrides)
    if not settings.deployment_file.is_file():
        raise ConfigError(f"no deployment in {settings.workdir}: run `ape run demo` (or `ape run deploy`) first")
    if not (DEFAULT_UI_DIR / "index.html").is_file():
        raise ConfigError(f"the UI is not built ({DEFAULT_UI_DIR}): run `make frontend`")
    storage = make_storage(settings)
    with contextlib.ExitStack() as stack:
        stack.enter_context(workdir_lock(settings.workdir))
        if rpc_url is None:
            if not settings.chain_state.is_file():
                raise ChainError(f"no chain state at {settings.chain_state}: run `ape run demo` first")
            anvil = LocalAnvil(settings.chain_state, port=settings.anvil_port, mnemonic=settings.mnemonic)
            stack.enter_context(anvil)
            rpc_url = anvil.url
            say(f"local chain: anvil at {rpc_url}, state from {settings.chain_state}")
        config = config_from_deployment(settings.deployment_file, rpc_url)
        gateway = stack.enter_context(Gateway(storage, config, port=port))
        say(f"content: {settings.store_dir} via {gateway.url}/ipfs/<cid>")
        click.echo(f"zkFL web UI: open {gateway.url}/  (Ctrl-C to stop)")
        named = config["contracts"]
        pins = urlencode({"rpc": rpc_url, "rounds": named["RoundManager"], "registry": named["ConsortiumRegistry"]})
        click.echo(f"  or with the chain and contracts pinned in the URL: {gateway.url}/?{pins}")
        # SIGTERM (e.g. from a process manager) stops as cleanly as Ctrl-C: anvil dumps its state
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            say("stopping")
