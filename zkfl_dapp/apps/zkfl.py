"""``zkfl``: one command per party, each its own process with its own key, talking only through the chain and
the content store.

    zkfl keys new --role hospital-0        # an encrypted keyfile (<workdir>/keys/hospital-0.json)
    zkfl chain                             # the local development chain (anvil, state persisted)
    zkfl admin deploy | admit | remove | open-round | abort | status
    zkfl aggregator                        # the enclave service: finalizes rounds as they become finalizable
    zkfl hospital --index 0                # a hospital's agent: serves every round it can
    zkfl auditor [--follow]                # audits the deployment (each round as it closes)
    zkfl demo                              # anvil + aggregator + 5 hospitals as separate processes

Every party command takes ``--rpc-url`` (default: the local anvil at ``--anvil-port``) or ``--network`` (an ape
network choice), and ``--workdir`` (its keys, journal and, on one machine, the shared embedded store and the
deployment record; ``--storage kubo --kubo-api-url`` for a Kubo node instead).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import click

from zkfl_dapp.apps import keys as keystore
from zkfl_dapp.apps.cli import build_settings, clean_errors, make_storage, say, settings_options
from zkfl_dapp.apps.journal import party_dir
from zkfl_dapp.apps.process import terminate_as_exit, workdir_lock
from zkfl_dapp.apps.verdicts import RoundVerdicts
from zkfl_dapp.apps.zkfl_keys import keys
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import ConfigError

rpc_option = click.option("--rpc-url", default=None, help="the chain's RPC (default: local anvil at --anvil-port)")
network_option = click.option("--network", default=None, help="an ape network choice instead of --rpc-url")
poll_option = click.option("--poll", "interval", type=float, default=1.0, show_default=True, help="seconds")


def party_options(func: Callable[..., Any]) -> Callable[..., Any]:
    return settings_options(rpc_option(network_option(func)))


@contextlib.contextmanager
def acting_as(role: str, settings: Settings, rpc_url: str | None, network: str | None) -> Iterator[tuple[Any, Any]]:
    """Connected to the chain as ``role`` (its keyfile decrypted), holding the role's lock in the work directory;
    yields (connection, account). The key is unlocked first, so a missing keyfile or a wrong passphrase is said
    before the (slow) chain connection."""
    say(f"{role}: starting")
    with contextlib.ExitStack() as stack:
        stack.enter_context(workdir_lock(party_dir(settings.workdir, role)))
        from zkfl_dapp.circuits.proving import sweep_stale_scratch  # loads ezkl: not for `zkfl --help`

        for stale in sweep_stale_scratch(settings.workdir, skip=[settings.store_dir]):
            say(f"{role}: removed {stale}, the plaintext inputs of a prover that was killed")
        stack.enter_context(terminate_as_exit())
        local = keystore.expects_local_chain(rpc_url, network)
        path = keystore.keyfile_path(settings.workdir, role)
        passphrase = keystore.resolve_passphrase(
            role, local=local, env=os.environ, prompt=keystore.prompt_on_terminal(), keyfile=path
        )
        account = keystore.load_signer(path, passphrase)
        say(f"{role}: key unlocked ({account.address}); loading the ML and chain libraries, then the chain")
        parties = _parties()
        conn = stack.enter_context(parties.connect(settings, rpc_url=rpc_url, network=network))
        if passphrase == keystore.DEV_KEY_PASSPHRASE and not conn.local:
            raise ConfigError(f"{path} is a development keyfile (public passphrase): refused off the local chain")
        if conn.chain.provider.get_balance(account.address) == 0:
            how = f"`zkfl keys fund --role {role}`" if conn.local else "send it ether from an account of yours"
            raise ConfigError(f"{role} {account.address} has no ether on this chain to pay for transactions: {how}")
        say(f"{role}: acting as {account.address}")
        yield conn, account


def _parties() -> Any:
    """The party implementations, imported on first use: they load torch, ezkl and ape (seconds, minutes on a
    loaded machine), so every command says something first."""
    from zkfl_dapp.apps import parties

    return parties


@click.group()
def main() -> None:
    """zkFL consortium parties: each its own process and key."""


main.add_command(keys)


# --- chain -----------------------------------------------------------------------------------------


@main.command()
@settings_options
@clean_errors
def chain(**overrides: Any) -> None:
    """Run the local development chain (anvil on loopback, state persisted in <workdir>/chain after every block)
    until Ctrl-C."""
    from zkfl_dapp.chain.anvil import LocalAnvil

    settings = build_settings(**overrides)
    anvil = LocalAnvil(settings.chain_state, port=settings.anvil_port, mnemonic=settings.mnemonic)
    with terminate_as_exit(), anvil:
        say(f"anvil at {anvil.url}, state in {settings.chain_state} (saved after every block)")
        anvil.serve_durably()


# --- admin -----------------------------------------------------------------------------------------


@main.group()
def admin() -> None:
    """The consortium admin: deploy, admit/remove members, open and abort rounds."""


@admin.command("deploy")
@party_options
@clean_errors
def admin_deploy(rpc_url: str | None, network: str | None, **overrides: Any) -> None:
    """Deploy a new consortium; admit the aggregator, the hospitals and the auditor whose keyfiles (addresses
    only) are in <workdir>/keys/."""
    from zkfl_dapp.apps.session import build_circuits

    settings = build_settings(**overrides)
    parties = _parties()
    members = {}
    for role in ["aggregator", *(f"hospital-{i}" for i in range(settings.hospitals)), "auditor"]:
        path = keystore.keyfile_path(settings.workdir, role)
        if path.is_file():
            members[role] = keystore.keyfile_address(path)
        elif role != "auditor":
            raise ConfigError(f"no keyfile (or address) for {role} at {path}: the admin admits every member")
    build_circuits(settings)
    with acting_as("admin", settings, rpc_url, network) as (conn, account):
        dep = parties.deploy(settings, conn, account, make_storage(settings), members, progress=say)
    for name, address in dep.addresses().items():
        click.echo(f"{name}: {address}")


@admin.command("admit")
@party_options
@click.option("--role", required=True)
@click.option("--address", required=True)
@click.option("--max-samples", type=click.IntRange(min=1), default=None, help="a hospital's agreed sample-count cap")
@clean_errors
def admin_admit(
    rpc_url: str | None, network: str | None, role: str, address: str, max_samples: int | None, **overrides: Any
) -> None:
    """Admit ADDRESS as ROLE (aggregator, auditor, hospital-<i>); a hospital with the sample-count cap the
    consortium agreed for it (--max-samples: its declared count per update can never exceed it)."""
    settings = build_settings(**overrides)
    parties = _parties()
    with acting_as("admin", settings, rpc_url, network) as (conn, account):
        parties.admit(conn.deployment(settings), account, role, address, max_samples=max_samples)
    say(f"admitted {address} as {role}" + (f" (at most {max_samples} samples per update)" if max_samples else ""))


@admin.command("remove")
@party_options
@click.option("--address", required=True)
@clean_errors
def admin_remove(rpc_url: str | None, network: str | None, address: str, **overrides: Any) -> None:
    """Remove the member ADDRESS."""
    settings = build_settings(**overrides)
    parties = _parties()
    with acting_as("admin", settings, rpc_url, network) as (conn, account):
        parties.remove(conn.deployment(settings), account, address)
    say(f"removed {address}")


@admin.command("open-round")
@party_options
@click.option("--bound", type=float, default=None, help="L2 norm bound (default: the bound policy)")
@clean_errors
def admin_open(rpc_url: str | None, network: str | None, bound: float | None, **overrides: Any) -> None:
    """Open the next round (rule --rule, norm bound --bound or the policy; --norm-bound off for none), after
    publishing the report of every finalized round that has none."""
    settings = build_settings(**overrides)
    parties = _parties()
    with acting_as("admin", settings, rpc_url, network) as (conn, account):
        from zkfl_dapp.apps.parties.reports import publish_missing_reports

        deployment = conn.deployment(settings)
        names = keystore.role_names(settings.workdir)
        # the reports of the rounds that closed since: the bound policy and the UI's accuracy view read them
        publish_missing_reports(settings, conn, deployment, account, make_storage(settings), names=names, progress=say)
        round_id = parties.open_round(settings, conn, deployment, account, norm_bound=bound, progress=say)
    click.echo(round_id)


@admin.command("abort")
@party_options
@clean_errors
def admin_abort(rpc_url: str | None, network: str | None, **overrides: Any) -> None:
    """Abort the open round after its deadline (moved to on the local chain)."""
    settings = build_settings(**overrides)
    parties = _parties()
    with acting_as("admin", settings, rpc_url, network) as (conn, account):
        parties.abort_round(conn, conn.deployment(settings), account, progress=say)


@main.command()
@party_options
@clean_errors
def status(rpc_url: str | None, network: str | None, **overrides: Any) -> None:
    """The rounds (rule, norm bound, quorum, deadline) and their submissions, with the role names of the keyfiles
    in <workdir>/keys where known, as JSON (no key needed)."""
    from zkfl_dapp.chain.views import read_round, read_submissions
    from zkfl_dapp.core.norms import bound_from_quantized

    settings = build_settings(**overrides)
    parties = _parties()
    with parties.connect(settings, rpc_url=rpc_url, network=network) as conn:
        rm = conn.deployment(settings).round_manager
        names = keystore.role_names(settings.workdir)
        rounds = []
        for r in range(1, int(rm.currentRoundId()) + 1):
            info = read_round(rm, r)
            subs = read_submissions(rm, r)
            bound_sq = info.norm_bound_sq
            rounds.append(
                {
                    "round": r,
                    "phase": info.phase.name,
                    "rule": info.rule.name.lower(),
                    "norm_bound": bound_from_quantized(bound_sq, settings.scale_bits) if bound_sq else None,
                    "quorum": info.quorum,
                    "deadline": info.deadline,
                    "members": info.members,
                    "submissions": [
                        {
                            "hospital": s.hospital,
                            "role": names.get(s.hospital.lower()),
                            "cid": s.cid,
                            "samples": s.sample_count,
                        }
                        for s in subs
                    ],
                    "model_cid": info.new_model_cid,
                }
            )
    click.echo(json.dumps({"rounds": rounds}, indent=2))


# --- hospital, aggregator, auditor ----------------------------------------------------------------


@main.command()
@party_options
@click.option("--index", type=int, required=True, help="this hospital's index (its role is hospital-<index>)")
@click.option("--sit-out", type=int, multiple=True, help="a round this hospital skips (demo dropout)")
@click.option("--once", is_flag=True, help="one poll, then exit")
@poll_option
@clean_errors
def hospital(
    rpc_url: str | None,
    network: str | None,
    index: int,
    sit_out: tuple[int, ...],
    once: bool,
    interval: float,
    **overrides: Any,
) -> None:
    """A hospital's agent: serve every open round from the chain's state, until Ctrl-C."""
    settings = build_settings(**overrides)
    parties = _parties()
    role = f"hospital-{index}"
    with acting_as(role, settings, rpc_url, network) as (conn, account):
        storage = make_storage(settings)
        say(f"{role}: loading the consortium's circuits, model and records")
        agent = parties.hospital_agent(
            settings, conn, account, storage, index, progress=say, sit_out=frozenset(sit_out)
        )
        say(f"{role}: watching rounds ({agent.client.shard.num_samples} local records)")
        if once:
            agent.step()
        else:
            parties.poll_chain(conn, agent.step, interval=interval, progress=say)


@main.command()
@party_options
@click.option("--once", is_flag=True, help="one poll, then exit")
@poll_option
@clean_errors
def aggregator(rpc_url: str | None, network: str | None, once: bool, interval: float, **overrides: Any) -> None:
    """The enclave service: register the enclave key, finalize each round once finalizable, until Ctrl-C."""
    settings = build_settings(**overrides)
    parties = _parties()
    with acting_as("aggregator", settings, rpc_url, network) as (conn, account):
        say("aggregator: loading the consortium's circuits and the enclave key")
        service = parties.aggregator_service(settings, conn, account, make_storage(settings), progress=say)
        service.ensure_key_registered()
        say("aggregator: watching rounds")
        if once:
            service.step()
        else:
            parties.poll_chain(conn, service.step, interval=interval, progress=say)


@main.command()
@party_options
@click.option("--follow", is_flag=True, help="keep running: audit each round as it closes")
@click.option("--record", is_flag=True, help="as the auditor, publish each report and record the verdicts")
@poll_option
@clean_errors
def auditor(
    rpc_url: str | None, network: str | None, follow: bool, record: bool, interval: float, **overrides: Any
) -> None:
    """Audit the deployment from the chain and the store alone (once, or each round as it closes)."""
    from zkfl_dapp.audit.auditor import audit, record_audit

    settings = build_settings(**overrides)
    parties = _parties()
    storage = make_storage(settings)
    out_dir = settings.workdir / "parties" / "auditor"
    with contextlib.ExitStack() as stack:
        if record:
            conn, account = stack.enter_context(acting_as("auditor", settings, rpc_url, network))
        else:
            stack.enter_context(workdir_lock(out_dir))
            stack.enter_context(terminate_as_exit())
            conn, account = stack.enter_context(parties.connect(settings, rpc_url=rpc_url, network=network)), None
        dep = conn.deployment(settings)
        rm = dep.round_manager

        verdicts = RoundVerdicts(out_dir / "shown.json")

        def run() -> Any:
            report = audit(
                rm, storage, chain=conn.chain, project=conn.project, workdir=out_dir / "work",
                policy=parties.policy_of(settings),
            )  # fmt: skip
            out_dir.mkdir(parents=True, exist_ok=True)
            (out_dir / "audit.json").write_text(report.to_json())
            (out_dir / "audit.md").write_text(report.to_markdown())
            for line in verdicts.new_lines(report.rounds, report.errors):
                click.echo(line)
            if record and account is not None:
                record_audit(report, rm, storage, account)
            if not report.passed:
                for f in report.errors:
                    click.echo(f"  {f.line()}", err=True)
            return report

        follower = parties.AuditFollower(run, dep, progress=say)
        if not follow:
            report = run()
            if not report.passed:
                raise click.ClickException(f"AUDIT FAILED: {len(report.errors)} discrepancies")
            return
        parties.poll_chain(conn, follower.step, interval=interval, progress=say)


# --- the demo --------------------------------------------------------------------------------------


@main.command()
@settings_options
@click.option("--rounds", type=int, default=None, help="number of rounds (default 5)")
@click.option(
    "--dropout",
    default="4:4",
    show_default=True,
    help="ROUND:HOSPITAL: that hospital sits that round out, which closes on quorum at the deadline ('' for none)",
)
@clean_errors
def demo(rounds: int | None, dropout: str, **overrides: Any) -> None:
    """anvil, the aggregator and every hospital as separate processes (hospitals proving in parallel); the
    admin (this process) opens the rounds and shows them as they close."""
    from zkfl_dapp.apps.launcher import parse_dropout, run_demo

    settings = build_settings(rounds=rounds, **overrides)
    run_demo(settings, absent=parse_dropout(dropout), progress=say, show=click.echo)


if __name__ == "__main__":
    main()
