"""A deployed zkFL consortium as the Flower side sees it: the contracts over web3.py, the content store, the
circuits and the model architecture, all derived from the same settings as ``ape run deploy`` used.

The parties are zkfl_dapp's own (:class:`~zkfl_dapp.protocol.hospital.HospitalClient`,
:class:`~zkfl_dapp.protocol.enclave.AggregatorEnclave`), handed the web3 contracts of :mod:`.chain`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from eth_account.signers.local import LocalAccount

from zkfl_dapp.chain.views import Commitment, read_current_model, read_round
from zkfl_dapp.circuits.proving import sweep_stale_scratch
from zkfl_dapp.circuits.suite import CircuitSuite
from zkfl_dapp.config import Settings
from zkfl_dapp.core.formats import ModelFile
from zkfl_dapp.crypto.envelope import EnclaveKeyPair
from zkfl_dapp.crypto.key_file import load_key_pair
from zkfl_dapp.exceptions import ChainError, ConfigError
from zkfl_dapp.ml.data import Dataset, FederatedSplit
from zkfl_dapp.ml.model import ModelSpec
from zkfl_dapp.ml.schema import RecordSchema
from zkfl_dapp.ml.training import TrainConfig
from zkfl_dapp.protocol.enclave import AggregatorEnclave
from zkfl_dapp.protocol.hospital import HospitalClient, fetch_global_model
from zkfl_dapp.protocol.standardization import deployment_definition
from zkfl_dapp.protocol.wiring import bound_policy, circuits_for, dp_config, load_split, model_spec_for
from zkfl_dapp.storage.base import Storage, open_storage
from zkfl_flower.chain import DEFAULT_ABI_MANIFEST, Chain, Contract, dev_account, load_abis
from zkfl_flower.records import check_model

#: The development roles' account indexes in the test mnemonic, as ``ape run deploy`` admits them on the
#: embedded anvil (zkfl_dapp.apps.session): admin 0, aggregator 1, hospitals from 2.
DEV_ADMIN, DEV_AGGREGATOR, DEV_FIRST_HOSPITAL = 0, 1, 2


@dataclass(frozen=True)
class FlowerConsortium:
    """One consortium's contracts, store, circuits and model, connected for the Flower side."""

    settings: Settings
    chain: Chain
    registry: Contract
    round_manager: Contract
    storage: Storage
    circuits: CircuitSuite
    split: FederatedSplit
    spec: ModelSpec
    #: the consortium's own schema (deployed with ``zkfl admin deploy --schema``); None: a bundled data set's
    schema: RecordSchema | None = None

    @classmethod
    def connect(
        cls, settings: Settings, rpc_url: str, *, abi_manifest: Path = DEFAULT_ABI_MANIFEST
    ) -> FlowerConsortium:
        """Attach to the deployment recorded in ``settings.deployment_file`` on the node at ``rpc_url``.

        Raises:
            ConfigError: no deployment record, or no compiled contracts.
            ChainError: no node, no contract at the recorded address, or a KZG basis other than the circuits'.
        """
        try:
            addresses = json.loads(settings.deployment_file.read_text())["contracts"]
            rm_address, registry_address = addresses["RoundManager"], addresses["ConsortiumRegistry"]
        except FileNotFoundError as exc:
            raise ConfigError(
                f"no deployment record at {settings.deployment_file}: run `ape run deploy --workdir ...` first"
            ) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"deployment record {settings.deployment_file} is malformed: {exc}") from exc
        sweep_stale_scratch(settings.workdir, skip=[settings.store_dir])  # a killed party's plaintext inputs
        chain = Chain(rpc_url)
        if not chain.w3.eth.get_code(chain.w3.to_checksum_address(rm_address)):
            raise ChainError(f"no RoundManager at {rm_address} on the node at {rpc_url} (another chain?)")
        abis = load_abis(abi_manifest)
        split = load_split(settings)
        round_manager = chain.contract(rm_address, abis["RoundManager"])
        storage = open_storage(settings.storage, root=settings.store_dir, api_url=settings.kubo_api_url)
        # a consortium deployed on its own schema names its model in the circuit manifest; else the settings'
        own = deployment_definition(round_manager, storage)
        spec = own[0] if own is not None else model_spec_for(settings, split)
        circuits = circuits_for(settings, spec)
        digest = bytes(round_manager.kzgBasisDigest()).hex()
        if digest != circuits.basis.digest():
            raise ChainError(
                f"the deployment's KZG basis ({digest[:16]}...) is not these circuits' "
                f"({circuits.basis.digest()[:16]}...): use the artifacts it was deployed with"
            )
        return cls(
            settings=settings,
            chain=chain,
            registry=chain.contract(registry_address, abis["ConsortiumRegistry"]),
            round_manager=round_manager,
            storage=storage,
            circuits=circuits,
            split=split,
            spec=spec,
            schema=own[1] if own is not None else None,
        )

    def model_of(self, commitment: Commitment, cid: str) -> ModelFile:
        """A model file fetched by CID and checked to open its on-chain commitment (and the consortium's shape)."""
        return fetch_global_model(self.storage, self.spec, commitment, cid, suite=self.circuits)

    def current_model(self) -> ModelFile:
        """The chain's current global model (the latest finalized round's; the genesis model before any)."""
        commitment, cid, _ = read_current_model(self.round_manager)
        return self.model_of(commitment, cid)

    def finalized_model(self, round_id: int) -> ModelFile:
        """The model round ``round_id`` finalized, as the chain recorded it."""
        info = read_round(self.round_manager, round_id)
        if not info.new_model_cid:
            raise ChainError(f"round {round_id} is {info.phase.name.lower()}: it has no finalized model")
        return self.model_of(info.new_model_commitment, info.new_model_cid)

    @property
    def model_size(self) -> int:
        """The deployed model's parameter count: what every app's model must have."""
        return int(self.circuits.model_size)

    def check_model(self, model: Any) -> None:
        """Whether a Flower app's own PyTorch model can train in this consortium (see :func:`.records.check_model`).

        Raises:
            ConfigError: another parameter count than the deployed model's, or state beyond its parameters.
        """
        check_model(model, self.model_size)

    def hospital(
        self,
        index: int,
        account: Any,
        train_config: TrainConfig | None = None,
        *,
        num_examples: int | None = None,
    ) -> HospitalClient:
        """Hospital ``index`` acting as ``account``. It declares ``num_examples`` training samples when given (a
        Flower app that trains on its own loaders: their data set's size); else it is the bundled split's hospital
        ``index`` (its shard's size).

        Raises:
            ConfigError: no such hospital, or ``num_examples`` below 1.
        """
        if not 0 <= index < self.settings.hospitals:
            raise ConfigError(f"no hospital {index}: the consortium has {self.settings.hospitals}")
        s = self.settings
        cfg = train_config or TrainConfig(
            local_epochs=s.local_epochs, batch_size=s.batch_size, lr=s.learning_rate, seed=s.seed
        )
        if num_examples is not None and num_examples < 1:
            raise ConfigError(f"hospital {index} declares {num_examples} training examples: it needs at least 1")
        if num_examples is None and self.schema is not None:
            raise ConfigError(
                "this consortium was deployed on its own schema: the app trains on its own data; give the hospital "
                "the size of its training loader (num_examples=len(trainloader.dataset))"
            )
        if num_examples is None:
            shard = self.split.shards[index]
        else:  # the app trains on its own loaders: no shard here (the mod submits what the app trained)
            shard = Dataset(np.zeros((0, self.spec.num_features)), np.zeros(0))
        return HospitalClient(
            f"hospital-{index}",
            account,
            shard,
            self.spec,
            cfg,
            self.storage,
            self.circuits,
            s.workdir / "flower",
            index=index,
            declared_samples=num_examples,
            min_samples=s.min_shard_samples,
            count_granularity=s.sample_count_granularity,
            dp=dp_config(s),
        )

    def enclave(self, account: Any, key_pair: EnclaveKeyPair) -> AggregatorEnclave:
        """The aggregator enclave acting as ``account`` with the ML-KEM key pair."""
        return AggregatorEnclave(
            account,
            key_pair,
            self.storage,
            self.circuits,
            self.spec,
            self.settings.workdir / "enclave" / "proofs",
            bound_policy(self.settings),
        )

    def load_enclave_key(self) -> EnclaveKeyPair:
        """The enclave's key pair from the key file ``ape run deploy`` wrote (development passphrase only on anvil)."""
        passphrase, _development = self.settings.enclave_key_passphrase(local=self.chain.is_local_dev)
        return load_key_pair(self.settings.enclave_key_file, passphrase)

    def dev_account(self, index: int) -> LocalAccount:
        """Account ``index`` of the settings' mnemonic: for a local development chain only.

        Raises:
            ConfigError: the node is not a local anvil (use real keys there).
        """
        if not self.chain.is_local_dev:
            raise ConfigError("development accounts (the test mnemonic) are for a local anvil only: use your keys")
        return dev_account(self.settings.mnemonic, index)
