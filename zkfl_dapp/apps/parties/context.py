"""What every party process needs before it acts: a chain connection, its own folder and journal, the
consortium's circuits, training settings and records, and a polling loop.

Kept apart from the parties themselves so that the hospital agent, the aggregator service, the admin's actions
and the audit follower depend on one shared context and not on each other.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from zkfl_dapp.apps.process import use_project_toolchain
from zkfl_dapp.chain.deployment import Deployment
from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.receipts import poll_receipts_quickly
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import ChainError, ConfigError
from zkfl_dapp.ml.data import Dataset, FederatedSplit
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.ml.records import load_hospital_dataset
from zkfl_dapp.ml.schema import RecordSchema, load_schema
from zkfl_dapp.ml.training import TrainConfig
from zkfl_dapp.protocol.standardization import deployment_definition, deployment_statistics
from zkfl_dapp.protocol.wiring import circuits_for, model_spec_for
from zkfl_dapp.storage.base import Storage

Progress = Callable[[str], None]
#: Phases after which a round changes no more.
CLOSED = (Phase.FINALIZED, Phase.ABORTED, Phase.ROLLED_BACK, Phase.INVALIDATED)


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Connection:
    """A chain connection: ape's chain and project, and whether this is a local development chain."""

    chain: Any
    project: Any
    local: bool

    def deployment(self, settings: Settings) -> Deployment:
        return Deployment.load(settings.deployment_file, self.project)


@contextlib.contextmanager
def connect(settings: Settings, *, rpc_url: str | None = None, network: str | None = None) -> Iterator[Connection]:
    """Connect to ``network`` (an ape network choice) or to the node at ``rpc_url`` (default: the local anvil at
    ``settings.anvil_port``). A party never starts a chain of its own: an unreachable node is an error.

    Raises:
        ChainError: nothing answers at ``rpc_url``.
    """
    import ape
    from ape.exceptions import ProviderError
    from ape.logging import LogLevel, logger

    logger.set_level(LogLevel.WARNING)
    use_project_toolchain()
    if network is not None:
        ctx = ape.networks.parse_network_choice(network)
    else:
        url = rpc_url or f"http://127.0.0.1:{settings.anvil_port}"
        ctx = ape.networks.ethereum.local.use_provider(
            "foundry", provider_settings={"host": url, "manage_process": False}
        )
    try:
        ctx.__enter__()
    except (ProviderError, ConnectionError) as exc:
        if network is not None:
            raise
        where = rpc_url or f"http://127.0.0.1:{settings.anvil_port}"
        raise ChainError(f"no chain answers at {where}: start it (`zkfl chain`) or give --rpc-url") from exc
    local = bool(ape.chain.provider.network.is_local)
    if local:
        poll_receipts_quickly(ape.chain.provider.web3)
    try:
        yield Connection(ape.chain, ape.project, local)
    finally:
        ctx.__exit__(None, None, None)


def consortium_circuits(
    settings: Settings, split: FederatedSplit, spec: ModelSpec | None = None
) -> tuple[CircuitSuite, ModelSpec]:
    """The circuits (from the local artifact cache, built if absent) and the model spec of the consortium (``spec``
    when given, else the settings')."""
    spec = spec or model_spec_for(settings, split)
    return circuits_for(settings, spec), spec


def deployed_model(
    settings: Settings, split: FederatedSplit, deployment: Deployment, storage: Storage
) -> tuple[ModelSpec, RecordSchema | None]:
    """The model a deployment trains, and its own schema: what the chain's circuit manifest names for a consortium
    deployed on its own schema, else the settings' model over the bundled data set (schema None)."""
    own = deployment_definition(deployment.round_manager, storage)
    if own is None:
        return model_spec_for(settings, split), None
    return own


def check_basis(deployment: Deployment, circuits: CircuitSuite) -> None:
    """The deployment's pinned KZG basis is the one of the local circuits.

    Raises:
        ChainError: another basis (the circuits were rebuilt, or another consortium).
    """
    digest = bytes(deployment.round_manager.kzgBasisDigest()).hex()
    if digest != circuits.basis.digest():
        raise ChainError(
            f"the deployment's KZG basis ({digest[:16]}...) is not this checkout's circuits' "
            f"({circuits.basis.digest()[:16]}...): use the circuits it was deployed with"
        )


def train_config(settings: Settings) -> TrainConfig:
    return TrainConfig(
        local_epochs=settings.local_epochs,
        batch_size=settings.batch_size,
        lr=settings.learning_rate,
        seed=settings.seed,
        weight_decay=settings.weight_decay,
    )


def hospital_dataset(
    settings: Settings,
    index: int,
    split: FederatedSplit,
    *,
    deployment: Deployment,
    storage: Storage,
    schema: RecordSchema | None = None,
) -> Dataset:
    """A hospital's own records: its records file (``ZKFL_RECORDS`` with ``ZKFL_RECORDS_SCHEMA``), checked
    against and standardized with the statistics the deployment published (followed from the chain's circuit
    manifest, or ``ZKFL_STATISTICS``); without a records file, its shard of the bundled data set's split.

    Raises:
        ConfigError: ``index`` is not one of the consortium's hospitals.
        RecordsError, StatisticsError: a bad records file, or records that do not fit the statistics.
    """
    if not 0 <= index < len(split.shards):
        raise ConfigError(f"hospital index {index}: the consortium has {len(split.shards)} hospitals")
    if schema is not None:  # the consortium's own schema: only the hospital's own records can train on it
        if settings.records is None or settings.records_schema is None:
            raise ConfigError(
                "this consortium was deployed on its own schema: set ZKFL_RECORDS (this hospital's records file) "
                "and ZKFL_RECORDS_SCHEMA (the consortium's schema file)"
            )
        local = load_schema(settings.records_schema)
        if local.digest() != schema.digest():
            raise ConfigError(
                f"{settings.records_schema} (schema {local.digest()[:16]}...) is not the schema this consortium was "
                f"deployed with ({schema.digest()[:16]}..., features {', '.join(schema.feature_names)}): use its file"
            )
    if settings.records is None:
        return split.shards[index]
    statistics = None if settings.statistics else deployment_statistics(deployment.round_manager, storage)
    return load_hospital_dataset(settings, statistics)


def chain_reachable(chain: Any) -> bool:
    """Whether the chain's node answers now (one request)."""
    try:
        return bool(chain.provider.web3.is_connected())
    except Exception:
        return False


def poll(
    step: Callable[[], object],
    *,
    interval: float,
    stop: Callable[[], bool] = lambda: False,
    reachable: Callable[[], bool] | None = None,
    progress: Progress = _quiet,
    max_backoff: float = 30.0,
) -> None:
    """Call ``step`` every ``interval`` seconds until ``stop()`` (or SIGTERM/Ctrl-C).

    With ``reachable``, a step that fails while the chain does not answer is retried with exponential back-off
    (1 s, 2 s, ... up to ``max_backoff``) until it answers again: a restarted chain needs no restarted party. A
    step that fails while the chain answers is a real error and is raised.
    """
    backoff = 1.0
    down_since: float | None = None
    while not stop():
        started = time.monotonic()
        try:
            step()
        except Exception as exc:
            if reachable is None or reachable():
                raise
            if down_since is None:
                down_since = started
                progress(f"the chain does not answer ({type(exc).__name__}): retrying with back-off")
            time.sleep(backoff)
            backoff = min(max_backoff, backoff * 2)
            continue
        if down_since is not None:
            progress(f"the chain answers again after {time.monotonic() - down_since:.0f} s: going on")
            down_since, backoff = None, 1.0
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def poll_chain(conn: Connection, step: Callable[[], object], *, interval: float, progress: Progress = _quiet) -> None:
    """:func:`poll` for a long-running party: a step failing while ``conn``'s chain does not answer is retried with
    back-off, so a restarted chain needs no restarted party."""
    poll(step, interval=interval, reachable=lambda: chain_reachable(conn.chain), progress=progress)
