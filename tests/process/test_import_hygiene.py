"""What each folder really loads, one case per folder: a fresh interpreter imports every
module of the folder and lists ``sys.modules`` (Textual only under ``tui/``; no torch in
the app, the store, the workstation or the CLI's parsing; the engine loads nothing of
``doorways_tui``, and ``import doorways_engine`` does not load torch). The import graph read from
the source is tests/unit/test_layers.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from tests.fixtures_store import ROOT
from tests.imports_shared import MODULES, in_folder


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
    Rule("doorways_engine", ("doorways_tui", "textual"), "the engine is a library of its own"),
    Rule("doorways_engine", ("torch",), "torch loads on first use", statement="import doorways_engine"),
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
    Rule(
        "doorways_tui.cluster",
        ("textual", "textual_image", "torch", "ray"),
        "ray is an optional extra, imported when a cluster command runs; torch on the actors",
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
    assert {"doorways_engine", *folders} == {rule.folder for rule in RULES}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.folder}:{r.statement or 'all'}")
def test_what_a_folder_loads(rule: Rule):
    loaded = modules_after(rule.code())
    if not rule.statement:
        assert set(in_folder(rule.folder)) <= loaded  # the imports really happened
    heavy = sorted(m for m in loaded if any(m == p or m.startswith(p + ".") for p in rule.forbids))
    assert not heavy, f"{rule.folder} ({rule.why}) loads {heavy[:5]}"


# -- what the unit tier loads -------------------------------------------------------------

# Unit tests of tui/ pieces that need no running app (binding tables, a message, Textual's
# cropping rule): the only modules of the unit tier that may load Textual.
UNIT_TESTS_OF_TUI = ("test_triage_vocabulary", "test_tui_pieces")


def unit_tier() -> list[str]:
    """The unit tier's fixture modules, then its test modules but the tui ones."""
    tests = sorted((ROOT / "tests" / "unit").glob("test_*.py"))
    return [
        "tests.conftest",
        "tests.unit.conftest",
        *(f"tests.unit.{p.stem}" for p in tests if p.stem not in UNIT_TESTS_OF_TUI),
    ]


def test_the_unit_tier_loads_no_textual():
    """The workstation layer is tested headless. Checked here, in a fresh interpreter: in
    pytest's own, the pytest-textual-snapshot plugin loads Textual before any test. The
    modules are imported one by one; the first after which Textual is loaded is named."""
    names = unit_tier()
    assert "tests.unit.test_session" in names and len(names) > 20
    script = (
        "import sys\n"
        f"for name in {names!r}:\n"
        "    __import__(name)\n"
        "    if 'textual' in sys.modules:\n"
        "        print(name)\n"
        "        break\n"
        "else:\n"
        "    print('-')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert done.returncode == 0, done.stderr
    culprit = done.stdout.strip().splitlines()[-1]
    assert culprit == "-", f"importing {culprit} loads Textual"
