"""Shared fixtures: roles and the consortium's circuits.

Run through ``make test`` (which builds the circuit artifacts and installs the generated verifier
before ape compiles the project) or ``ape test`` once ``make circuits`` has run.

The old Poseidon aggregation fixtures (``circuit``, ``defence``, ``prove``, ``deployment``) went with
``circuits/aggregation.py``; modules that still use them need the new KZG fixtures (tests/kzg_fixtures.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ape
import numpy as np
import pytest

from zkfl_dapp.circuits.artifacts import install_verifier
from zkfl_dapp.circuits.suite import CircuitSuite, ensure_circuit_suite
from zkfl_dapp.core.fixedpoint import quantize

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class _Shape:
    slots: int
    model_size: int
    scale_bits: int


SPEC = _Shape(slots=5, model_size=31, scale_bits=13)
GENESIS_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
CIRCUIT_CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: end-to-end tests over the whole stack (slow)")


@pytest.fixture(scope="session")
def suite() -> CircuitSuite:
    """The consortium circuits of SPEC (norm; median once merged), their verifiers installed for ape."""
    circuits = ensure_circuit_suite(SPEC.slots, SPEC.model_size, SPEC.scale_bits, ROOT / "build" / "circuits")
    for art in (circuits.norm, circuits.median):
        if art is not None:
            installed = install_verifier(art, ROOT / "contracts")  # type: ignore[arg-type]
            assert installed.read_bytes() == art.verifier_sol.read_bytes()  # type: ignore[attr-defined]
    return circuits


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


def make_updates(seed: int, count: int) -> list[tuple[int, ...]]:
    rng = np.random.default_rng(seed)
    return [quantize(rng.normal(0.0, 1.0, SPEC.model_size), SPEC.scale_bits) for _ in range(count)]
