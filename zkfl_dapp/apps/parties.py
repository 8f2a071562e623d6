"""Each party as its own process: the hospital agent, the aggregator (enclave) service, the admin's actions
and the auditor's follow mode. They share nothing but the chain and the content store.

* :class:`HospitalAgent` polls the chain; for each open round it has not submitted to (chain state, so a
  restarted agent resumes where the chain says it is) it fetches and checks the global model, trains on its
  own records, commits, seals to the registered enclave key, proves its norm bound and submits; it records
  ``sent`` in its journal only after the receipt. A round it cannot serve is skipped with a reason (journal
  ``skipped``); a transient problem (no enclave key yet, the store unreachable) is retried.
* :class:`AggregatorService` polls the chain; when a round is finalizable (every member submitted, or the
  deadline passed with a quorum) the enclave opens, checks, aggregates and finalizes it. Idempotent: a round
  found finalized (a crash after the transaction) is only recorded; re-publishing the model file is harmless
  (content addressed). At start it registers its ML-KEM key unless the chain already holds it.
* :func:`deploy`, :func:`open_round`, :func:`abort_round`: the admin's actions.
* :class:`AuditFollower`: audits each round as it closes.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zkfl_dapp.apps.journal import Journal
from zkfl_dapp.apps.process import use_project_toolchain
from zkfl_dapp.chain.deployment import Deployment
from zkfl_dapp.chain.enums import Phase, Role, Rule
from zkfl_dapp.chain.views import read_round, read_submissions
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.config import DEV_PASSPHRASE_WARNING, Settings
from zkfl_dapp.core.norms import bound_sq_quantized
from zkfl_dapp.core.policy import NormBoundPolicy, median_norm
from zkfl_dapp.crypto.envelope import EnclaveKeyPair, load_key_pair, save_key_pair
from zkfl_dapp.exceptions import (
    ChainError,
    CommitmentMismatchError,
    ConfigError,
    DigestMismatchError,
    ModelFileError,
    NormBoundError,
    QuantizationError,
    RoundError,
    StorageError,
)
from zkfl_dapp.ml.data import Dataset, FederatedSplit
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.ml.records import load_hospital_dataset
from zkfl_dapp.ml.training import TrainConfig
from zkfl_dapp.protocol.consortium import deploy_consortium
from zkfl_dapp.protocol.enclave import AggregatorEnclave
from zkfl_dapp.protocol.hospital import HospitalClient, fetch_enclave_key, fetch_global_model
from zkfl_dapp.protocol.reports import _last_norm_statistics
from zkfl_dapp.protocol.standardization import deployment_statistics
from zkfl_dapp.protocol.wiring import circuits_for, load_split, model_spec_for
from zkfl_dapp.storage.base import Storage

Progress = Callable[[str], None]
#: Phases after which a round changes no more.
CLOSED = (Phase.FINALIZED, Phase.ABORTED, Phase.ROLLED_BACK)


def _quiet(_: str) -> None:
    return None


def party_dir(workdir: Path, role: str) -> Path:
    """A party's own folder in a work directory (its lock and journal)."""
    return workdir / "parties" / role


def journal_for(workdir: Path, role: str) -> Journal:
    return Journal(party_dir(workdir, role) / "journal.jsonl")


# --- connecting ------------------------------------------------------------------------------------


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
    try:
        yield Connection(ape.chain, ape.project, bool(ape.chain.provider.network.is_local))
    finally:
        ctx.__exit__(None, None, None)


def consortium_circuits(settings: Settings, split: FederatedSplit) -> tuple[CircuitSuite, ModelSpec]:
    """The circuits (from the local artifact cache, built if absent) and the model spec of the consortium."""
    spec = model_spec_for(settings, split)
    return circuits_for(settings, spec), spec


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
    settings: Settings, index: int, split: FederatedSplit, *, deployment: Deployment, storage: Storage
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
    if settings.records is None:
        return split.shards[index]
    statistics = None if settings.statistics else deployment_statistics(deployment.round_manager, storage)
    return load_hospital_dataset(settings, statistics)


# --- the hospital ----------------------------------------------------------------------------------


class Skip(Exception):
    """This round cannot be served; ``transient`` ones are retried on the next poll."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass
class HospitalAgent:
    """A hospital's long-running agent (one process, its own key and records)."""

    client: HospitalClient
    deployment: Deployment
    chain: Any
    journal: Journal
    progress: Progress = _quiet
    #: a round whose deadline is closer than this (chain seconds) is skipped: the submission would be late
    min_seconds_left: int = 10
    #: rounds this hospital sits out (the demo's dropout)
    sit_out: frozenset[int] = frozenset()
    _done: set[int] = field(default_factory=set)
    _said: set[tuple[int, str]] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.client.name

    def step(self) -> str | None:
        """Serve the current round if it is open and not yet served; returns what happened (None: nothing)."""
        rm = self.deployment.round_manager
        round_id = int(rm.currentRoundId())
        if round_id == 0 or round_id in self._done:
            return None
        info = read_round(rm, round_id)
        if info.phase != Phase.OPEN:
            self._done.add(round_id)
            return None
        me = self.client.address.lower()
        if any(s.hospital.lower() == me for s in read_submissions(rm, round_id)):
            self._done.add(round_id)
            if not any(e.get("round") == round_id for e in self.journal.entries("sent")):
                self.journal.append("found-on-chain", round=round_id)
            return self._say(round_id, "already submitted (on-chain): not sending again")
        try:
            return self._serve(round_id, info)
        except Skip as skip:
            if skip.transient:
                return self._say(round_id, f"waiting: {skip.reason}", once=True)
            self._done.add(round_id)
            self.journal.append("skipped", round=round_id, reason=skip.reason)
            return self._say(round_id, f"SKIPPING: {skip.reason}")

    def _say(self, round_id: int, text: str, *, once: bool = False) -> str:
        if not once or (round_id, text) not in self._said:
            self._said.add((round_id, text))
            self.progress(f"{self.name}: round {round_id}: {text}")
        return text

    def _serve(self, round_id: int, info: Any) -> str:
        from ape.exceptions import ContractLogicError, TransactionNotFoundError

        rm = self.deployment.round_manager
        if round_id in self.sit_out:
            raise Skip("told to sit this round out")
        if not self.deployment.registry.isHospital(self.client.address):
            raise Skip(f"{self.client.address} is not a member hospital of this consortium")
        left = info.deadline - int(self.chain.pending_timestamp)
        if left < self.min_seconds_left:
            raise Skip(f"only {left} s left before the deadline (need {self.min_seconds_left})")
        try:
            model = fetch_global_model(
                self.client.storage,
                self.client.spec,
                info.prev_model_commitment,
                info.prev_model_cid,
                suite=self.client.circuits,
            )
        except StorageError as exc:
            raise Skip(f"the global model {info.prev_model_cid} cannot be fetched: {exc}", transient=True) from exc
        except (CommitmentMismatchError, ModelFileError) as exc:
            raise Skip(f"the global model is not the consortium's: {exc}") from exc
        try:
            key = fetch_enclave_key(self.client.storage, self.deployment.registry)
        except (ChainError, StorageError) as exc:
            raise Skip(f"no usable enclave key: {exc}", transient=True) from exc
        except DigestMismatchError as exc:
            raise Skip(f"the enclave key does not match its registration: {exc}") from exc
        self._say(round_id, "training, committing, sealing" + (", proving the norm bound" if info.bounded else ""))
        try:
            update = self.client.prepare_update(round_id, model, key, norm_bound_sq=info.norm_bound_sq)
        except (NormBoundError, QuantizationError) as exc:
            raise Skip(f"nothing leaves the hospital: {exc}") from exc
        if read_round(rm, round_id).phase != Phase.OPEN:
            raise Skip("the round closed while this hospital was preparing its update")
        try:
            receipt = self.client.submit(rm, update)
        except ContractLogicError as exc:
            raise Skip(f"the submission reverted: {type(exc).__name__}({exc})") from exc
        except TransactionNotFoundError as exc:  # sent, but no receipt in time: the chain decides on the next poll
            raise Skip(f"no receipt for the submission yet ({exc}): checking the chain again", transient=True) from exc
        self._done.add(round_id)
        self.journal.append(
            "sent",
            round=round_id,
            tx=str(receipt.txn_hash),
            cid=update.cid,
            samples=update.sample_count,
            gas=int(receipt.gas_used),
            seconds=round(update.train_seconds + update.commit_seconds + update.encrypt_seconds, 3),
        )
        return self._say(round_id, f"submitted {update.cid[:16]}... ({update.sample_count} samples)")


def hospital_agent(
    settings: Settings,
    conn: Connection,
    account: Any,
    storage: Storage,
    index: int,
    *,
    progress: Progress = _quiet,
    sit_out: frozenset[int] = frozenset(),
) -> HospitalAgent:
    """Hospital ``index``'s agent on a deployment recorded in the work directory."""
    deployment = conn.deployment(settings)
    split = load_split(settings)
    circuits, spec = consortium_circuits(settings, split)
    check_basis(deployment, circuits)
    name = f"hospital-{index}"
    client = HospitalClient(
        name,
        account,
        hospital_dataset(settings, index, split, deployment=deployment, storage=storage),
        spec,
        train_config(settings),
        storage,
        circuits,
        settings.workdir,
        index=index,
        prover_workers=settings.prover_workers,
        progress=progress,
    )
    return HospitalAgent(client, deployment, conn.chain, journal_for(settings.workdir, name), progress, sit_out=sit_out)


# --- the aggregator --------------------------------------------------------------------------------


@dataclass
class AggregatorService:
    """The enclave service: finalizes each round once it is finalizable."""

    enclave: AggregatorEnclave
    deployment: Deployment
    chain: Any
    journal: Journal
    progress: Progress = _quiet
    _said: set[tuple[int, str]] = field(default_factory=set)

    def ensure_key_registered(self) -> bool:
        """Register the enclave's public key unless the chain holds it already; returns whether it registered."""
        key_hash, _cid, _measurement = self.deployment.registry.enclaveKey()
        if bytes(key_hash) == hashlib.sha256(self.enclave._key_pair.public_key).digest():
            return False
        cid = self.enclave.publish_key(self.deployment.registry)
        self.journal.append("key-registered", cid=cid)
        self.progress(f"aggregator: enclave key registered ({cid})")
        return True

    def step(self) -> str | None:
        """Finalize the current round if it is finalizable; returns what happened (None: nothing to do)."""
        rm = self.deployment.round_manager
        round_id = int(rm.currentRoundId())
        if round_id == 0:
            return None
        info = read_round(rm, round_id)
        if info.phase in CLOSED:
            if info.phase == Phase.FINALIZED and not self._recorded(round_id):
                self.journal.append("found-finalized", round=round_id, model_cid=info.new_model_cid)
                return self._say(round_id, "already finalized on-chain (nothing to redo)")
            return None
        if info.phase != Phase.OPEN:
            return None
        now = int(self.chain.pending_timestamp)
        everyone = info.submission_count >= info.members
        if not everyone and now <= info.deadline:
            return None
        if not everyone and info.submission_count < info.quorum:
            return self._say(
                round_id,
                f"deadline passed with {info.submission_count} submissions, quorum {info.quorum}: "
                "it cannot be finalized (the admin aborts it)",
                once=True,
            )
        rule = "median" if info.rule == Rule.MEDIAN else "fedavg"
        self._say(round_id, f"{info.submission_count} submissions: decrypting, checking, aggregating ({rule})")
        try:
            final = self.enclave.finalize(rm, round_id)
        except RoundError as exc:  # fewer valid updates than the quorum
            return self._say(round_id, f"cannot finalize: {exc}", once=True)
        excluded = [{"hospital": o.hospital, "reason": o.reason or ""} for o in final.outcomes if not o.included]
        self.journal.append(
            "finalized",
            round=round_id,
            tx=final.tx_hash,
            gas=final.gas_used,
            model_cid=final.model_cid,
            rule=final.rule,
            excluded=excluded,
            update_norm_median=median_norm(final.update_norms) if final.update_norms else None,
            aggregate_seconds=round(final.aggregate_seconds, 3),
            prove_seconds=round(final.prove_seconds, 3),
        )
        for ex in excluded:
            self._say(round_id, f"EXCLUDED {ex['hospital']}: {ex['reason']}")
        return self._say(round_id, f"finalized: model {final.model_cid} (gas {final.gas_used:,})")

    def _recorded(self, round_id: int) -> bool:
        done = ("finalized", "found-finalized")
        return any(e.get("round") == round_id and e.get("event") in done for e in self.journal.entries())

    def _say(self, round_id: int, text: str, *, once: bool = False) -> str:
        if not once or (round_id, text) not in self._said:
            self._said.add((round_id, text))
            self.progress(f"aggregator: round {round_id}: {text}")
        return text


def enclave_key_pair(settings: Settings, *, local: bool, progress: Progress = _quiet) -> EnclaveKeyPair:
    """The enclave's ML-KEM key pair from its encrypted key file, made on first use."""
    passphrase, development = settings.enclave_key_passphrase(local=local)
    if development:
        progress(DEV_PASSPHRASE_WARNING)
    path = settings.enclave_key_file
    if path.is_file():
        return load_key_pair(path, passphrase)
    key_pair = EnclaveKeyPair.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_key_pair(key_pair, path, passphrase)
    progress(f"aggregator: new enclave key pair, encrypted at rest in {path}")
    return key_pair


def aggregator_service(
    settings: Settings, conn: Connection, account: Any, storage: Storage, *, progress: Progress = _quiet
) -> AggregatorService:
    """The aggregator's service on a deployment recorded in the work directory.

    Raises:
        ChainError: the deployment's aggregator is another account, or its basis is not the local circuits'.
    """
    deployment = conn.deployment(settings)
    circuits, spec = consortium_circuits(settings, load_split(settings))
    check_basis(deployment, circuits)
    if str(deployment.registry.aggregator()).lower() != str(account.address).lower():
        raise ChainError(f"the deployment's aggregator is not {account.address}: the admin admits it first")
    key_pair = enclave_key_pair(settings, local=conn.local, progress=progress)
    enclave = AggregatorEnclave(account, key_pair, storage, circuits, spec, settings.workdir / "enclave" / "proofs")
    return AggregatorService(enclave, deployment, conn.chain, journal_for(settings.workdir, "aggregator"), progress)


# --- the admin -------------------------------------------------------------------------------------


def deploy(
    settings: Settings,
    conn: Connection,
    admin: Any,
    storage: Storage,
    members: dict[str, str],
    *,
    progress: Progress = _quiet,
) -> Deployment:
    """Deploy a new consortium and admit ``members`` (role -> address: ``aggregator``, ``hospital-<i>``,
    ``auditor``); records the deployment in the work directory. The aggregator registers its own key."""
    split = load_split(settings)
    circuits, _spec = consortium_circuits(settings, split)
    deployment = deploy_consortium(settings, conn.project, admin, storage, circuits, split, progress)
    for role, address in members.items():
        admit(deployment, admin, role, address)
    deployment.save(settings.deployment_file, chain_id=conn.chain.chain_id, circuit=circuits.name)
    progress(f"admitted {', '.join(members)}; deployment recorded in {settings.deployment_file}")
    return deployment


def _role_of(role: str) -> Role:
    if role == "aggregator":
        return Role.AGGREGATOR
    if role == "auditor" or role.startswith("auditor-"):
        return Role.AUDITOR
    if role.startswith("hospital-"):
        return Role.HOSPITAL
    raise ConfigError(f"unknown role {role!r}: aggregator, auditor or hospital-<i>")


def admit(deployment: Deployment, admin: Any, role: str, address: str) -> Any:
    """Admit ``address`` as ``role`` (its name on-chain is the role: ``hospital-3``)."""
    name = "aggregator-enclave" if role == "aggregator" else "auditor-0" if role == "auditor" else role
    return deployment.registry.admitMember(address, int(_role_of(role)), name, sender=admin)


def remove(deployment: Deployment, admin: Any, address: str) -> Any:
    return deployment.registry.removeMember(address, sender=admin)


def policy_of(settings: Settings) -> NormBoundPolicy:
    return NormBoundPolicy(settings.norm_bound_initial, settings.norm_bound_kappa, settings.norm_bound_floor)


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

    Raises:
        RoundError: the previous round is still open.
    """
    rm = deployment.round_manager
    current = int(rm.currentRoundId())
    if current and read_round(rm, current).phase == Phase.OPEN:
        raise RoundError(f"round {current} is still open: wait for it to close, or `zkfl admin abort`")
    rule = rule or settings.rule
    if rule not in ("fedavg", "median"):
        raise ConfigError(f"unknown aggregation rule {rule!r}: use fedavg or median")
    if norm_bound is None and settings.norm_bound == "auto":
        norm_bound = policy_of(settings).next_bound(*_last_norm_statistics(settings))
    bound_sq = bound_sq_quantized(norm_bound, settings.scale_bits) if norm_bound else 0
    deadline = int(conn.chain.pending_timestamp) + settings.round_seconds
    rule_id = Rule.MEDIAN if rule == "median" else Rule.FEDAVG
    rm.openRoundWithPolicy(deadline, settings.quorum, int(rule_id), bound_sq, sender=admin)
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


# --- the auditor -----------------------------------------------------------------------------------


@dataclass
class AuditFollower:
    """Audits each round as it closes (the whole deployment each time: the checks chain round to round)."""

    run_audit: Callable[[], Any]
    deployment: Deployment
    progress: Progress = _quiet
    audited: int = 0

    def step(self) -> Any | None:
        """Audit once a round closed since the last audit; returns the report (None: nothing new)."""
        rm = self.deployment.round_manager
        latest = int(rm.currentRoundId())
        closed = latest if latest and read_round(rm, latest).phase in CLOSED else latest - 1
        if closed <= self.audited:
            return None
        report = self.run_audit()
        self.audited = closed
        return report


def poll(step: Callable[[], object], *, interval: float, stop: Callable[[], bool] = lambda: False) -> None:
    """Call ``step`` every ``interval`` seconds until ``stop()`` (or SIGTERM/Ctrl-C)."""
    while not stop():
        started = time.monotonic()
        step()
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
