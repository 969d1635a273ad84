"""The store and the worker's module stay light: a fresh interpreter proves what they pull in.

The store must load without Textual or torch (the CLI's ``queue list`` and ``status`` and any
script can use it cheaply); the worker may use torch but never Textual.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fixtures_store import ROOT


def modules_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "statement",
    [
        "import doorways_tui.store",
        "from doorways_tui.store import Library, ImageFilter",
        "import doorways_tui.store.library, doorways_tui.store.migrations, doorways_tui.store.files",
    ],
)
def test_store_imports_neither_textual_nor_torch(statement):
    loaded = modules_after(statement)
    assert "textual" not in loaded
    assert "torch" not in loaded
    assert "sqlite_utils" in loaded  # the import really happened


def test_worker_never_imports_textual():
    loaded = modules_after(
        "import doorways_tui.worker.loop, doorways_tui.worker.runner, doorways_tui.cli.worker"
    )
    assert "textual" not in loaded
    assert "doorways_tui.worker.loop" in loaded


def test_queue_and_status_commands_never_import_textual():
    loaded = modules_after("import doorways_tui.cli.queue, doorways_tui.cli.status")
    assert "textual" not in loaded
