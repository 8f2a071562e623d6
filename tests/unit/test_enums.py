"""The Python enums mirror the Solidity ones member for member (one source: the Solidity interfaces)."""

from __future__ import annotations

import re
from enum import IntEnum
from pathlib import Path

import pytest

from zkfl_dapp.chain.enums import ExclusionReason, Phase, Role, Rule

INTERFACES = Path(__file__).resolve().parents[2] / "contracts" / "interfaces"


def solidity_enum(source: str, name: str) -> list[str]:
    match = re.search(rf"enum\s+{name}\s*\{{([^}}]*)\}}", source)
    assert match, f"enum {name} not found"
    return [m.strip() for m in match.group(1).split(",") if m.strip()]


@pytest.mark.parametrize(
    ("py", "file", "name"),
    [
        (Role, "IConsortiumRegistry.sol", "Role"),
        (Phase, "IRoundManager.sol", "Phase"),
        (Rule, "IRoundManager.sol", "AggregationRule"),
        (ExclusionReason, "IRoundManagerExclusionEvents.sol", "ExclusionReason"),
    ],
)
def test_python_enum_mirrors_solidity(py: type[IntEnum], file: str, name: str) -> None:
    members = solidity_enum((INTERFACES / file).read_text(), name)
    assert [m.name.replace("_", "") for m in py] == [m.upper() for m in members]
    assert [int(m) for m in py] == list(range(len(members)))
