"""Click options shared by the `ape run` scripts (scripts/ holds only thin commands)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import ZkflError

if TYPE_CHECKING:
    from zkfl_dapp.storage.base import Storage

network_option = click.option(
    "--network",
    default=None,
    help="ape network choice (e.g. ethereum:local:foundry); default: embedded anvil with persisted state",
)


def settings_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options that override the ZKFL_* settings."""
    for opt in reversed(
        [
            click.option("--workdir", type=click.Path(), default=None, help="chain state, store, keys, reports"),
            click.option("--storage", type=click.Choice(["embedded", "kubo"]), default=None),
            click.option("--kubo-api-url", default=None, help="Kubo RPC API (with --storage kubo)"),
            click.option("--split", type=click.Choice(["iid", "dirichlet"]), default=None),
            click.option("--seed", type=int, default=None),
            click.option("--anvil-port", type=int, default=None),
            click.option(
                "--rule", type=click.Choice(["fedavg", "median"]), default=None, help="aggregation rule of new rounds"
            ),
            click.option(
                "--norm-bound",
                type=click.Choice(["auto", "off"]),
                default=None,
                help="norm-bound proofs on every submission (auto: the bound policy; default auto)",
            ),
        ]
    ):
        func = opt(func)
    return func


def build_settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


#: What a command says when the chain stops answering mid-way (anvil killed, node gone).
LOST_CHAIN = (
    "lost the connection to the chain ({detail}). Everything reported as submitted or finalized is saved; "
    "a round left open continues with `ape run round --resume` (or `--abort` after its deadline)"
)


def _connection_errors() -> tuple[type[BaseException], ...]:
    import requests
    from ape.exceptions import ProviderNotConnectedError

    return (ConnectionError, requests.exceptions.ConnectionError, ProviderNotConnectedError)


def _contract_errors() -> tuple[type[BaseException], ...]:
    from ape.exceptions import ContractLogicError, DecodingError

    return (ContractLogicError, DecodingError)


def clean_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Report the package's own errors, and a lost chain connection, as one clear line (exit code 1)
    instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ZkflError as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
        except _connection_errors() as exc:
            detail = f"{type(exc).__name__}: {str(exc)[:200]}"
            raise click.ClickException(LOST_CHAIN.format(detail=detail)) from exc
        except _contract_errors() as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise click.ClickException(
                f"a contract call was refused ({type(exc).__name__}: {first}): is every address this command "
                "uses (deployment record, options) a contract of this deployment on this network?"
            ) from exc

    return wrapper


def say(message: str) -> None:
    """A progress line on stderr, with the time."""
    click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


def make_storage(settings: Settings) -> Storage:
    """The content store the settings name (the embedded store, or a Kubo node)."""
    from zkfl_dapp.storage.base import open_storage

    return open_storage(settings.storage, root=settings.store_dir, api_url=settings.kubo_api_url)
