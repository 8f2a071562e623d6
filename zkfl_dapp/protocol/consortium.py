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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zkfl_dapp.chain.deployment import Deployment, deploy_contracts
from zkfl_dapp.chain.enums import Role
from zkfl_dapp.circuits.aggregation import AggregationArtifacts, AggregationCircuitSpec
from zkfl_dapp.circuits.defence import DefenceCircuits, ensure_defence_circuits
from zkfl_dapp.config import Settings
from zkfl_dapp.core.commitments import poseidon_commitment
from zkfl_dapp.core.fixedpoint import quantize
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.core.policy import NormBoundPolicy
from zkfl_dapp.crypto.envelope import EnclaveKeyPair, load_key_pair, save_key_pair
from zkfl_dapp.exceptions import ChainError, ConfigError
from zkfl_dapp.ml.data import FederatedSplit, load_federated
from zkfl_dapp.ml.model import ModelSpec, num_params
from zkfl_dapp.ml.training import TrainConfig
from zkfl_dapp.protocol.enclave import AggregatorEnclave
from zkfl_dapp.protocol.hospital import HospitalClient, fetch_global_model
from zkfl_dapp.protocol.publication import publish_circuit
from zkfl_dapp.protocol.reports import _last_norm_statistics
from zkfl_dapp.protocol.rounds import RoundDriver
from zkfl_dapp.storage.base import Storage

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _no_checkpoint() -> None:
    """A chain whose node persists its own state (any network but the embedded anvil) needs nothing."""


@dataclass(frozen=True)
class Roles:
    """The accounts that act in the consortium."""

    admin: Any
    aggregator: Any
    hospitals: tuple[Any, ...]
    auditor: Any | None = None  # admitted as the consortium's auditor when given


def model_spec_for(settings: Settings, split: FederatedSplit) -> ModelSpec:
    if settings.model == "mlp":
        return ModelSpec(num_features=split.num_features, kind="mlp", hidden=settings.mlp_hidden)
    return ModelSpec(num_features=split.num_features)


def circuit_spec_for(settings: Settings, model: ModelSpec) -> AggregationCircuitSpec:
    return AggregationCircuitSpec(
        slots=settings.hospitals, model_size=num_params(model), scale_bits=settings.scale_bits
    )


def defence_for(settings: Settings, art: AggregationArtifacts, progress: Progress = _quiet) -> DefenceCircuits:
    """The norm (and, for 5 slots, median) circuits that fit the aggregation circuit ``art``."""
    s = art.spec
    root, srs = settings.artifacts_dir, settings.ceremony_srs
    return ensure_defence_circuits(s.slots, s.model_size, s.scale_bits, root, ceremony_srs=srs, progress=progress)


def load_split(settings: Settings) -> FederatedSplit:
    return load_federated(settings.hospitals, split=settings.split, alpha=settings.dirichlet_alpha, seed=settings.seed)


class Consortium(RoundDriver):
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
        checkpoint: Callable[[], None] = _no_checkpoint,
    ) -> None:
        self.checkpoint = checkpoint
        self.policy = NormBoundPolicy(settings.norm_bound_initial, settings.norm_bound_kappa, settings.norm_bound_floor)
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
        # the previous round's bound and median update norm, from which the next bound is derived
        self._last_bound, self._last_median_norm = _last_norm_statistics(settings)

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def _parties(
        cls,
        settings: Settings,
        roles: Roles,
        storage: Storage,
        artifacts: AggregationArtifacts,
        defence: DefenceCircuits,
        key_pair: EnclaveKeyPair,
        split: FederatedSplit,
    ) -> tuple[AggregatorEnclave, list[HospitalClient]]:
        if len(roles.hospitals) != settings.hospitals:
            raise ConfigError(f"{settings.hospitals} hospitals configured but {len(roles.hospitals)} accounts given")
        spec = model_spec_for(settings, split)
        enclave = AggregatorEnclave(
            roles.aggregator,
            key_pair,
            storage,
            artifacts,
            spec,
            settings.workdir / "enclave" / "proofs",
            median_artifacts=defence.median,
        )
        cfg = TrainConfig(
            local_epochs=settings.local_epochs,
            batch_size=settings.batch_size,
            lr=settings.learning_rate,
            seed=settings.seed,
        )
        hospitals = [
            HospitalClient(
                f"hospital-{i}",
                acct,
                shard,
                spec,
                cfg,
                storage,
                settings.scale_bits,
                defence.norm,
                settings.workdir,
                index=i,
            )
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
        artifacts: AggregationArtifacts,
        progress: Progress = _quiet,
        defence: DefenceCircuits | None = None,
        checkpoint: Callable[[], None] = _no_checkpoint,
    ) -> Consortium:
        """Deploy the contracts, admit every party, publish the enclave key and the genesis model.

        ``defence`` (the norm and median circuits) is built from the cache when not given.
        """
        split = load_split(settings)
        spec = model_spec_for(settings, split)
        if artifacts.spec != circuit_spec_for(settings, spec):
            raise ConfigError(f"circuit {artifacts.spec.name} does not fit {settings.hospitals} hospitals x {spec}")
        defence = defence or defence_for(settings, artifacts, progress)
        genesis = ModelFile(
            model_kind=spec.kind,
            num_features=spec.num_features,
            scale_bits=settings.scale_bits,
            values=quantize(spec.initial_params(settings.seed), settings.scale_bits),
        )
        genesis_cid = str(storage.put(genesis.to_bytes()))
        circuit_cid = publish_circuit(artifacts, storage, defence.median)
        progress(f"deploying contracts (genesis model {genesis_cid}, circuit manifest {circuit_cid})")
        deployment = deploy_contracts(
            project,
            roles.admin,
            slots=artifacts.spec.slots,
            model_size=artifacts.spec.model_size,
            scale_bits=artifacts.spec.scale_bits,
            empty_slot_commitment=poseidon_commitment((0,) * artifacts.spec.model_size),
            genesis_commitment=genesis.keccak_commitment(),
            genesis_cid=genesis_cid,
            circuit_cid=circuit_cid,
            with_median=defence.median is not None,
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
        enclave, hospitals = cls._parties(settings, roles, storage, artifacts, defence, key_pair, split)
        key_cid = enclave.publish_key(registry)
        progress(f"admitted {len(hospitals)} hospitals and the aggregator; enclave key {key_cid}")
        deployment.save(settings.deployment_file, chain_id=chain.chain_id, circuit=artifacts.spec.name)
        consortium = cls(settings, chain, deployment, storage, roles, enclave, hospitals, split, progress, checkpoint)
        checkpoint()
        consortium._last_bound = consortium._last_median_norm = None  # a new consortium: old reports do not count
        return consortium

    @classmethod
    def attach(
        cls,
        settings: Settings,
        project: Any,
        chain: Any,
        roles: Roles,
        storage: Storage,
        artifacts: AggregationArtifacts,
        progress: Progress = _quiet,
        defence: DefenceCircuits | None = None,
        checkpoint: Callable[[], None] = _no_checkpoint,
    ) -> Consortium:
        """Attach to a deployment made earlier by :meth:`bootstrap` (its record and enclave key file)."""
        deployment = Deployment.load(settings.deployment_file, project)
        split = load_split(settings)
        key_pair = load_key_pair(settings.enclave_key_file)
        defence = defence or defence_for(settings, artifacts, progress)
        enclave, hospitals = cls._parties(settings, roles, storage, artifacts, defence, key_pair, split)
        if str(deployment.registry.aggregator()).lower() != str(roles.aggregator.address).lower():
            raise ChainError("the deployment's aggregator is not this enclave's account")
        return cls(settings, chain, deployment, storage, roles, enclave, hospitals, split, progress, checkpoint)

    # --- rounds -------------------------------------------------------------------------------

    def current_model(self) -> ModelFile:
        commitment, cid = self.deployment.round_manager.currentModel()
        return fetch_global_model(
            self.storage, self.spec, int(commitment), str(cid), scale_bits=self.settings.scale_bits
        )
