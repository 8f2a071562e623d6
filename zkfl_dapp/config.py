"""Configuration, built once at the entry point and passed down.

Every field can be set from the environment with the ``ZKFL_`` prefix (``ZKFL_ROUNDS=3``) or from a
``.env`` file; command-line options override both. Nothing else in the package reads the environment.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from zkfl_dapp.exceptions import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent

DEV_ENCLAVE_PASSPHRASE = "zkfl-dapp development passphrase: NOT A SECRET"
"""The passphrase of the enclave key file on the embedded local chain when none is set (demo, tests)."""
DEV_PASSPHRASE_WARNING = (
    "WARNING: ZKFL_ENCLAVE_PASSPHRASE is not set: the enclave key file is protected only by the fixed "
    "development passphrase (acceptable for the local demo chain only)"
)
_log = logging.getLogger(__name__)


class Settings(BaseSettings):
    """Everything a consortium run needs to know."""

    model_config = SettingsConfigDict(env_prefix="ZKFL_", env_file=".env", extra="ignore")

    # where things live
    workdir: Path = Field(REPO_ROOT / "build" / "consortium", description="chain state, store, keys, reports")
    artifacts_dir: Path = Field(REPO_ROOT / "build" / "circuits", description="circuit artifact cache")
    contracts_dir: Path = Field(REPO_ROOT / "contracts", description="Solidity sources (generated/ is written)")
    ceremony_srs: Path | None = Field(None, description="a ceremony SRS file; without it a development SRS is made")

    # storage
    storage: Literal["embedded", "kubo"] = "embedded"
    kubo_api_url: str = "http://127.0.0.1:5001"

    # chain
    anvil_port: int = 8545
    mnemonic: str = "test test test test test test test test test test test junk"
    confirmations: int = Field(
        1, ge=1, le=64, description="blocks on top of a transaction before a party calls it done (off the local chain)"
    )

    # federation
    hospitals: int = Field(5, ge=1, le=64)
    rounds: int = Field(5, ge=1)
    quorum: int = Field(3, ge=1)
    round_seconds: int = Field(3600, ge=60, description="submission window in chain time")
    dataset: Literal["breast-cancer", "support2"] = Field(
        "breast-cancer", description="bundled data set (zkfl_dapp.ml.data); support2 = SUPPORT2 6-month mortality"
    )
    split: Literal["iid", "dirichlet"] = "iid"
    dirichlet_alpha: float = Field(0.5, gt=0)
    seed: int = 0

    # bring your own data (a hospital process; see docs/operators.md, "Bring your own data")
    records: Path | None = Field(None, description="this hospital's records file (.csv or .parquet)")
    records_schema: Path | None = Field(None, description="the consortium's schema of records files (.json/.yaml)")
    statistics: Path | None = Field(None, description="the consortium's published standardisation statistics file")
    statistics_max_shift: float = Field(
        3.0,
        gt=0,
        description="refuse records whose local mean of a feature is more published stds than this from its mean",
    )

    # model
    model: Literal["logreg", "mlp", "mlp-large"] = Field(
        "logreg", description="model preset (zkfl_dapp.ml.model.spec_for_preset); mlp-large = MLP 256-256-128"
    )
    mlp_hidden: int = Field(16, ge=1, description="hidden units of the one-layer 'mlp' preset")

    # local training
    local_epochs: int = Field(5, ge=1)
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(0.1, gt=0)
    weight_decay: float = Field(0.0, ge=0, description="SGD L2 penalty of local training (mlp-large: 0.03)")

    # poisoning defence (see docs/auditors.md, "Poisoning defence")
    rule: Literal["fedavg", "median"] = Field("fedavg", description="aggregation rule of new rounds")
    norm_bound: Literal["auto", "off"] = Field("auto", description="norm-bound proofs on every submission")
    norm_bound_initial: float = Field(2.0, gt=0, description="L2 bound of the first bounded round")
    norm_bound_kappa: float = Field(3.0, gt=0, description="next bound = kappa x median accepted update norm")
    norm_bound_floor: float = Field(0.05, gt=0, description="the bound never goes below this")
    norm_bound_rate: float = Field(0.5, gt=0, description="geometric step of the bound per round (core.policy)")
    norm_bound_count_noise: float = Field(
        2.0, ge=0, description="std of the Gaussian noise on the published within-threshold count (core.policy)"
    )

    # privacy (docs/privacy.md)
    min_shard_samples: int = Field(10, ge=1, description="a hospital with fewer records than this refuses to train")
    sample_count_granularity: int = Field(
        10, ge=1, description="declared sample counts and caps are rounded down to a multiple of this"
    )
    dp_noise_multiplier: float = Field(
        0.0, ge=0, description="distributed DP: noise multiplier z of the aggregate (0 = off; core.dp)"
    )
    dp_honest_hospitals: int | None = Field(
        None, ge=1, description="DP: honest included hospitals assumed per round (default: the quorum)"
    )
    dp_delta: float = Field(1e-5, gt=0, lt=1, description="DP: the delta epsilon is reported at")
    dp_epsilon_budget: float | None = Field(
        None, gt=0, description="DP: no round opens that could take a hospital's epsilon past this (None: no budget)"
    )

    # circuit
    chunk_size: int | None = Field(
        None, ge=1, description="commit and prove in chunks of this many values (default: 4,096 above 4,096 params)"
    )
    prover_workers: int = Field(
        2, ge=1, le=64, description="chunked models: parallel chunk provers per hospital (~2.8 GB peak each)"
    )
    scale_bits: int = Field(13, ge=1, le=20, description="fixed-point scale 2^scale_bits, pinned")

    @property
    def store_dir(self) -> Path:
        return self.workdir / "ipfs"

    @property
    def chain_state(self) -> Path:
        return self.workdir / "chain" / "anvil-state.json"

    @property
    def deployment_file(self) -> Path:
        return self.workdir / "deployment.json"

    @property
    def enclave_key_file(self) -> Path:
        return self.workdir / "enclave" / "mlkem768-key.json"

    @property
    def reports_dir(self) -> Path:
        return self.workdir / "reports"

    # enclave key file (secret: SecretStr never prints its value; excluded from dumps)
    enclave_passphrase: SecretStr | None = Field(
        None, exclude=True, description="passphrase the enclave's ML-KEM seed is encrypted under at rest"
    )

    def enclave_key_passphrase(self, *, local: bool) -> tuple[str, bool]:
        """The passphrase of the enclave key file, and whether it is the development one.

        ``ZKFL_ENCLAVE_PASSPHRASE`` when set; else, on the embedded local chain only, the fixed
        :data:`DEV_ENCLAVE_PASSPHRASE` (with a logged warning).

        Raises:
            ConfigError: On a non-local network with no passphrase set.
        """
        if self.enclave_passphrase is not None and self.enclave_passphrase.get_secret_value():
            return self.enclave_passphrase.get_secret_value(), False
        if not local:
            raise ConfigError(
                "set ZKFL_ENCLAVE_PASSPHRASE: on a non-local network the enclave key file must be encrypted "
                "under a passphrase of your own (the development passphrase is for the local chain only)"
            )
        _log.warning(DEV_PASSPHRASE_WARNING)
        return DEV_ENCLAVE_PASSPHRASE, True

    # attestation of the enclave key (docs/operators.md, "Attestation"): this hospital's own policy
    attestation_kinds: str = Field(
        "aws-nitro,intel-tdx,amd-sev-snp", description="evidence kinds this hospital accepts (comma-separated)"
    )
    enclave_measurements: str = Field(
        "",
        description="measurement ids (0x + 64 hex, comma-separated) this hospital pins, e.g. from a reproducible build",
    )
    tdx_tcb_statuses: str = Field("UpToDate", description="Intel TDX TCB statuses accepted (comma-separated)")
    enclave_evidence: Literal["development", "configfs-tsm", "nitro-nsm"] = Field(
        "development", description="where the aggregator gets its TEE evidence (untested on hardware, see docs)"
    )
    pccs_url: str | None = Field(None, description="TDX: the PCCS (or Intel PCS) the quote's collateral comes from")
    sev_vcek_file: Path | None = Field(None, description="SEV-SNP: the chip's VCEK certificate (DER) from AMD's KDS")
    sev_cert_chain_file: Path | None = Field(
        None, description="SEV-SNP: AMD's ASK and ARK (PEM, KDS cert_chain), checked against pinned fingerprints"
    )
    allow_development_enclave: bool | None = Field(
        None,
        description="accept a development enclave (no TEE; the aggregator host reads every update): "
        "unset means yes on the embedded local chain only, no elsewhere",
    )

    def development_enclave_allowed(self, *, local: bool) -> bool:
        """Whether a development enclave is accepted: ``ZKFL_ALLOW_DEVELOPMENT_ENCLAVE`` when set, else only on the
        embedded local chain (the demo and the tests), where every party shows it red."""
        return local if self.allow_development_enclave is None else self.allow_development_enclave

    # accounts on non-local networks (ape account aliases)
    admin_alias: str | None = None
    aggregator_alias: str | None = None
    hospital_aliases: str | None = Field(None, description="comma-separated, one per hospital")
    auditor_alias: str | None = None

    def account_aliases(self) -> tuple[str, str, list[str]] | None:
        """The configured (admin, aggregator, hospitals) aliases, or None when not all are set."""
        if not (self.admin_alias and self.aggregator_alias and self.hospital_aliases):
            return None
        return self.admin_alias, self.aggregator_alias, [a.strip() for a in self.hospital_aliases.split(",")]
