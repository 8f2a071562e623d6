"""The hospital's long-running agent: serves each open round it has not submitted to, as the chain says.

A restarted agent resumes where the chain says it is; it records ``sent`` in its journal only once the
submission is durable on the chain (:mod:`~zkfl_dapp.apps.parties.durability`). A round it cannot serve is
skipped with a reason (:class:`Skip`); a transient problem (no enclave key yet, the store unreachable, a
submission not yet durable) is retried on the next poll.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zkfl_dapp.apps.journal import Journal, journal_for
from zkfl_dapp.apps.parties.context import (
    Connection,
    Progress,
    _quiet,
    check_basis,
    consortium_circuits,
    deployed_model,
    hospital_dataset,
    train_config,
)
from zkfl_dapp.apps.parties.durability import Durability
from zkfl_dapp.attestation.policy import AttestationPolicy, policy_from_settings
from zkfl_dapp.chain.deployment import Deployment
from zkfl_dapp.chain.enums import Phase
from zkfl_dapp.chain.views import read_round, read_submissions
from zkfl_dapp.config import Settings
from zkfl_dapp.exceptions import (
    AttestationError,
    ChainError,
    CommitmentMismatchError,
    DigestMismatchError,
    ModelFileError,
    NormBoundError,
    QuantizationError,
    StorageError,
)
from zkfl_dapp.protocol.attested_key import fetch_attested_enclave_key
from zkfl_dapp.protocol.challenges import challenge_false_claims
from zkfl_dapp.protocol.disputes import review_exclusions
from zkfl_dapp.protocol.hospital import HospitalClient, fetch_global_model
from zkfl_dapp.protocol.wiring import dp_config, load_split
from zkfl_dapp.storage.base import Storage


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
    #: when a submission may be called done (None: at its receipt)
    durability: Durability | None = None
    #: this hospital's own attestation policy (None: the defaults, see `_attestation_policy`)
    attestation: AttestationPolicy | None = None
    _done: set[int] = field(default_factory=set)
    _said: set[tuple[int, str]] = field(default_factory=set)
    _settled: set[tuple[int, int]] = field(default_factory=set)  # exclusions reviewed (protocol/disputes.py)
    _claims_checked: set[int] = field(default_factory=set)  # rounds whose optimistic claims were checked

    @property
    def name(self) -> str:
        return self.client.name

    def step(self) -> str | None:
        """Serve the current round if it is open and not yet served; returns what happened (None: nothing)."""
        rm = self.deployment.round_manager
        round_id = int(rm.currentRoundId())
        for done_round in (r for r in (round_id - 1, round_id) if r > 0):  # its own exclusions, and the others'
            c = self.client
            for note in review_exclusions(
                rm, self.deployment.registry, c.account, c.storage, c.circuits, done_round, settled=self._settled
            ):
                self._say(done_round, note)
        for closed_round in (r for r in (round_id - 1, round_id) if r > 0):
            self._check_claims(closed_round)
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

    def _check_claims(self, round_id: int) -> None:
        """Optimistic deployments: once a round's deadline has passed and while its challenge window is open,
        check the other hospitals' chunk proofs off-chain and challenge a false one (protocol.challenges), so
        a false proof is excluded even if the aggregator lets it through. Once per round."""
        rm = self.deployment.round_manager
        if round_id in self._claims_checked or not int(rm.challengeWindow()):
            return
        now = int(self.chain.pending_timestamp)
        if now <= read_round(rm, round_id).deadline:
            return
        self._claims_checked.add(round_id)
        if now >= int(rm.challengeEnd(round_id)):
            return
        c = self.client
        work = (c.workdir or Path("build")) / "claims"
        for false in challenge_false_claims(rm, c.account, round_id, c.storage, c.circuits, work):
            self._say(round_id, f"challenged {false.hospital}'s chunk {false.chunk} proof: {false.reason}")

    def _attestation_policy(self) -> AttestationPolicy:
        if self.attestation is not None:
            return self.attestation
        # the defaults: vendor evidence kinds, no measurement pinned; a development enclave on a local chain only
        return AttestationPolicy(allow_development=bool(self.chain.provider.network.is_local))

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
            key, check = fetch_attested_enclave_key(
                self.client.storage, self.deployment.registry, int(self.chain.chain_id), self._attestation_policy()
            )
        except (ChainError, StorageError) as exc:
            raise Skip(f"no usable enclave key: {exc}", transient=True) from exc
        except DigestMismatchError as exc:
            raise Skip(f"the enclave key does not match its registration: {exc}") from exc
        except AttestationError as exc:
            raise Skip(f"nothing leaves the hospital, the enclave key is not attested as required: {exc}") from exc
        self._say(round_id, f"enclave key {check.summary}")
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
        if self.durability is not None:
            try:
                self.durability.wait(int(receipt.block_number))
            except ChainError as exc:  # not journaled: the next poll finds it on the chain, or sends it again
                raise Skip(f"submission mined but {exc}: checking the chain again", transient=True) from exc
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
    spec, schema = deployed_model(settings, split, deployment, storage)
    circuits, spec = consortium_circuits(settings, split, spec)
    check_basis(deployment, circuits)
    name = f"hospital-{index}"
    client = HospitalClient(
        name,
        account,
        hospital_dataset(settings, index, split, deployment=deployment, storage=storage, schema=schema),
        spec,
        train_config(settings),
        storage,
        circuits,
        settings.workdir,
        index=index,
        prover_workers=settings.prover_workers,
        progress=progress,
        min_samples=settings.min_shard_samples,
        count_granularity=settings.sample_count_granularity,
        dp=dp_config(settings),
    )
    journal = journal_for(settings.workdir, name)
    durability = Durability.of(settings, conn.chain, local=conn.local)
    return HospitalAgent(
        client,
        deployment,
        conn.chain,
        journal,
        progress,
        sit_out=sit_out,
        durability=durability,
        attestation=policy_from_settings(settings, local=conn.local),
    )
