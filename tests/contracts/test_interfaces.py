"""The interfaces carry each contract's whole public surface, and errors name the contract that raises them.

Clients (the Python package, the web UI, other contracts) compile against ``contracts/interfaces/``: a public
function, error or event that only the implementation declares would be invisible to them.
"""

from __future__ import annotations

import pytest

CONTRACTS = [
    ("ConsortiumRegistry", "IConsortiumRegistry"),
    ("RoundManager", "IRoundManager"),
    ("PredictionRegistry", "IPredictionRegistry"),
]


def _selectors(abis) -> set[str]:
    return {abi.selector for abi in abis}


@pytest.mark.parametrize(("name", "interface"), CONTRACTS)
def test_interface_declaresEveryPublicFunctionErrorAndEvent(project, name, interface):
    impl = getattr(project, name).contract_type
    iface = getattr(project, interface).contract_type
    assert _selectors(impl.methods) == _selectors(iface.methods)
    assert _selectors(impl.errors) == _selectors(iface.errors)
    assert _selectors(impl.events) == _selectors(iface.events)


@pytest.mark.parametrize(("name", "interface"), CONTRACTS)
def test_everyError_isPrefixedByItsContractName(project, name, interface):
    errors = [e.name for e in getattr(project, interface).contract_type.errors]
    assert errors and all(e.startswith(name) for e in errors), errors
