"""The library file is trusted only when it is whole, and its rows never lead outside it.

Every bad library here is built by the test: an empty or foreign ``library.db``, images
left without a database, a schema from a newer Doorways, a dropped table, rows whose paths
point elsewhere, and a backup on read-only media. Each is refused in one line and left
byte for byte as it was, or (read-only media) listed without a write.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_store import CLI, ROOT, subprocess_env
from tests.library_integrity_shared import small_library, snapshot


def _read_only_prefix(how: str, root: Path) -> list[str]:
    """A command prefix that runs the CLI where ``root`` cannot be written: a read-only
    bind mount (true read-only media), or no write permission (root loses the
    capabilities that would let it write anyway). Skips where neither can be set up."""
    if how == "mount":
        if shutil.which("unshare") is None:
            pytest.skip("no unshare")
        probe = subprocess.run(
            ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0"', str(root)],
            capture_output=True,
        )
        if probe.returncode != 0:
            pytest.skip("cannot make a read-only mount here")
        return ["unshare", "-m", "sh", "-c", 'mount --bind -o ro "$0" "$0" && exec "$@"', str(root)]
    for path in [root, *root.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions do not bind")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


@pytest.mark.parametrize("how", ["mount", "permissions"])
def test_a_library_on_read_only_media_can_be_listed_and_exported(tmp_path, how):
    root = tmp_path / "lib"
    small_library(root)
    # A backup as a careful copy leaves it: no -wal, no -shm beside the database.
    assert sorted(p.name for p in root.iterdir()) == ["checkpoints", "images", "library.db", "logs"]
    before = snapshot(root)
    out_dir = tmp_path / "exported"
    prefix = _read_only_prefix(how, root)
    try:
        for args in (
            ["status"],
            ["queue", "list", "--all", "--json"],
            ["export", "--starred", str(out_dir), "--no-sheet"],
        ):
            done = subprocess.run(
                [*prefix, sys.executable, "-c", CLI, "--library", str(root), *args],
                capture_output=True,
                text=True,
                timeout=120,
                env=subprocess_env(root),
                cwd=ROOT,
            )
            assert done.returncode == 0, done.stderr
            assert "Traceback" not in done.stderr
            if args[0] == "status":
                assert "1 queued, 1 done" in done.stdout
    finally:
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert len(list(out_dir.glob("*.png"))) == 1
    assert snapshot(root) == before


def test_a_writer_on_a_read_only_older_library_gets_one_line(tmp_path):
    """A backup of an older library (schema 5, no WAL index beside it) on read-only media:
    a command that writes says in one line that it cannot, and what can; nothing changes."""
    from doorways_tui.store.db import create_database
    from doorways_tui.store.files import STORED_DIRS, db_path
    from doorways_tui.store.migrations import MIGRATIONS, migrate

    root = tmp_path / "old"
    root.mkdir()
    for sub in STORED_DIRS:
        (root / sub).mkdir()
    create_database(db_path(root), lambda db: migrate(db, [m for m in MIGRATIONS if m[0] <= 5]))
    before = snapshot(root)
    prefix = _read_only_prefix("permissions", root)
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", CLI, "--library", str(root), "queue", "add", "door"],
            capture_output=True,
            text=True,
            timeout=120,
            env=subprocess_env(root),
            cwd=ROOT,
        )
    finally:
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "cannot be written here" in done.stderr and "doorways status" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert snapshot(root) == before
