"""The interfaces carry each contract's whole public surface, errors name the contract that raises them, and
the proof layouts of contracts/libraries/InstanceLayout.sol equal their Python mirror (circuits/layouts.py).

Clients (the Python package, the web UI, other contracts) compile against ``contracts/interfaces/``: a public
function, error or event that only the implementation declares would be invisible to them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zkfl_dapp.circuits import kzg_chunk_norm, kzg_distance, layouts

ROOT = Path(__file__).resolve().parents[2]

CONTRACTS = [
    ("ConsortiumRegistry", "IConsortiumRegistry"),
    ("RoundManager", "IRoundManager"),
    ("PredictionRegistry", "IPredictionRegistry"),
    ("SecAggCoordinator", "ISecAggCoordinator"),
]

#: Libraries whose errors the contracts may raise (their ABIs include them): each prefixes its errors too.
LIBRARIES = ["Bn254"]


def _selectors(abis) -> set[str]:
    return {abi.selector for abi in abis}


@pytest.mark.parametrize(("name", "interface"), CONTRACTS)
def test_interface_declaresEveryPublicFunctionErrorAndEvent(project, name, interface):
    impl = getattr(project, name).contract_type
    iface = getattr(project, interface).contract_type
    assert _selectors(impl.methods) == _selectors(iface.methods)
    # a library's errors (e.g. Bn254InvalidPoint) reach the contract's ABI without being its own: they are
    # declared, and named, by the library
    library_errors = {e.selector for lib in LIBRARIES for e in getattr(project, lib).contract_type.errors}
    assert _selectors(impl.errors) - library_errors == _selectors(iface.errors)
    assert _selectors(impl.events) == _selectors(iface.events)


@pytest.mark.parametrize(("name", "interface"), CONTRACTS)
def test_everyError_isPrefixedByItsContractName(project, name, interface):
    errors = [e.name for e in getattr(project, interface).contract_type.errors]
    assert errors and all(e.startswith(name) for e in errors), errors


@pytest.mark.parametrize("library", LIBRARIES)
def test_everyLibraryError_isPrefixedByItsLibraryName(project, library):
    errors = [e.name for e in getattr(project, library).contract_type.errors]
    assert errors and all(e.startswith(library) for e in errors), errors


#: InstanceLayout.sol constant -> its value in zkfl_dapp.circuits.layouts (the Python mirror).
PYTHON_LAYOUT = {
    "NORM_COUNT": layouts.NormLayout().count,
    "NORM_FLAG_INDEX": layouts.NormLayout().flag,
    "NORM_BUDGET_INDEX": layouts.NormLayout().budget,
    "NORM_CHUNK_INDEX": layouts.NormLayout().index,
    "NORM_CHUNKS_INDEX": layouts.NormLayout().total,
    "NORM_ADDRESS_OFFSET": layouts.NormLayout().address,
    "ADDRESS_LIMBS": layouts.ADDRESS_LIMBS,
    "NORM_UPDATE_POINT": layouts.NormLayout().update_point,
    "NORM_AGGREGATE_POINT": layouts.NormLayout().aggregate_point,
    "INFERENCE_COUNT": layouts.InferenceLayout().count,
    "INFERENCE_MODEL_POINT": layouts.InferenceLayout().model_point,
    "INFERENCE_LOGIT_INDEX": layouts.InferenceLayout().logit,
    "INFERENCE_ADDRESS_OFFSET": layouts.InferenceLayout().address_offset,
    "MEDIAN_COUNT": layouts.MedianLayout(5).count,
    "MEDIAN_CERTIFICATE_INDEX": layouts.MedianLayout(5).certificate,
}


def _solidity_constants() -> dict[str, int]:
    source = (ROOT / "contracts" / "libraries" / "InstanceLayout.sol").read_text()
    found = re.findall(r"uint256\s+internal\s+constant\s+(\w+)\s*=\s*(\d+)\s*;", source)
    assert found, "no constants parsed from InstanceLayout.sol"
    return {name: int(value) for name, value in found}


def test_instanceLayout_solidityConstantsEqualThePythonMirror():
    """Every InstanceLayout.sol constant has a Python twin with the same value (a new one must be mirrored)."""
    assert _solidity_constants() == PYTHON_LAYOUT


def test_normLayout_matchesTheNormCircuit():
    """The norm layout is what kzg_chunk_norm publishes: [flag, b_c, c, n, limbs]."""
    norm = layouts.NormLayout()
    spec = kzg_chunk_norm.KzgChunkNormSpec(16, inner_cols=2)
    assert spec.num_instances == norm.count
    inst = kzg_chunk_norm.expected_chunk_instances(spec, 7, 3, 28, "0x" + "ab" * 20)
    assert (inst[norm.flag], inst[norm.budget], inst[norm.index], inst[norm.total]) == (2**26, 7, 3, 28)
    assert inst[norm.address :] == tuple(kzg_distance.address_limbs("0x" + "ab" * 20))
    assert kzg_distance.ADDRESS_LIMBS == layouts.ADDRESS_LIMBS == layouts.InferenceLayout().address_limbs
    assert norm.address + layouts.ADDRESS_LIMBS == norm.count
