"""The package's layers: imports run one way, nothing imports the experiments, the core layers load no ape.

The layers, lowest first (a module may import its own layer and any lower one, never a higher one, and
never a different package of the same rank):

    0  exceptions
    1  config                (the settings raise the package's errors)
    2  core
    3  ml | storage | crypto
    4  circuits
    5  chain
    6  protocol
    7  audit | prediction
    8  apps
    9  experiments           (nothing outside it imports it)

Imports inside functions count too: a lazy upward import is still an upward dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "zkfl_dapp"

RANK: dict[str, int] = {
    "exceptions": 0,
    "config": 1,
    "core": 2,
    "ml": 3,
    "storage": 3,
    "crypto": 3,
    "circuits": 4,
    "chain": 5,
    "protocol": 6,
    "audit": 7,
    "prediction": 7,
    "apps": 8,
    "experiments": 9,
}
#: Layers that must import without ape (a Flower environment cannot install ape beside flwr).
APE_FREE = ("core", "ml", "storage", "crypto", "circuits", "chain")
#: The parties' modules the Flower integration (zkfl_flower, an environment without ape) runs as they are.
APE_FREE_PARTIES = (
    "zkfl_dapp.protocol.wiring",
    "zkfl_dapp.protocol.hospital",
    "zkfl_dapp.protocol.enclave",
    "zkfl_dapp.protocol.reports",
)


def layer_of(module: str) -> str | None:
    """``zkfl_dapp.core.norms`` -> ``core``; the package root and ``__main__`` have no layer."""
    parts = module.split(".")
    if parts[0] != "zkfl_dapp" or len(parts) < 2 or parts[1] in ("__init__", "__main__"):
        return None
    return parts[1]


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every ``zkfl_dapp`` module a file imports, at any depth (``from x import y`` counts as ``x``)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("zkfl_dapp"):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("zkfl_dapp"))
    return out


def import_graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Each import that breaks the layer rules, as one readable line."""
    bad = []
    for module, targets in graph.items():
        src = layer_of(module)
        if src is None:
            continue
        for target in sorted(targets):
            dst = layer_of(target)
            if dst is None or dst == src:
                continue
            if dst not in RANK:
                bad.append(f"{module} imports {target}: unknown layer {dst!r} (add it to RANK)")
            elif dst == "experiments":
                bad.append(f"{module} imports {target}: nothing outside experiments may import it")
            elif RANK[dst] > RANK[src]:
                bad.append(f"{module} ({src}, rank {RANK[src]}) imports upward {target} ({dst}, rank {RANK[dst]})")
            elif RANK[dst] == RANK[src]:
                bad.append(f"{module} ({src}) imports its sibling layer {target} ({dst})")
    return bad


def test_every_layer_is_known() -> None:
    layers = {layer_of(m) for m in import_graph()} - {None}
    assert layers <= set(RANK), f"packages without a rank: {layers - set(RANK)}"


def test_imports_run_one_way() -> None:
    assert violations(import_graph()) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"zkfl_dapp.core.norms": {"zkfl_dapp.protocol.hospital"}}, "imports upward"),
        ({"zkfl_dapp.circuits.norm": {"zkfl_dapp.chain.enums"}}, "imports upward"),
        ({"zkfl_dapp.protocol.hospital": {"zkfl_dapp.experiments.attacks"}}, "nothing outside experiments"),
        ({"zkfl_dapp.audit.auditor": {"zkfl_dapp.experiments.bench.cli"}}, "nothing outside experiments"),
        ({"zkfl_dapp.storage.kubo": {"zkfl_dapp.crypto.envelope"}}, "sibling layer"),
        ({"zkfl_dapp.core.x": {"zkfl_dapp.nowhere.y"}}, "unknown layer"),
    ],
)
def test_the_rule_catches(graph: dict[str, set[str]], expected: str) -> None:
    """The checker itself: an upward, experiment or sibling import is reported (so the rule can fail)."""
    (line,) = violations(graph)
    assert expected in line


def test_downward_and_same_layer_imports_are_allowed() -> None:
    graph = {
        "zkfl_dapp.protocol.hospital": {"zkfl_dapp.core.norms", "zkfl_dapp.protocol.reports", "zkfl_dapp.exceptions"},
        "zkfl_dapp.experiments.bench.cli": {"zkfl_dapp.apps.session", "zkfl_dapp.experiments.bench.table"},
    }
    assert violations(graph) == []


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "print(' '.join(sorted(k for k in ('ape', 'ezkl', 'torch', 'click') if k in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_ape_free_layers_import_without_ape() -> None:
    """Every module of the ape-free layers imports in a fresh interpreter without loading ape."""
    modules = sorted(m for m in import_graph() if layer_of(m) in APE_FREE)
    assert len(modules) > 20
    assert "ape" not in _loaded_after_import(modules)


def test_parties_used_by_flower_import_without_ape() -> None:
    """The hospital, the enclave and the consortium's wiring import without ape: zkfl_flower runs them on
    web3.py (see zkfl_flower.chain)."""
    assert "ape" not in _loaded_after_import(list(APE_FREE_PARTIES))


def test_core_imports_nothing_heavy() -> None:
    """The pure core loads neither ape, nor the prover, nor torch."""
    modules = sorted(m for m in import_graph() if layer_of(m) == "core")
    assert _loaded_after_import(modules) == set()


def test_package_root_is_lazy() -> None:
    """``import zkfl_dapp`` loads nothing heavy until a name is used."""
    assert _loaded_after_import(["zkfl_dapp"]) == set()
