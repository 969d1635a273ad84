"""The library store: schema, tree, queue transitions, images, triage and undo."""

from __future__ import annotations

import time

from doorways_tui.store import Library
from doorways_tui.store.migrations import MIGRATIONS, applied_versions
from tests.store_shared import run_at_once


def test_libraries_opened_at_the_same_moment_share_one_database(tmp_path):
    root = tmp_path / "lib"
    start = time.time() + 2.0
    code = (
        "import sys, time; from doorways_tui.store import Library\n"
        f"time.sleep(max(0.0, {start} - time.time()))\n"
        "lib = Library.open(sys.argv[1]); lib.tree.add_theme(sys.argv[2]); lib.close()"
    )
    run_at_once(code, root, [f"t{n}" for n in range(6)])
    with Library.open(root) as lib:
        assert sorted(t.name for t in lib.tree.themes()) == [f"t{n}" for n in range(6)]
        assert applied_versions(lib.db) == [m[0] for m in MIGRATIONS]
    assert not [p for p in root.iterdir() if p.name.endswith(".new")]


def test_a_second_open_in_one_process_keeps_the_first_ones_locks(tmp_path):
    """The app opens the library twice. Checking the file must not open it outside SQLite:
    closing any descriptor of a file drops every POSIX lock this process holds on it, so
    another process would take itself for the last user, fold the WAL in and remove it,
    and the first connection's later commits would land in a WAL nobody else reads."""
    import subprocess
    import sys

    from tests.fixtures_store import ROOT, subprocess_env

    root = tmp_path / "lib"
    first = Library.open(root)
    second = Library.open(root)
    env, cwd = subprocess_env(tmp_path), ROOT
    opener = "import sys; from doorways_tui.store import Library; Library.open(sys.argv[1]).close()"
    subprocess.run([sys.executable, "-c", opener, str(root)], env=env, cwd=cwd, check=True)
    first.tree.add_theme("written after the other process left")
    reader = "import sys; from doorways_tui.store import Library\n"
    reader += "print([t.name for t in Library.open(sys.argv[1]).tree.themes()])"
    seen = subprocess.run(
        [sys.executable, "-c", reader, str(root)],
        env=env,
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    )
    second.close()
    first.close()
    assert seen.stdout.strip() == "['written after the other process left']"
