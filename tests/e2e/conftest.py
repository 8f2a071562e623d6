"""End-to-end fixtures: the consortium's circuits (the KZG basis every commitment uses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkfl_dapp.circuits.artifacts import install_verifier
from zkfl_dapp.circuits.suite import CircuitSuite, ensure_circuit_suite

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def suite() -> CircuitSuite:
    """The 5-hospital, d = 31 circuits, their verifiers installed (as `make circuits` does)."""
    circuits = ensure_circuit_suite(5, 31, 13, ROOT / "build" / "circuits")
    for art in (circuits.norm, circuits.median):
        if art is not None:
            install_verifier(art, ROOT / "contracts")  # type: ignore[arg-type]
    return circuits
