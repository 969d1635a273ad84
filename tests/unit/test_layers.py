"""The import graph read from the source (every import, also inside functions and under
``TYPE_CHECKING``), one rule per layer: no circles, and no module imports from a layer
above its own. ``lint-imports`` checks the same graph statically (the contracts in
``pyproject.toml``); what each folder really loads in a fresh interpreter is
tests/process/test_import_hygiene.py.
"""

from __future__ import annotations

import ast

from tests.imports_shared import MODULES

# Bottom to top: a module may import from its own layer or below. Folders in one layer
# (themes, worker, export, cluster) do not import each other.
LAYERS: dict[str, int] = {
    "doorways_engine": 0,
    "doorways_tui": 1,  # the package itself: its version
    "doorways_tui.core": 1,
    "doorways_tui.store": 2,
    "doorways_tui.themes": 3,
    "doorways_tui.worker": 3,
    "doorways_tui.cluster": 3,
    "doorways_tui.export": 3,
    "doorways_tui.workstation": 4,
    "doorways_tui.tui": 5,
    "doorways_tui.cli": 6,
    "doorways_tui.__main__": 6,
}


def imports_of(name: str) -> set[str]:
    """The package modules ``name`` imports anywhere in its source."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    edges = set()
    for target in found:
        while target not in MODULES and "." in target:
            target = target.rpartition(".")[0]
        if target in MODULES and target != name:
            edges.add(target)
    return edges


GRAPH = {name: imports_of(name) for name in MODULES}


def layer(name: str) -> int:
    owner = max((k for k in LAYERS if name == k or name.startswith(k + ".")), key=len)
    return LAYERS[owner]


def test_the_graph_sees_lazy_and_type_checking_imports():
    """The reader must see what matters: a function-level import and a relative one."""
    assert "doorways_tui.tui.app" in GRAPH["doorways_tui.cli.app"]  # inside run_app
    assert "doorways_tui.cli" in GRAPH["doorways_tui.__main__"]


def test_no_module_imports_a_layer_above_its_own():
    upward = sorted(f"{m} -> {d}" for m, deps in GRAPH.items() for d in deps if layer(d) > layer(m))
    assert not upward


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles():
    assert cycles(GRAPH) == []


def test_the_circle_finder_finds_circles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
