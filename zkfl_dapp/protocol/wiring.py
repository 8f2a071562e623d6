"""What a consortium's settings pin: its data split, model architecture and circuits.

Ape-free (unlike :mod:`.consortium`, whose round driver drives ape), so that an environment without ape, the
Flower integration's (``zkfl_flower``), derives exactly the consortium's model and circuits from the same
settings.
"""

from __future__ import annotations

from collections.abc import Callable

from zkfl_dapp.circuits.suite import CircuitSuite, ensure_circuit_suite
from zkfl_dapp.config import Settings
from zkfl_dapp.core.dp import DpConfig
from zkfl_dapp.core.policy import NormBoundPolicy
from zkfl_dapp.ml.data import FederatedSplit, load_federated
from zkfl_dapp.ml.model import ModelSpec, num_params, spec_for_preset
from zkfl_dapp.ml.schema import load_schema


def _quiet(_: str) -> None:
    return None


def model_spec_for(settings: Settings, split: FederatedSplit) -> ModelSpec:
    """The configured model preset (``ZKFL_MODEL``, ``ZKFL_MLP_HIDDEN``) over the consortium's features: the
    schema's (``ZKFL_RECORDS_SCHEMA``, ``zkfl admin deploy --schema``) when one is set, else the bundled data
    set's. A deployed consortium's parties read its model from the chain instead
    (:func:`zkfl_dapp.protocol.standardization.deployment_definition`)."""
    num_features = split.num_features
    if settings.records_schema is not None:
        num_features = len(load_schema(settings.records_schema).features)
    return spec_for_preset(settings.model, num_features, mlp_hidden=settings.mlp_hidden)


def circuits_for(settings: Settings, model: ModelSpec, progress: Callable[[str], None] = _quiet) -> CircuitSuite:
    """The consortium's circuits (norm; median for 5 hospitals), built or reused, in one KZG basis."""
    return ensure_circuit_suite(
        settings.hospitals,
        num_params(model),
        settings.scale_bits,
        settings.artifacts_dir,
        ceremony_srs=settings.ceremony_srs,
        progress=progress,
        chunk=settings.chunk_size,
    )


def load_split(settings: Settings) -> FederatedSplit:
    return load_federated(
        settings.hospitals,
        dataset=settings.dataset,
        split=settings.split,
        alpha=settings.dirichlet_alpha,
        seed=settings.seed,
    )


def bound_policy(settings: Settings) -> NormBoundPolicy:
    """The consortium's norm-bound policy (core.policy) from its settings."""
    return NormBoundPolicy(
        settings.norm_bound_initial,
        settings.norm_bound_kappa,
        settings.norm_bound_floor,
        learning_rate=settings.norm_bound_rate,
        count_noise=settings.norm_bound_count_noise,
    )


def dp_config(settings: Settings) -> DpConfig | None:
    """The consortium's distributed-DP setting (core.dp); None when off (``ZKFL_DP_NOISE_MULTIPLIER`` = 0)."""
    if settings.dp_noise_multiplier == 0:
        return None
    honest = settings.dp_honest_hospitals or settings.quorum
    return DpConfig(settings.dp_noise_multiplier, honest, delta=settings.dp_delta)
