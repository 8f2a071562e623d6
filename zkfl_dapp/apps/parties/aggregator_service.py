"""The aggregator's (enclave's) service: finalizes each round once it is finalizable.

Idempotent: a round found finalized (a crash after the transaction) is only recorded; re-publishing the model
file is harmless (content addressed). At start it registers its ML-KEM key unless the chain already holds it;
the key pair lives encrypted at rest in the work directory (:func:`enclave_key_pair`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zkfl_dapp.apps.journal import Journal, journal_for
from zkfl_dapp.apps.parties.context import (
    CLOSED,
    Connection,
    Progress,
    _quiet,
    check_basis,
    consortium_circuits,
    deployed_model,
)
from zkfl_dapp.apps.parties.durability import Durability
from zkfl_dapp.attestation.evidence import EvidenceFile
from zkfl_dapp.attestation.sources import enclave_evidence
from zkfl_dapp.chain.deployment import Deployment
from zkfl_dapp.chain.enums import Phase, Rule
from zkfl_dapp.chain.views import read_round
from zkfl_dapp.config import DEV_PASSPHRASE_WARNING, Settings
from zkfl_dapp.crypto.envelope import EnclaveKeyPair
from zkfl_dapp.crypto.key_file import load_key_pair, save_key_pair
from zkfl_dapp.exceptions import ChainError, RoundError
from zkfl_dapp.protocol.enclave import AggregatorEnclave
from zkfl_dapp.protocol.wiring import bound_policy, load_split
from zkfl_dapp.storage.base import Storage


@dataclass
class AggregatorService:
    """The enclave service: finalizes each round once it is finalizable."""

    enclave: AggregatorEnclave
    deployment: Deployment
    chain: Any
    journal: Journal
    progress: Progress = _quiet
    #: when a finalization may be called done (None: at its receipt)
    durability: Durability | None = None
    #: where the TEE evidence comes from (``development``: none, a development enclave; see attestation/sources.py)
    evidence: Callable[[bytes, int, str], EvidenceFile | None] = lambda _key, _chain, _registry: None
    _said: set[tuple[int, str]] = field(default_factory=set)

    def ensure_key_registered(self) -> bool:
        """Register the enclave's public key unless the chain holds it already; returns whether it registered."""
        key_hash, _cid, _measurement = self.deployment.registry.enclaveKey()
        public_key = self.enclave._key_pair.public_key
        if bytes(key_hash) == hashlib.sha256(public_key).digest():
            return False
        registry = self.deployment.registry
        evidence = self.evidence(public_key, int(self.chain.chain_id), str(registry.address))
        cid = self.enclave.publish_key(registry, evidence)
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
        if self.durability is not None:
            try:
                self.durability.wait(self.durability.block_of(final.tx_hash))
            except ChainError as exc:  # not journaled: the next poll finds it finalized, or finalizes again
                return self._say(round_id, f"finalization mined but {exc}: checking the chain again")
        excluded = [{"hospital": o.hospital, "reason": o.reason or ""} for o in final.outcomes if not o.included]
        self.journal.append(
            "finalized",
            round=round_id,
            tx=final.tx_hash,
            gas=final.gas_used,
            model_cid=final.model_cid,
            rule=final.rule,
            excluded=excluded,
            norm_within_noised=final.norm_statistic.noised_within if final.norm_statistic else None,
            norm_included=final.norm_statistic.included if final.norm_statistic else None,
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
    split = load_split(settings)
    circuits, spec = consortium_circuits(settings, split, deployed_model(settings, split, deployment, storage)[0])
    check_basis(deployment, circuits)
    if str(deployment.registry.aggregator()).lower() != str(account.address).lower():
        raise ChainError(f"the deployment's aggregator is not {account.address}: the admin admits it first")
    key_pair = enclave_key_pair(settings, local=conn.local, progress=progress)
    enclave = AggregatorEnclave(
        account, key_pair, storage, circuits, spec, settings.workdir / "enclave" / "proofs", bound_policy(settings)
    )
    journal = journal_for(settings.workdir, "aggregator")
    durability = Durability.of(settings, conn.chain, local=conn.local)
    source = settings.enclave_evidence

    def evidence(public_key: bytes, chain_id: int, registry: str) -> EvidenceFile | None:
        vcek, chain, pccs = settings.sev_vcek_file, settings.sev_cert_chain_file, settings.pccs_url
        return enclave_evidence(
            source, public_key, chain_id, registry, pccs_url=pccs, vcek_file=vcek, cert_chain_file=chain
        )

    return AggregatorService(
        enclave, deployment, conn.chain, journal, progress, durability=durability, evidence=evidence
    )
