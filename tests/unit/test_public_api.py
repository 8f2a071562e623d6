"""The package root's public API: what it exports, and that every name resolves to its defining module."""

from __future__ import annotations

import importlib

import pytest

import zkfl_dapp

EXPECTED = {
    "AggregatorEnclave",
    "AuditReport",
    "Cid",
    "CircuitProof",
    "CircuitSuite",
    "Consortium",
    "EmbeddedStore",
    "EnclaveKeyPair",
    "Finalization",
    "G1Point",
    "HospitalClient",
    "KuboRpcStore",
    "KzgBasis",
    "ModelFile",
    "NormBoundPolicy",
    "PreparedUpdate",
    "Roles",
    "RoundReport",
    "Settings",
    "SlotOutcome",
    "Storage",
    "UpdatePayload",
    "ZkflError",
    "aggregate",
    "associated_data",
    "compute_cid",
    "dequantize",
    "median_quantized",
    "normalized_weights",
    "open_sealed",
    "open_storage",
    "quantize",
    "seal",
}


def test_all_is_the_public_api() -> None:
    assert set(zkfl_dapp.__all__) == EXPECTED
    assert list(zkfl_dapp.__all__) == sorted(zkfl_dapp.__all__)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_name_resolves_to_its_module(name: str) -> None:
    value = getattr(zkfl_dapp, name)
    home = importlib.import_module(zkfl_dapp._EXPORTS[name])
    assert value is getattr(home, name)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        zkfl_dapp.nope  # noqa: B018


def test_dir_lists_the_api() -> None:
    assert set(dir(zkfl_dapp)) >= EXPECTED
