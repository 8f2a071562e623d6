"""A whole consortium on one network: bootstrap it, then run verifiable rounds.

This is the library behind ``ape run deploy``, ``ape run round`` and ``ape run demo``. One round:

1. the admin opens it on top of the current global model;
2. every participating hospital fetches the model, checks it against the chain, trains, commits,
   encrypts to the enclave's registered key and submits;
3. once every member submitted (or the deadline passed with a quorum) the enclave decrypts, checks,
   proves the weighted average and finalizes; the contract accepts only a proof bound to the round.

Beside the proven federation it runs plain floating-point FedAvg on the same splits and participants
(the baseline), so every report shows what the proofs and the quantization cost in accuracy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from zkfl_dapp.chain import Deployment, Role, deploy_contracts
from zkfl_dapp.circuits import AggregationCircuitSpec, CircuitArtifacts
from zkfl_dapp.config import Settings
from zkfl_dapp.crypto import EnclaveKeyPair, load_key_pair, save_key_pair
from zkfl_dapp.data import FederatedSplit, load_federated
from zkfl_dapp.enclave import AggregatorEnclave, Finalization
from zkfl_dapp.exceptions import ChainError, ConfigError
from zkfl_dapp.formats import ModelFile
from zkfl_dapp.hospital import HospitalClient, PreparedUpdate, fetch_enclave_key, fetch_global_model
from zkfl_dapp.model import ModelSpec, accuracy, num_params
from zkfl_dapp.publication import publish_circuit
from zkfl_dapp.quantization import dequantize, poseidon_commitment, quantize
from zkfl_dapp.storage import Storage
from zkfl_dapp.training import TrainConfig, fedavg_float, train_local

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Roles:
    """The accounts that act in the consortium."""

    admin: Any
    aggregator: Any
    hospitals: tuple[Any, ...]
    auditor: Any | None = None  # admitted as the consortium's auditor when given


@dataclass(frozen=True)
class RoundReport:
    """Everything the demo prints about one round (and writes to the reports folder)."""

    round_id: int
    participants: list[str]
    excluded: list[dict[str, str]]
    accuracy: float
    baseline_accuracy: float
    train_seconds: float
    commit_seconds: float
    encrypt_seconds: float
    prove_seconds: float
    verify_seconds: float
    finalize_gas: int
    finalize_tx: str
    model_cid: str
    model_commitment: str
    proof_bytes: int
    proof_cid: str
    wall_seconds: float
    extras: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def model_spec_for(settings: Settings, split: FederatedSplit) -> ModelSpec:
    if settings.model == "mlp":
        return ModelSpec(num_features=split.num_features, kind="mlp", hidden=settings.mlp_hidden)
    return ModelSpec(num_features=split.num_features)


def circuit_spec_for(settings: Settings, model: ModelSpec) -> AggregationCircuitSpec:
    return AggregationCircuitSpec(
        slots=settings.hospitals, model_size=num_params(model), scale_bits=settings.scale_bits
    )


def load_split(settings: Settings) -> FederatedSplit:
    return load_federated(settings.hospitals, split=settings.split, alpha=settings.dirichlet_alpha, seed=settings.seed)


class Consortium:
    """A deployed consortium and the parties acting in it."""

    def __init__(
        self,
        settings: Settings,
        chain: Any,
        deployment: Deployment,
        storage: Storage,
        roles: Roles,
        enclave: AggregatorEnclave,
        hospitals: Sequence[HospitalClient],
        split: FederatedSplit,
        progress: Progress = _quiet,
    ) -> None:
        self.settings = settings
        self.chain = chain
        self.deployment = deployment
        self.storage = storage
        self.roles = roles
        self.enclave = enclave
        self.hospitals = list(hospitals)
        self.split = split
        self.spec = enclave.spec
        self.progress = progress
        self._baseline: np.ndarray | None = None

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def _parties(
        cls,
        settings: Settings,
        roles: Roles,
        storage: Storage,
        artifacts: CircuitArtifacts,
        key_pair: EnclaveKeyPair,
        split: FederatedSplit,
    ) -> tuple[AggregatorEnclave, list[HospitalClient]]:
        if len(roles.hospitals) != settings.hospitals:
            raise ConfigError(f"{settings.hospitals} hospitals configured but {len(roles.hospitals)} accounts given")
        spec = model_spec_for(settings, split)
        enclave = AggregatorEnclave(
            roles.aggregator, key_pair, storage, artifacts, spec, settings.workdir / "enclave" / "proofs"
        )
        cfg = TrainConfig(
            local_epochs=settings.local_epochs,
            batch_size=settings.batch_size,
            lr=settings.learning_rate,
            seed=settings.seed,
        )
        hospitals = [
            HospitalClient(f"hospital-{i}", acct, shard, spec, cfg, storage, settings.scale_bits)
            for i, (acct, shard) in enumerate(zip(roles.hospitals, split.shards, strict=True))
        ]
        return enclave, hospitals

    @classmethod
    def bootstrap(
        cls,
        settings: Settings,
        project: Any,
        chain: Any,
        roles: Roles,
        storage: Storage,
        artifacts: CircuitArtifacts,
        progress: Progress = _quiet,
    ) -> Consortium:
        """Deploy the contracts, admit every party, publish the enclave key and the genesis model."""
        split = load_split(settings)
        spec = model_spec_for(settings, split)
        if artifacts.spec != circuit_spec_for(settings, spec):
            raise ConfigError(f"circuit {artifacts.spec.name} does not fit {settings.hospitals} hospitals x {spec}")
        genesis = ModelFile(
            model_kind=spec.kind,
            num_features=spec.num_features,
            scale_bits=settings.scale_bits,
            values=quantize(spec.initial_params(settings.seed), settings.scale_bits),
        )
        genesis_cid = str(storage.put(genesis.to_bytes()))
        circuit_cid = publish_circuit(artifacts, storage)
        progress(f"deploying contracts (genesis model {genesis_cid}, circuit manifest {circuit_cid})")
        deployment = deploy_contracts(
            project,
            roles.admin,
            slots=artifacts.spec.slots,
            model_size=artifacts.spec.model_size,
            scale_bits=artifacts.spec.scale_bits,
            empty_slot_commitment=poseidon_commitment((0,) * artifacts.spec.model_size),
            genesis_commitment=genesis.commitment(),
            genesis_cid=genesis_cid,
            circuit_cid=circuit_cid,
        )
        registry = deployment.registry
        registry.admitMember(roles.aggregator, int(Role.AGGREGATOR), "aggregator-enclave", sender=roles.admin)
        for i, acct in enumerate(roles.hospitals):
            registry.admitMember(acct, int(Role.HOSPITAL), f"hospital-{i}", sender=roles.admin)
        if roles.auditor is not None:
            registry.admitMember(roles.auditor, int(Role.AUDITOR), "auditor-0", sender=roles.admin)
        key_pair = EnclaveKeyPair.generate()
        settings.enclave_key_file.parent.mkdir(parents=True, exist_ok=True)
        save_key_pair(key_pair, settings.enclave_key_file)
        enclave, hospitals = cls._parties(settings, roles, storage, artifacts, key_pair, split)
        key_cid = enclave.publish_key(registry)
        progress(f"admitted {len(hospitals)} hospitals and the aggregator; enclave key {key_cid}")
        deployment.save(settings.deployment_file, chain_id=chain.chain_id, circuit=artifacts.spec.name)
        return cls(settings, chain, deployment, storage, roles, enclave, hospitals, split, progress)

    @classmethod
    def attach(
        cls,
        settings: Settings,
        project: Any,
        chain: Any,
        roles: Roles,
        storage: Storage,
        artifacts: CircuitArtifacts,
        progress: Progress = _quiet,
    ) -> Consortium:
        """Attach to a deployment made earlier by :meth:`bootstrap` (its record and enclave key file)."""
        deployment = Deployment.load(settings.deployment_file, project)
        split = load_split(settings)
        key_pair = load_key_pair(settings.enclave_key_file)
        enclave, hospitals = cls._parties(settings, roles, storage, artifacts, key_pair, split)
        if str(deployment.registry.aggregator()).lower() != str(roles.aggregator.address).lower():
            raise ChainError("the deployment's aggregator is not this enclave's account")
        return cls(settings, chain, deployment, storage, roles, enclave, hospitals, split, progress)

    # --- rounds -------------------------------------------------------------------------------

    def current_model(self) -> ModelFile:
        commitment, cid = self.deployment.round_manager.currentModel()
        return fetch_global_model(self.storage, self.spec, int(commitment), str(cid))

    def _wait_for_deadline(self, deadline: int) -> None:
        """Past the deadline: warp time on a local dev chain, wait for it elsewhere."""
        if self.chain.provider.network.is_local:
            self.chain.pending_timestamp = deadline + 1
            self.chain.mine()
            return
        while self.chain.blocks.head.timestamp <= deadline:
            self.progress(f"waiting for the deadline ({deadline - self.chain.blocks.head.timestamp} s)")
            time.sleep(min(30, max(1, deadline - self.chain.blocks.head.timestamp)))

    def run_round(self, *, absent: frozenset[int] = frozenset()) -> RoundReport:
        """Run one full round; hospitals whose index is in ``absent`` sit it out."""
        started = time.perf_counter()
        rm = self.deployment.round_manager
        deadline = self.chain.pending_timestamp + self.settings.round_seconds
        rm.openRound(deadline, self.settings.quorum, sender=self.roles.admin)
        round_id = int(rm.currentRoundId())
        info = rm.getRound(round_id)
        self.progress(f"round {round_id}: opened (quorum {self.settings.quorum}, deadline {deadline})")

        global_model = fetch_global_model(self.storage, self.spec, int(info.prevModelCommitment), info.prevModelCid)
        enclave_key = fetch_enclave_key(self.storage, self.deployment.registry)
        participants = [h for i, h in enumerate(self.hospitals) if i not in absent]
        updates: list[PreparedUpdate] = []
        for h in participants:
            update = h.prepare_update(round_id, global_model, enclave_key)
            h.submit(rm, update)
            updates.append(update)
            self.progress(f"round {round_id}: {h.name} submitted {update.cid[:16]}... ({update.sample_count} samples)")
        if absent:
            self._wait_for_deadline(deadline)

        self.progress(f"round {round_id}: enclave decrypting, checking and proving")
        final = self.enclave.finalize(rm, round_id)
        for o in final.outcomes:
            if not o.included:
                self.progress(f"round {round_id}: EXCLUDED slot {o.slot} ({o.hospital}): {o.reason}")
        return self._report(round_id, final, global_model, participants, updates, started)

    def _report(
        self,
        round_id: int,
        final: Finalization,
        start: ModelFile,
        participants: list[HospitalClient],
        updates: list[PreparedUpdate],
        started: float,
    ) -> RoundReport:
        # Baseline: plain float FedAvg over the same participants, continuing its own trajectory from the
        # first round this process runs (which starts from that round's global model: the genesis model's
        # initial parameters for a new consortium).
        base_start = self._baseline if self._baseline is not None else dequantize(start.values, start.scale_bits)
        base_locals = [
            train_local(self.spec, base_start, h.shard, h.train_config, round_id=round_id) for h in participants
        ]
        self._baseline = fedavg_float(base_locals, [h.shard.num_samples for h in participants])
        proven = dequantize(final.model.values, final.model.scale_bits)
        report = RoundReport(
            round_id=round_id,
            participants=[h.name for h in participants],
            excluded=[{"hospital": o.hospital, "reason": o.reason or ""} for o in final.outcomes if not o.included],
            accuracy=accuracy(self.spec, proven, self.split.test),
            baseline_accuracy=accuracy(self.spec, self._baseline, self.split.test),
            train_seconds=sum(u.train_seconds for u in updates),
            commit_seconds=sum(u.commit_seconds for u in updates),
            encrypt_seconds=sum(u.encrypt_seconds for u in updates),
            prove_seconds=final.proof.prove_seconds,
            verify_seconds=final.verify_seconds,
            finalize_gas=final.gas_used,
            finalize_tx=final.tx_hash,
            model_cid=final.model_cid,
            model_commitment=hex(final.model.commitment()),
            proof_bytes=len(final.proof.proof),
            proof_cid=final.proof_cid,
            wall_seconds=time.perf_counter() - started,
        )
        self.settings.reports_dir.mkdir(parents=True, exist_ok=True)
        (self.settings.reports_dir / f"round-{round_id}.json").write_text(report.to_json())
        # Publish the evaluation (held-out accuracy, timings, gas) for the audit trail and the web UI.
        report_cid = str(self.storage.put(report.to_json().encode()))
        self.deployment.round_manager.publishRoundReport(round_id, report_cid, sender=self.roles.admin)
        return report
