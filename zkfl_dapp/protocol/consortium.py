"""A whole consortium on one network: bootstrap it, then run verifiable rounds.

This is the library behind ``ape run deploy``, ``ape run round`` and ``ape run demo``. One round:

1. the admin opens it on top of the current global model;
2. every participating hospital fetches the model, checks it against the chain, trains, commits,
   encrypts to the enclave's registered key and submits;
3. once every member submitted (or the deadline passed with a quorum) the enclave decrypts, checks every
   update against its KZG commitment, computes the exact weighted average (or proves the median) and
   finalizes; for FedAvg the contract derives the new model's commitment from the hospitals' own.

Beside the proven federation it runs plain floating-point FedAvg on the same splits and participants
(the baseline), so every report shows what the proofs and the quantization cost in accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from zkfl_dapp.attestation.evidence import EvidenceKind
from zkfl_dapp.attestation.policy import DEVELOPMENT_WARNING
from zkfl_dapp.chain.deployment import CommitmentScheme, Deployment, deploy_contracts
from zkfl_dapp.chain.enums import Role
from zkfl_dapp.chain.views import read_current_model
from zkfl_dapp.circuits.kzg import commit_vectors
from zkfl_dapp.circuits.proving import sweep_stale_scratch
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.config import DEV_PASSPHRASE_WARNING, Settings
from zkfl_dapp.core.fixedpoint import quantize
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.core.privacy import declared_sample_count
from zkfl_dapp.crypto.envelope import EnclaveKeyPair
from zkfl_dapp.crypto.key_file import load_key_pair, save_key_pair
from zkfl_dapp.exceptions import ChainError, ConfigError
from zkfl_dapp.ml.bundled_records import bundled_schema, bundled_statistics
from zkfl_dapp.ml.data import FederatedSplit
from zkfl_dapp.ml.model import num_params
from zkfl_dapp.ml.schema import RecordSchema, load_schema
from zkfl_dapp.ml.statistics import PublishedStatistics
from zkfl_dapp.ml.training import TrainConfig
from zkfl_dapp.protocol.challenges import CHUNKED_CHALLENGE_WINDOW
from zkfl_dapp.protocol.enclave import AggregatorEnclave
from zkfl_dapp.protocol.hospital import HospitalClient, fetch_global_model
from zkfl_dapp.protocol.publication import publish_circuit
from zkfl_dapp.protocol.reports import _last_norm_statistics
from zkfl_dapp.protocol.roles import Roles
from zkfl_dapp.protocol.rounds import RoundDriver
from zkfl_dapp.protocol.wiring import bound_policy, dp_config, load_split, model_spec_for
from zkfl_dapp.storage.base import Storage

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _no_checkpoint() -> None:
    """A chain whose node persists its own state (any network but the embedded anvil) needs nothing."""


def _is_local(chain: Any) -> bool:
    try:
        return bool(chain.provider.network.is_local)
    except Exception:  # no provider to ask: be strict
        return False


def _key_passphrase(settings: Settings, chain: Any, local: bool | None, progress: Progress) -> str:
    """The enclave key file's passphrase (see :meth:`Settings.enclave_key_passphrase`)."""
    if local is None:
        local = _is_local(chain)
    passphrase, development = settings.enclave_key_passphrase(local=local)
    if development:
        progress(DEV_PASSPHRASE_WARNING)
    return passphrase


def accept_development_enclave(
    settings: Settings, registry: Any, admin: Any, *, local: bool, progress: Progress = _quiet
) -> bool:
    """The consortium's explicit, on-chain opt-in to a development enclave (no TEE), where the settings allow one
    (:meth:`Settings.development_enclave_allowed`); the UI, the audit and every hospital then show it red.
    Returns whether it opted in."""
    if not settings.development_enclave_allowed(local=local):
        return False
    registry.setEvidenceKindAccepted(int(EvidenceKind.DEVELOPMENT), True, sender=admin)
    progress(f"WARNING: the consortium accepts a {DEVELOPMENT_WARNING}")
    return True


def deploy_consortium(
    settings: Settings,
    project: Any,
    admin: Any,
    storage: Storage,
    circuits: CircuitSuite,
    split: FederatedSplit,
    progress: Progress = _quiet,
    *,
    own: tuple[RecordSchema, PublishedStatistics] | None = None,
) -> Deployment:
    """The admin's part of a new consortium: publish the genesis model and the circuit manifest (with the
    standardisation statistics), deploy the contracts pinned to the circuits' commitment scheme. Members are
    admitted afterwards.

    ``own``: a consortium on its own schema, with the statistics combined from its members' contributions
    (:func:`zkfl_dapp.ml.contributions.combine_contributions`); the manifest then also publishes the schema and
    the model (``ZKFL_MODEL`` over the schema's features), which the parties read back from the chain. Without
    it, the bundled data set's statistics.

    Raises:
        ConfigError: the circuits do not fit the configured hospitals and model, or the statistics another schema;
            an own schema (``ZKFL_RECORDS_SCHEMA`` other than the bundled data set's) without ``own``.
    """
    bundled = bundled_schema(settings.dataset).digest()
    if own is None and settings.records_schema is not None and load_schema(settings.records_schema).digest() != bundled:
        raise ConfigError(
            f"{settings.records_schema} is not the {settings.dataset} data set's schema: a consortium on its own "
            "schema is deployed with `zkfl admin deploy --schema FILE --contribution ...` (docs/operators.md)"
        )
    spec = model_spec_for(settings, split)
    if (circuits.slots, circuits.model_size) != (settings.hospitals, num_params(spec)):
        raise ConfigError(f"circuits {circuits.name} do not fit {settings.hospitals} hospitals x {spec}")
    genesis = ModelFile.genesis(
        spec.kind,
        spec.num_features,
        settings.scale_bits,
        quantize(spec.initial_params(settings.seed), settings.scale_bits),
        circuits.pad_rows,
        chunk=circuits.layout.chunk if circuits.chunked else 0,
    )
    genesis_cid = str(storage.put(genesis.to_bytes()))
    genesis_commitment = commit_vectors(genesis.values, circuits.layout, circuits.basis)
    if own is None:
        statistics = bundled_statistics(settings.dataset, split)  # from the hospitals' sums, not pooled rows
        circuit_cid = publish_circuit(circuits, storage, statistics=statistics.to_bytes())
    else:
        schema, statistics = own
        if statistics.schema_digest != schema.digest() or spec.num_features != len(schema.features):
            raise ConfigError(f"the statistics or the model {spec.to_dict()} were not made for the schema")
        circuit_cid = publish_circuit(
            circuits, storage, statistics=statistics.to_bytes(), schema=schema.to_bytes(), model=spec.to_dict()
        )
    progress(f"deploying contracts (genesis model {genesis_cid}, circuit manifest {circuit_cid})")
    scheme = CommitmentScheme(
        slots=circuits.slots,
        model_size=circuits.model_size,
        pad_rows=circuits.pad_rows,
        scale_bits=circuits.scale_bits,
        chunks=circuits.chunks,
        zero_commitment=circuits.zero.as_uint256(),
        basis_digest=circuits.basis.digest(),
        # a chunked model's proofs are verified optimistically (28 on-chain verifications exceed a block)
        challenge_window=CHUNKED_CHALLENGE_WINDOW if circuits.chunked else 0,
    )
    return deploy_contracts(
        project,
        admin,
        scheme=scheme,
        genesis_commitment=tuple(p.as_uint256() for p in genesis_commitment),
        genesis_cid=genesis_cid,
        circuit_cid=circuit_cid,
        with_median=circuits.median is not None,
    )


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
        sweep_stale_scratch(settings.workdir, skip=[settings.store_dir])  # a killed run's plaintext inputs
        self.policy = bound_policy(settings)
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
        # the previous round's bound and published norm statistic, from which the next bound is derived
        self._last_bound, self._last_statistic = _last_norm_statistics(settings)

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def _parties(
        cls,
        settings: Settings,
        roles: Roles,
        storage: Storage,
        circuits: CircuitSuite,
        key_pair: EnclaveKeyPair,
        split: FederatedSplit,
        progress: Progress = _quiet,
    ) -> tuple[AggregatorEnclave, list[HospitalClient]]:
        if len(roles.hospitals) != settings.hospitals:
            raise ConfigError(f"{settings.hospitals} hospitals configured but {len(roles.hospitals)} accounts given")
        spec = model_spec_for(settings, split)
        enclave = AggregatorEnclave(
            roles.aggregator,
            key_pair,
            storage,
            circuits,
            spec,
            settings.workdir / "enclave" / "proofs",
            bound_policy(settings),
        )
        cfg = TrainConfig(
            local_epochs=settings.local_epochs,
            batch_size=settings.batch_size,
            lr=settings.learning_rate,
            seed=settings.seed,
            weight_decay=settings.weight_decay,
        )
        hospitals = [
            HospitalClient(
                f"hospital-{i}",
                acct,
                shard,
                spec,
                cfg,
                storage,
                circuits,
                settings.workdir,
                index=i,
                prover_workers=settings.prover_workers,
                progress=progress,
                min_samples=settings.min_shard_samples,
                count_granularity=settings.sample_count_granularity,
                dp=dp_config(settings),
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
        circuits: CircuitSuite,
        progress: Progress = _quiet,
        checkpoint: Callable[[], None] = _no_checkpoint,
        local: bool | None = None,
    ) -> Consortium:
        """Deploy the contracts, admit every party, publish the enclave key and the genesis model.

        ``local`` says whether the chain is the local development one (the enclave key file may then
        fall back to the development passphrase); None asks the chain's provider.
        """
        local = _is_local(chain) if local is None else local
        passphrase = _key_passphrase(settings, chain, local, progress)
        if not settings.development_enclave_allowed(local=local):
            raise ConfigError(
                "this build registers a development enclave (no TEE evidence source is configured), which a "
                "consortium accepts only with ZKFL_ALLOW_DEVELOPMENT_ENCLAVE=1 (unset: on a local chain only); "
                "register a real enclave as docs/operators.md, 'Attestation', says"
            )
        split = load_split(settings)
        deployment = deploy_consortium(settings, project, roles.admin, storage, circuits, split, progress)
        registry = deployment.registry
        registry.admitMember(roles.aggregator, int(Role.AGGREGATOR), "aggregator-enclave", sender=roles.admin)
        # each hospital's sample cap is agreed at admission: its shard's size (docs/rules.md: weights that
        # cannot be bought); RoundManager refuses a larger declared count
        for i, (acct, shard) in enumerate(zip(roles.hospitals, split.shards, strict=True)):
            cap = declared_sample_count(shard.num_samples, settings.sample_count_granularity)
            registry.admitHospital(acct, f"hospital-{i}", cap, sender=roles.admin)
        if roles.auditor is not None:
            registry.admitMember(roles.auditor, int(Role.AUDITOR), "auditor-0", sender=roles.admin)
        accept_development_enclave(settings, registry, roles.admin, local=local, progress=progress)
        key_pair = EnclaveKeyPair.generate()
        settings.enclave_key_file.parent.mkdir(parents=True, exist_ok=True)
        save_key_pair(key_pair, settings.enclave_key_file, passphrase)
        enclave, hospitals = cls._parties(settings, roles, storage, circuits, key_pair, split, progress)
        key_cid = enclave.publish_key(registry)
        progress(f"admitted {len(hospitals)} hospitals and the aggregator; enclave key {key_cid}")
        deployment.save(settings.deployment_file, chain_id=chain.chain_id, circuit=circuits.name)
        consortium = cls(settings, chain, deployment, storage, roles, enclave, hospitals, split, progress, checkpoint)
        checkpoint()
        consortium._last_bound, consortium._last_statistic = None, None  # a new consortium: old reports do not count
        return consortium

    @classmethod
    def attach(
        cls,
        settings: Settings,
        project: Any,
        chain: Any,
        roles: Roles,
        storage: Storage,
        circuits: CircuitSuite,
        progress: Progress = _quiet,
        checkpoint: Callable[[], None] = _no_checkpoint,
        local: bool | None = None,
    ) -> Consortium:
        """Attach to a deployment made earlier by :meth:`bootstrap` (its record and enclave key file)."""
        passphrase = _key_passphrase(settings, chain, local, progress)
        deployment = Deployment.load(settings.deployment_file, project)
        split = load_split(settings)
        key_pair = load_key_pair(settings.enclave_key_file, passphrase)
        enclave, hospitals = cls._parties(settings, roles, storage, circuits, key_pair, split, progress)
        digest = bytes(deployment.round_manager.kzgBasisDigest()).hex()
        if digest != circuits.basis.digest():
            raise ChainError(
                f"the deployment's KZG basis ({digest[:16]}...) is not this checkout's circuits' "
                f"({circuits.basis.digest()[:16]}...): rebuild the circuits it was deployed with, or redeploy"
            )
        if str(deployment.registry.aggregator()).lower() != str(roles.aggregator.address).lower():
            raise ChainError("the deployment's aggregator is not this enclave's account")
        return cls(settings, chain, deployment, storage, roles, enclave, hospitals, split, progress, checkpoint)

    # --- rounds -------------------------------------------------------------------------------

    def current_model(self) -> ModelFile:
        commitment, cid, _ = read_current_model(self.deployment.round_manager)
        return fetch_global_model(self.storage, self.spec, commitment, cid, suite=self.enclave.circuits)
