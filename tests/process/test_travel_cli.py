"""The commands that take a library's work elsewhere, run as a user runs them: export with
XMP, import-xmp, backup, clean."""

from __future__ import annotations

import subprocess
import sys

from doorways_tui.export.xmp import embedded_xmp, read_xmp
from doorways_tui.store import Library
from tests.export_shared import lib  # noqa: F401  (fixtures)
from tests.fixtures_store import CLI, ROOT, doorways, subprocess_env


def _run(*args: str, library, stdin: str | None = None):
    """The CLI with stdin a pipe (never a terminal), as in a script or cron."""
    return subprocess.run(
        [sys.executable, "-c", CLI, "--library", str(library), *args],
        input=stdin or "", capture_output=True, text=True, timeout=120,
        env=subprocess_env(library), cwd=ROOT,
    )  # fmt: skip


def test_export_embed_then_import_xmp_round_trip(lib, tmp_path):
    out = tmp_path / "out"
    done = doorways(
        "export", "--starred", "--xmp", "embed", "--no-sheet", str(out), library=lib.root
    )
    assert done.returncode == 0, done.stderr
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 3 and not list(out.glob("*.xmp"))
    packet = embedded_xmp(pngs[0].read_bytes())
    assert read_xmp(packet).starred is True
    pngs[0].write_bytes(pngs[0].read_bytes().replace(b'xmp:Rating="0"', b'xmp:Rating="-1"'))
    done = doorways("import-xmp", str(out), library=lib.root)
    assert done.returncode == 0, done.stderr
    assert "1 updated, 2 unchanged, 0 unmatched" in done.stdout
    with Library.open(lib.root, readonly=True) as again:
        assert [i.id for i in again.images.images() if i.rejected] == [1]
    done = doorways("export", "--starred", "--xmp", "sideways", str(out), library=lib.root)
    assert done.returncode == 2 and done.stderr.count("\n") == 1


def test_backup_then_clean_then_undo(lib, tmp_path):
    lib.images.toggle_reject(3)
    done = doorways("backup", str(tmp_path / "b"), library=lib.root)
    assert done.returncode == 0, done.stderr
    assert "6 copied" in done.stdout and (tmp_path / "b" / "library.db").is_file()
    done = doorways("backup", str(tmp_path / "b"), library=lib.root)
    assert "0 copied" in done.stdout and "6 already there" in done.stdout

    refused = _run("clean", "--rejected", library=lib.root)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
    done = _run("clean", "--rejected", "--yes", library=lib.root)
    assert done.returncode == 0 and "moved 1 rejected image(s)" in done.stdout
    assert lib.images.final_count() == 5
    done = _run("clean", "--undo", library=lib.root)
    assert done.returncode == 0 and lib.images.final_count() == 6
    assert "trash" in _run("clean", "--help", library=lib.root).stdout
