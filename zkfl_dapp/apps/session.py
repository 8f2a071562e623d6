"""Entry-point plumbing shared by the ``ape run`` scripts: circuits, chain session, roles, printing.

``ape run deploy|round|demo`` without ``--network`` use the embedded default: an anvil on loopback
whose state persists in ``<workdir>/chain/anvil-state.json`` across runs. With ``--network`` (any ape
network choice, e.g. ``ethereum:sepolia:node``) the scripts connect there and act with the ape account
aliases named in the settings (``ZKFL_ADMIN_ALIAS`` ...).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import click

from zkfl_dapp.apps.cli import make_storage, say
from zkfl_dapp.apps.process import terminate_as_exit, use_project_toolchain, workdir_lock
from zkfl_dapp.chain.anvil import LocalAnvil
from zkfl_dapp.chain.receipts import poll_receipts_quickly
from zkfl_dapp.circuits.kzg_inference import build_inference_circuit
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.circuits.verifier_codegen import install_verifier
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import ConfigError
from zkfl_dapp.protocol.consortium import Consortium
from zkfl_dapp.protocol.reports import RoundReport
from zkfl_dapp.protocol.roles import Roles
from zkfl_dapp.protocol.wiring import circuits_for, load_split, model_spec_for
from zkfl_dapp.storage.base import Storage


def build_circuits(settings: Settings) -> CircuitSuite:
    """Build (or reuse) the consortium's circuits and install their verifiers; returns them.

    They fit the configured model and hospitals: the commit-and-prove norm circuit (whose KZG basis every
    commitment uses), the median circuit for 5 hospitals, and the inference circuit (proven predictions)
    for the logistic regression.
    """
    circuits = circuits_for(settings, model_spec_for(settings, load_split(settings)), progress=say)
    install_verifier(circuits.norm, settings.contracts_dir)
    if circuits.median is not None:
        install_verifier(circuits.median, settings.contracts_dir)
    if settings.model == "logreg":
        build_inference_circuit(settings, progress=say)
    return circuits


@dataclass
class Session:
    """A connected chain plus everything the scripts act with."""

    settings: Settings
    chain: Any
    project: Any
    roles: Roles
    storage: Storage
    circuits: CircuitSuite
    anvil: LocalAnvil | None

    def bootstrap(self) -> Consortium:
        return Consortium.bootstrap(*self._args(), progress=say, checkpoint=self.checkpoint, local=self.embedded)

    def attach(self) -> Consortium:
        return Consortium.attach(*self._args(), progress=say, checkpoint=self.checkpoint, local=self.embedded)

    @property
    def embedded(self) -> bool:
        """True on the embedded default anvil (no ``--network``): only there may the enclave key file
        fall back to the development passphrase."""
        return self.anvil is not None

    def checkpoint(self) -> None:
        """Make the chain's state durable: the embedded anvil's state file is rewritten now."""
        if self.anvil is not None:
            self.anvil.persist()

    def _args(self) -> tuple[Settings, Any, Any, Roles, Storage, CircuitSuite]:
        return (self.settings, self.project, self.chain, self.roles, self.storage, self.circuits)


def _roles(settings: Settings, local: bool) -> Roles:
    import ape

    if local:
        accts = ape.accounts.test_accounts
        if len(accts) < settings.hospitals + 3:
            raise ConfigError(f"need {settings.hospitals + 3} test accounts, ape has {len(accts)}")
        n = settings.hospitals
        return Roles(accts[0], accts[1], tuple(accts[2 : 2 + n]), auditor=accts[2 + n])
    aliases = settings.account_aliases()
    if aliases is None:
        raise ConfigError(
            "on a non-local network set ZKFL_ADMIN_ALIAS, ZKFL_AGGREGATOR_ALIAS and ZKFL_HOSPITAL_ALIASES "
            "(comma-separated) to ape account aliases (`ape accounts list`)"
        )
    admin, aggregator, hospitals = aliases
    auditor = ape.accounts.load(settings.auditor_alias) if settings.auditor_alias else None
    hospital_accounts = tuple(ape.accounts.load(a) for a in hospitals)
    return Roles(ape.accounts.load(admin), ape.accounts.load(aggregator), hospital_accounts, auditor)


@contextlib.contextmanager
def session(settings: Settings, network: str | None) -> Iterator[Session]:
    """Connect to ``network`` (or the embedded persisted anvil) with circuits built and roles resolved."""
    import ape
    from ape.logging import LogLevel, logger

    logger.set_level(LogLevel.WARNING)  # one line per step from us, not one per transaction from ape
    use_project_toolchain()
    if network is not None:
        settings.enclave_key_passphrase(local=False)  # fail fast: ZKFL_ENCLAVE_PASSPHRASE is required there
    anvil: LocalAnvil | None = None
    with contextlib.ExitStack() as stack:
        stack.enter_context(workdir_lock(settings.workdir))
        stack.enter_context(terminate_as_exit())
        circuits = build_circuits(settings)
        storage = make_storage(settings)
        if network is None:
            anvil = LocalAnvil(settings.chain_state, port=settings.anvil_port, mnemonic=settings.mnemonic)
            stack.enter_context(anvil)
            say(f"local chain: anvil at {anvil.url}, state persisted in {settings.chain_state}")
            stack.enter_context(
                ape.networks.ethereum.local.use_provider("foundry", provider_settings={"host": anvil.url})
            )
            poll_receipts_quickly(ape.chain.provider.web3)
            local = True
        else:
            ctx = ape.networks.parse_network_choice(network)
            stack.enter_context(ctx)
            local = ape.chain.provider.network.is_local
            say(f"connected to {network}")
        roles = _roles(settings, local)
        yield Session(settings, ape.chain, ape.project, roles, storage, circuits, anvil)


def print_round(report: RoundReport) -> None:
    click.echo(f"\nround {report.round_id}: {len(report.participants)} participants ({', '.join(report.participants)})")
    for ex in report.excluded:
        click.echo(f"  excluded {ex['hospital']}: {ex['reason']}")
    bound = f"norm bound {report.norm_bound:.4g}" if report.norm_bound is not None else "no norm bound"
    click.echo(f"  rule {report.rule}, {bound}; norm proofs {report.norm_prove_seconds:.1f} s in all")
    for ref in report.norm_refused:
        click.echo(f"  NOT accepted {ref['hospital']}: {ref['reason']}")
    if report.privacy.get("dp"):
        eps, total = report.privacy.get("epsilon_round"), report.privacy.get("epsilon_total") or {}
        worst = max((v for v in total.values() if v is not None), default=None)
        click.echo(f"  differential privacy: epsilon {eps} this round, at most {worst} per hospital so far")
    click.echo(
        f"  global-model accuracy {_pct(report.accuracy)} (plain FedAvg baseline {_pct(report.baseline_accuracy)})\n"
        f"  {_finalization_line(report)}\n"
        f"  finalize tx {report.finalize_tx}\n"
        f"  new model {report.model_cid} (commitment {report.model_commitment[:18]}...)"
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def _finalization_line(report: RoundReport) -> str:
    if report.rule == "median":
        return (
            f"median proof {report.prove_seconds:.2f} s, {report.proof_bytes} B; "
            f"finalization gas {report.finalize_gas:,} (proof verified on-chain)"
        )
    return (
        f"aggregate {report.aggregate_seconds:.2f} s (no prover); finalization gas {report.finalize_gas:,} "
        f"(the contract derived the model's KZG commitment from the hospitals' own)"
    )
