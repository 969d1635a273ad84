"""doorways backup: an online backup that keeps what a file copy misses, incremental."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from doorways_tui.cli import main
from doorways_tui.store import Library, StoreError
from doorways_tui.store.backup import MARKER, backup_library
from doorways_tui.store.files import db_path
from tests.export_shared import lib  # noqa: F401  (fixtures)


def test_a_backup_during_a_write_keeps_the_latest_committed_star(lib, tmp_path):
    lib.images.toggle_star(5)  # committed, still in the write-ahead log
    copied = tmp_path / "copied"
    copied.mkdir()
    shutil.copy(db_path(lib.root), copied / "library.db")  # what `cp library.db` keeps
    with Library.open(copied, readonly=True) as old:
        assert not old.images.image(5).starred  # the star is lost
    other = sqlite3.connect(db_path(lib.root), isolation_level=None, timeout=10)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    other.execute("UPDATE images SET note = 'uncommitted' WHERE id = 6")
    try:
        result = backup_library(lib.root, tmp_path / "backup")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.images == 6 and result.copied == 6 and not result.missing
    assert not (tmp_path / "backup" / "library.db-wal").exists()  # one self-contained file
    with Library.open(tmp_path / "backup", readonly=True) as backup:
        assert backup.images.image(5).starred  # the latest committed star
        assert backup.images.image(6).note == ""  # never what was not committed
        for image in backup.images.images():
            data = backup.abspath(image.path).read_bytes()
            assert data == lib.abspath(image.path).read_bytes()


def test_a_second_backup_copies_only_what_changed(lib, tmp_path):
    dest = tmp_path / "backup"
    first = backup_library(lib.root, dest)
    assert first.copied == 6
    damaged = dest / lib.images.image(2).path
    damaged.write_bytes(damaged.read_bytes()[:-1] + b"x")  # same size, other bytes
    (dest / lib.images.image(3).path).unlink()
    lib.images.set_rating(1, 5)
    second = backup_library(lib.root, dest)
    assert (second.copied, second.already) == (2, 4)
    with Library.open(dest, readonly=True) as backup:
        assert backup.images.image(1).rating == 5
    assert damaged.read_bytes() == lib.abspath(lib.images.image(2).path).read_bytes()
    # The backup is a library: opened for writing, it works like the original.
    with Library.open(dest) as moved:
        moved.images.toggle_star(6)
        assert moved.images.image(6).starred


def test_backup_never_overwrites_another_library_or_goes_inside_its_own(lib, tmp_path):
    other = tmp_path / "other"
    with Library.open(other):
        pass
    before = db_path(other).read_bytes()
    with pytest.raises(StoreError, match="did not make"):
        backup_library(lib.root, other)
    assert db_path(other).read_bytes() == before and not (other / MARKER).exists()
    with pytest.raises(StoreError, match="inside it"):
        backup_library(lib.root, lib.root / "images" / "backup")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        backup_library(lib.root, tmp_path / "afile")


def test_cli_backup_reports_missing_files_and_a_summary(lib, tmp_path, capsys):
    lib.abspath(lib.images.image(4).path).unlink()
    code = main(["--library", str(lib.root), "backup", str(tmp_path / "b")])
    out, err = capsys.readouterr()
    assert code == 1 and "5 copied" in out and "1 missing" in out
    (line,) = err.splitlines()
    assert "missing in the library" in line
    code = main(["--library", str(lib.root), "backup", str(lib.root)])
    assert code == 2 and capsys.readouterr().err.count("\n") == 1
