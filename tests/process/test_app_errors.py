"""``doorways app`` (what ``doorways`` with no subcommand opens in a terminal) refuses what
it cannot open the way every subcommand does: one ``doorways: error:`` line, exit 2,
before the app takes the terminal.

Each case runs the real entry point in a fresh interpreter, as a person would type it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures_store import ROOT, subprocess_env


def _app(library: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(library)
    env["DOORWAYS_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "doorways_tui", "--library", str(library), "app"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def _one_line(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("doorways: error: "), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == "", done.stdout
    for text in expected:
        assert text in lines[0], lines[0]


def _garbage_library(tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    root.mkdir()
    (root / "library.db").write_bytes(b"not a database, just bytes\n" * 200)
    return root


LIBRARIES = {  # name -> (make the --library path, what the line says)
    "a-regular-file": (lambda t: _file(t), "is a file, not a library folder"),
    "under-a-file": (lambda t: _file(t) / "sub", "Not a directory"),
    "garbage-db": (_garbage_library, "is not an SQLite database"),
}


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("not a library\n")
    return path


@pytest.mark.parametrize("case", sorted(LIBRARIES))
def test_a_library_the_app_cannot_open_is_one_line(tmp_path, case):
    make, expected = LIBRARIES[case]
    library = make(tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    _one_line(_app(library, tmp_path / "no-config.toml"), str(library).split("/sub")[0], expected)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize(
    ("value", "shown"),
    [("5", "= 5"), ('""', "= ''"), ('"ctrl+"', "= 'ctrl+'"), ('"x,,z"', "= 'x,,z'")],
    ids=["a-number", "empty", "a-modifier-alone", "an-empty-key"],
)
def test_a_keymap_entry_that_is_not_keys_is_one_line(tmp_path, value, shown):
    config = tmp_path / "config.toml"
    config.write_text(f'[keymap]\n"triage.reject" = {value}\n')
    library = tmp_path / "lib"
    _one_line(_app(library, config), str(config), "'triage.reject'", shown)
    assert not library.exists()  # refused before anything was created
