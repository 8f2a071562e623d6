"""The admin's actions: deploy a consortium, admit and remove members, open and abort rounds.

Each is one call a CLI command (``zkfl admin ...``) or the launcher makes; none keeps state between calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zkfl_dapp.apps.parties.context import Connection, Progress, _quiet, consortium_circuits
from zkfl_dapp.apps.parties.durability import Durability
from zkfl_dapp.chain.deployment import Deployment
from zkfl_dapp.chain.enums import Phase, Role, Rule
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.config import Settings
from zkfl_dapp.core.norms import bound_sq_quantized
from zkfl_dapp.core.policy import NormBoundPolicy
from zkfl_dapp.core.privacy import declared_sample_count
from zkfl_dapp.exceptions import ChainError, ConfigError, RoundError
from zkfl_dapp.ml.bundled_records import bundled_schema
from zkfl_dapp.ml.contributions import StatisticsContribution, combine_contributions
from zkfl_dapp.ml.schema import RecordSchema, load_schema
from zkfl_dapp.ml.statistics import PublishedStatistics
from zkfl_dapp.protocol.consortium import accept_development_enclave, deploy_consortium
from zkfl_dapp.protocol.privacy import check_budget
from zkfl_dapp.protocol.reports import _last_norm_statistics
from zkfl_dapp.protocol.wiring import bound_policy, load_split
from zkfl_dapp.storage.base import Storage


def deploy(
    settings: Settings,
    conn: Connection,
    admin: Any,
    storage: Storage,
    members: dict[str, str],
    *,
    contributions: Sequence[StatisticsContribution] = (),
    progress: Progress = _quiet,
) -> Deployment:
    """Deploy a new consortium and admit ``members`` (role -> address: ``aggregator``, ``hospital-<i>``,
    ``auditor``); records the deployment in the work directory. The aggregator registers its own key.

    On its own schema (``settings.records_schema`` other than the bundled data set's): the standardisation
    statistics are combined from ``contributions``, one per hospital, and each hospital's sample cap is its
    contribution's row count.

    Raises:
        ConfigError: an own schema without contributions, or contributions without a schema.
        StatisticsError: contributions that do not fit the schema or the members.
    """
    split = load_split(settings)
    circuits, _spec = consortium_circuits(settings, split)
    own = own_definition(settings, [r for r in members if r.startswith("hospital-")], contributions)
    deployment = deploy_consortium(settings, conn.project, admin, storage, circuits, split, progress, own=own)
    accept_development_enclave(settings, deployment.registry, admin, local=conn.local, progress=progress)
    caps = {c.hospital: c.count for c in contributions} if own is not None else sample_caps(settings, split)
    for role, address in members.items():
        admit(deployment, admin, role, address, max_samples=caps.get(role))
    uncapped = [role for role in members if role.startswith("hospital-") and role not in caps]
    if uncapped:
        progress(
            f"admin: {', '.join(uncapped)} admitted without an agreed sample cap (own records: the admin cannot "
            "know their size); agree one with `zkfl admin admit --max-samples` (docs/rules.md)"
        )
    deployment.save(settings.deployment_file, chain_id=conn.chain.chain_id, circuit=circuits.name)
    progress(f"admitted {', '.join(members)}; deployment recorded in {settings.deployment_file}")
    return deployment


def own_definition(
    settings: Settings, hospitals: Sequence[str], contributions: Sequence[StatisticsContribution]
) -> tuple[RecordSchema, PublishedStatistics] | None:
    """The schema and combined statistics of a consortium on its own schema; None for the bundled data set's
    schema (or none set) without contributions.

    Raises:
        ConfigError: an own schema without contributions, or contributions without a schema.
        StatisticsError: see :func:`~zkfl_dapp.ml.contributions.combine_contributions`.
    """
    if settings.records_schema is None:
        if contributions:
            raise ConfigError("statistics contributions need the schema they were made with: give --schema")
        return None
    schema = load_schema(settings.records_schema)
    if not contributions:
        if schema.digest() == bundled_schema(settings.dataset).digest():
            return None  # own rows of the bundled data set's columns: its statistics
        raise ConfigError(
            f"{settings.records_schema} is the consortium's own schema: its statistics are combined from every "
            "hospital's records: each runs `zkfl hospital --index I --contribute-statistics FILE` and the admin "
            "passes every FILE with --contribution"
        )
    return schema, combine_contributions(schema, contributions, hospitals)


def _role_of(role: str) -> Role:
    if role == "aggregator":
        return Role.AGGREGATOR
    if role == "auditor" or role.startswith("auditor-"):
        return Role.AUDITOR
    if role.startswith("hospital-"):
        return Role.HOSPITAL
    raise ConfigError(f"unknown role {role!r}: aggregator, auditor or hospital-<i>")


def sample_caps(settings: Settings, split: Any) -> dict[str, int]:
    """The sample-count cap agreed for each hospital at admission: its shard's size when the hospitals train on
    the bundled data set's split (none is known for hospitals with their own records files)."""
    if settings.records is not None:
        return {}
    g = settings.sample_count_granularity
    return {f"hospital-{i}": declared_sample_count(int(shard.num_samples), g) for i, shard in enumerate(split.shards)}


def admit(deployment: Deployment, admin: Any, role: str, address: str, *, max_samples: int | None = None) -> Any:
    """Admit ``address`` as ``role`` (its name on-chain is the role: ``hospital-3``); a hospital with
    ``max_samples``, the sample-count cap the consortium agreed for it (RoundManager refuses a larger count)."""
    name = "aggregator-enclave" if role == "aggregator" else "auditor-0" if role == "auditor" else role
    if max_samples is not None:
        if _role_of(role) != Role.HOSPITAL:
            raise ConfigError(f"a sample cap is for hospitals, not for {role}")
        return deployment.registry.admitHospital(address, name, max_samples, sender=admin)
    return deployment.registry.admitMember(address, int(_role_of(role)), name, sender=admin)


def remove(deployment: Deployment, admin: Any, address: str) -> Any:
    return deployment.registry.removeMember(address, sender=admin)


def policy_of(settings: Settings) -> NormBoundPolicy:
    return bound_policy(settings)


def open_round(
    settings: Settings,
    conn: Connection,
    deployment: Deployment,
    admin: Any,
    *,
    rule: str | None = None,
    norm_bound: float | None = None,
    progress: Progress = _quiet,
) -> int:
    """Open the next round with a policy: ``rule`` (default: the settings'), the L2 ``norm_bound`` (default:
    the bound policy applied to the latest published round report's figures; none when norm bounds are off).
    Returns once the opening is durable (:mod:`~zkfl_dapp.apps.parties.durability`).

    Raises:
        RoundError: the previous round is still open, or it could take a hospital past the DP budget.
        ChainError: the opening is not durable in time (then it is not reported as opened).
    """
    rm = deployment.round_manager
    current = int(rm.currentRoundId())
    if current and read_round(rm, current).phase == Phase.OPEN:
        raise RoundError(f"round {current} is still open: wait for it to close, or `zkfl admin abort`")
    rule = rule or settings.rule
    if rule not in ("fedavg", "median"):
        raise ConfigError(f"unknown aggregation rule {rule!r}: use fedavg or median")
    check_budget(settings, [f"hospital-{i}" for i in range(settings.hospitals)])
    if norm_bound is None and settings.norm_bound == "auto":
        norm_bound = policy_of(settings).next_bound(*_last_norm_statistics(settings))
    bound_sq = bound_sq_quantized(norm_bound, settings.scale_bits) if norm_bound else 0
    deadline = int(conn.chain.pending_timestamp) + settings.round_seconds
    rule_id = Rule.MEDIAN if rule == "median" else Rule.FEDAVG
    receipt = rm.openRoundWithPolicy(deadline, settings.quorum, int(rule_id), bound_sq, sender=admin)
    Durability.of(settings, conn.chain, local=conn.local).wait(int(receipt.block_number))
    round_id = int(rm.currentRoundId())
    bound_text = f"norm bound {norm_bound:.4g}" if bound_sq else "no norm bound"
    progress(f"admin: round {round_id} opened ({rule}, {bound_text}, quorum {settings.quorum}, deadline {deadline})")
    return round_id


def warp_past_deadline(conn: Connection, deadline: int) -> None:
    """On the local development chain only: move chain time past ``deadline``.

    Raises:
        ChainError: not a local chain (wait for the deadline instead).
    """
    if not conn.local:
        raise ChainError("chain time can be moved on the local development chain only")
    conn.chain.pending_timestamp = deadline + 1
    conn.chain.mine()


def abort_round(conn: Connection, deployment: Deployment, admin: Any, *, progress: Progress = _quiet) -> int:
    """Abort the open round after its deadline (moved to on the local chain); returns its id.

    Raises:
        RoundError: no round is open, or (off the local chain) its deadline has not passed.
    """
    rm = deployment.round_manager
    current = int(rm.currentRoundId())
    info = read_round(rm, current) if current else None
    if info is None or info.phase != Phase.OPEN:
        raise RoundError("no round is open: nothing to abort")
    # a round that met its quorum is the aggregator's until its finalize deadline: nobody may abort it before
    until = int(rm.finalizeDeadline(current)) if info.submission_count >= info.quorum else info.deadline
    if int(conn.chain.pending_timestamp) <= until:
        if not conn.local:
            left = until - int(conn.chain.pending_timestamp)
            raise RoundError(
                f"round {current}'s deadline is {left} s away (the aggregator's, once it met its quorum):"
                " it can be aborted after it"
            )
        warp_past_deadline(conn, until)
    rm.abortRound(current, sender=admin)
    progress(f"admin: round {current} aborted; the global model is unchanged")
    return current
