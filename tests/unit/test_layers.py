"""The package's layers: imports run one way, nothing imports the experiments, the core layers load no ape.

The layers, lowest first (a module may import its own layer and any lower one, never a higher one, and
never a different package of the same rank):

    0  exceptions
    1  config                (the settings raise the package's errors)
    2  core
    3  ml | storage | crypto | attestation
    4  circuits
    5  chain | secagg
    6  protocol
    7  audit | prediction
    8  apps
    9  experiments           (nothing outside it imports it)

Imports inside functions count too: a lazy upward import is still an upward dependency.

Two more rules keep the modules small and their dependencies a tree of layers rather than a knot:

* no import cycle between modules (a strongly connected component of the module graph, lazy and
  ``TYPE_CHECKING`` imports included): two modules that need each other share a third, or one of them
  takes what it needs as an argument;
* no Python file of the package, the Flower integration, ``scripts/`` or ``tools/`` over
  :data:`MAX_LINES` lines: one concept per module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "zkfl_dapp"
#: The most lines a Python file may have (style: one concept per module).
MAX_LINES = 450
#: The folders whose Python files :data:`MAX_LINES` covers.
SIZED = ("zkfl_dapp", "zkfl_flower", "scripts", "tools")

RANK: dict[str, int] = {
    "exceptions": 0,
    "config": 1,
    "core": 2,
    "ml": 3,
    "storage": 3,
    "crypto": 3,
    "attestation": 3,
    "circuits": 4,
    "chain": 5,
    "secagg": 5,
    "protocol": 6,
    "audit": 7,
    "prediction": 7,
    "apps": 8,
    "experiments": 9,
}
#: Layers that must import without ape (a Flower environment cannot install ape beside flwr).
APE_FREE = ("core", "ml", "storage", "crypto", "attestation", "circuits", "chain", "secagg")
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


# --- import cycles ----------------------------------------------------------------------------------


def module_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports, at any depth; ``from pkg import mod`` counts as ``pkg.mod``
    when ``mod`` is a module (not a name defined in ``pkg``). Importing a module is an edge to it only, not to
    its parent packages."""
    paths = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.startswith("zkfl_dapp"):
                    for alias in node.names:
                        sub = f"{node.module}.{alias.name}"
                        out.add(sub if sub in paths else node.module)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name.startswith("zkfl_dapp"))
        graph[module] = out & paths.keys()
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a module importing itself): each is a
    set of modules that import each other, directly or around a loop (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, list[str]]] = [(root, sorted(graph.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(graph.get(nxt, ()))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    cycles.append(sorted(component))
    return sorted(cycles)


def test_no_import_cycles() -> None:
    """No two modules of the package need each other, inside a layer or across layers."""
    assert import_cycles(module_graph()) == []


def test_module_graph_resolves_submodules_and_lazy_imports() -> None:
    graph = module_graph()
    assert "zkfl_dapp.apps.parties" in graph["zkfl_dapp.apps.zkfl_party"]  # from zkfl_dapp.apps import parties
    assert "zkfl_dapp.protocol.roles" in graph["zkfl_dapp.protocol.rounds"]  # under TYPE_CHECKING
    assert "zkfl_dapp.protocol.consortium" not in graph["zkfl_dapp.protocol.rounds"]


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"a"}}, [["a"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"c"}}, []),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
    ],
)
def test_the_cycle_check_catches(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    """The checker itself: a loop of any length is reported, a tree is not."""
    assert import_cycles(graph) == expected


# --- file size --------------------------------------------------------------------------------------


def long_files(limit: int = MAX_LINES) -> list[str]:
    """``path: N lines`` for every Python file of :data:`SIZED` over ``limit`` lines."""
    out = []
    for folder in SIZED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            lines = len(path.read_text().splitlines())
            if lines > limit:
                out.append(f"{path.relative_to(ROOT)}: {lines} lines")
    return out


def test_no_python_file_is_over_the_line_limit() -> None:
    assert long_files() == []


def test_the_line_limit_catches() -> None:
    """The checker itself: with a limit below the largest file, that file is reported."""
    assert any(line.startswith("zkfl_dapp/") for line in long_files(limit=100))
