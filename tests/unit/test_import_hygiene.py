"""The import rules, one case per folder, checked two ways.

What each folder really loads: a fresh interpreter imports every module of the folder and
lists ``sys.modules`` (Textual only under ``tui/``; no torch in the app, the store, the
workstation or the CLI's parsing; the engine loads nothing of ``doorways_tui``, and
``import engine`` does not load torch). And the import graph read from the source (every
import, also inside functions and under ``TYPE_CHECKING``): no circles, and no module
imports from a layer above its own. ``lint-imports`` checks the same graph statically
(the contracts in ``pyproject.toml``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures_store import ROOT

# Bottom to top: a module may import from its own layer or below. Folders in one layer
# (themes, worker, export) do not import each other.
LAYERS: dict[str, int] = {
    "engine": 0,
    "doorways_tui": 1,  # the package itself: its version
    "doorways_tui.core": 1,
    "doorways_tui.store": 2,
    "doorways_tui.themes": 3,
    "doorways_tui.worker": 3,
    "doorways_tui.export": 3,
    "doorways_tui.workstation": 4,
    "doorways_tui.tui": 5,
    "doorways_tui.cli": 6,
    "doorways_tui.__main__": 6,
}

def module_files() -> dict[str, Path]:
    """Every module of the two packages, by dotted name."""
    found = {}
    for top in ("engine", "doorways_tui"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = module_files()


def in_folder(folder: str) -> list[str]:
    return [m for m in MODULES if m == folder or m.startswith(folder + ".")]


# -- what each folder loads --------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    folder: str
    forbids: tuple[str, ...]  # top-level packages importing the folder must not load
    why: str
    statement: str = ""  # default: import every module of the folder

    def code(self) -> str:
        return self.statement or "\n".join(f"import {m}" for m in in_folder(self.folder))


NOTHING_HEAVY = ("textual", "textual_image", "torch")
RULES = [
    Rule("engine", ("doorways_tui", "textual"), "the engine is a library of its own"),
    Rule("engine", ("torch",), "torch loads on first use", statement="import engine"),
    Rule("doorways_tui.core", NOTHING_HEAVY, "every layer may use it"),
    Rule("doorways_tui.store", NOTHING_HEAVY, "`queue list`, `status` and scripts open it cheaply"),
    Rule("doorways_tui.themes", NOTHING_HEAVY, "`theme preview` changes nothing, fast"),
    Rule("doorways_tui.export", NOTHING_HEAVY, "`export` copies files, it runs no model"),
    Rule("doorways_tui.worker", ("textual", "textual_image"), "a worker has no terminal UI"),
    Rule(
        "doorways_tui.worker",
        ("torch",),
        "a worker registers (and `worker --detach` returns) before torch loads",
        statement="import doorways_tui.worker.loop, doorways_tui.worker.options",
    ),
    Rule("doorways_tui.workstation", NOTHING_HEAVY, "what each key does, tested headless"),
    Rule("doorways_tui.tui", ("torch",), "no torch in the app: workers run the engine"),
    Rule(
        "doorways_tui.cli",
        NOTHING_HEAVY,
        "each subcommand imports what it needs when it runs",
        statement="from doorways_tui.cli import build_parser; build_parser()\n"
        + "\n".join(f"import {m}" for m in in_folder("doorways_tui.cli")),
    ),
]


def modules_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_every_folder_has_a_rule():
    folders = {m for m, path in MODULES.items() if path.name == "__init__.py" and m.count(".") == 1}
    assert {"engine", *folders} == {rule.folder for rule in RULES}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.folder}:{r.statement or 'all'}")
def test_what_a_folder_loads(rule: Rule):
    loaded = modules_after(rule.code())
    if not rule.statement:
        assert set(in_folder(rule.folder)) <= loaded  # the imports really happened
    heavy = sorted(m for m in loaded if any(m == p or m.startswith(p + ".") for p in rule.forbids))
    assert not heavy, f"{rule.folder} ({rule.why}) loads {heavy[:5]}"


# -- the import graph read from the source ------------------------------------------------


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
