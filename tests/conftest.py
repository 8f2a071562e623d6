"""Shared fixtures: roles, circuit artifacts, fresh deployments and cached proofs.

Run through ``make test`` (which builds the circuit artifacts and installs the generated verifier
before ape compiles the project) or ``ape test`` once ``make circuits`` has run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import ape
import numpy as np
import pytest

from zkfl_dapp.chain.deployment import Deployment, deploy_contracts
from zkfl_dapp.chain.enums import Role
from zkfl_dapp.circuits.aggregation import (
    AggregationArtifacts,
    AggregationCircuitSpec,
    ensure_aggregation_artifacts,
    prove_aggregation,
)
from zkfl_dapp.circuits.artifacts import CircuitProof, install_verifier
from zkfl_dapp.circuits.defence import DefenceCircuits, ensure_defence_circuits
from zkfl_dapp.core.aggregation import normalized_weights
from zkfl_dapp.core.commitments import poseidon_commitment
from zkfl_dapp.core.fixedpoint import quantize

ROOT = Path(__file__).resolve().parent.parent
SPEC = AggregationCircuitSpec(slots=5, model_size=31, scale_bits=13)
GENESIS_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
CIRCUIT_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end tests over the whole stack (slow)")


@pytest.fixture(scope="session")
def defence() -> DefenceCircuits:
    """The norm and median circuits matching SPEC, their verifiers installed for ape."""
    circuits = ensure_defence_circuits(SPEC.slots, SPEC.model_size, SPEC.scale_bits, ROOT / "build" / "circuits")
    for art in (circuits.norm, circuits.median):
        assert art is not None
        assert install_verifier(art, ROOT / "contracts").read_bytes() == art.verifier_sol.read_bytes()
    return circuits


@pytest.fixture(scope="session")
def circuit(defence) -> AggregationArtifacts:
    art = ensure_aggregation_artifacts(SPEC, ROOT / "build" / "circuits")
    installed = install_verifier(art, ROOT / "contracts")
    assert installed.read_bytes() == art.verifier_sol.read_bytes()
    return art


@pytest.fixture(scope="session")
def admin():
    return ape.accounts.test_accounts[0]


@pytest.fixture(scope="session")
def aggregator():
    return ape.accounts.test_accounts[1]


@pytest.fixture(scope="session")
def hospitals():
    return [ape.accounts.test_accounts[i] for i in range(2, 8)]  # six: one more than the circuit's slots


@pytest.fixture(scope="session")
def auditor():
    return ape.accounts.test_accounts[8]


@pytest.fixture(scope="session")
def outsider():
    return ape.accounts.test_accounts[9]


@pytest.fixture(scope="session")
def empty_slot_commitment() -> int:
    return poseidon_commitment([0] * SPEC.model_size)


@pytest.fixture
def deployment(circuit, admin, aggregator, hospitals, auditor, empty_slot_commitment) -> Deployment:
    """A fresh consortium: 5 member hospitals (the sixth is admitted only where a test needs it)."""
    dep = deploy_contracts(
        ape.project,
        admin,
        slots=SPEC.slots,
        model_size=SPEC.model_size,
        scale_bits=SPEC.scale_bits,
        empty_slot_commitment=empty_slot_commitment,
        genesis_commitment=123,
        genesis_cid=GENESIS_CID,
        circuit_cid=CIRCUIT_CID,
    )
    dep.registry.admitMember(aggregator, int(Role.AGGREGATOR), "enclave", sender=admin)
    dep.registry.admitMember(auditor, int(Role.AUDITOR), "regulator", sender=admin)
    for i, h in enumerate(hospitals[:5]):
        dep.registry.admitMember(h, int(Role.HOSPITAL), f"hospital-{i}", sender=admin)
    return dep


def make_updates(seed: int, count: int) -> list[tuple[int, ...]]:
    rng = np.random.default_rng(seed)
    return [quantize(rng.normal(0.0, 1.0, SPEC.model_size), SPEC.scale_bits) for _ in range(count)]


ProveFn = Callable[[Sequence[Sequence[int] | None], Sequence[int]], CircuitProof]


@pytest.fixture(scope="session")
def prove(circuit, tmp_path_factory) -> ProveFn:
    """Prove an aggregation: ``slot_updates[i]`` is None for an empty or excluded slot; cached per input."""
    cache: dict[tuple, CircuitProof] = {}

    def _prove(slot_updates: Sequence[Sequence[int] | None], sample_counts: Sequence[int]) -> CircuitProof:
        key = (tuple(tuple(u) if u is not None else None for u in slot_updates), tuple(sample_counts))
        if key not in cache:
            rows = [list(u) if u is not None else [0] * SPEC.model_size for u in slot_updates]
            rows += [[0] * SPEC.model_size] * (SPEC.slots - len(rows))
            counts = list(sample_counts) + [0] * (SPEC.slots - len(sample_counts))
            weights = normalized_weights(counts, SPEC.scale_bits)
            cache[key] = prove_aggregation(circuit, rows, weights, tmp_path_factory.mktemp("proof"))
        return cache[key]

    return _prove
