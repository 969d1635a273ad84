"""The library file is trusted only when it is whole, and its rows never lead outside it.

Every bad library here is built by the test: an empty or foreign ``library.db``, images
left without a database, a schema from a newer Doorways, a dropped table, rows whose paths
point elsewhere, and a backup on read-only media. Each is refused in one line and left
byte for byte as it was, or (read-only media) listed without a write.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from doorways_tui.cli import main
from doorways_tui.store import Library, StoreError
from tests.fixtures_store import finish_fake, seed_jobs
from tests.library_integrity_shared import small_library, snapshot

TINY_ARGS = ["--models", "demo", "--size", "64x64", "--steps", "4", "--cutn", "4"]
OLD_ART = b"\x89PNG an old image that must survive"

# Commands that only look, and commands that write (each must refuse a bad library).
LOOKING = [["status"], ["queue", "list"], ["export", "--starred", "OUT"]]
WRITING = [
    ["queue", "add", "a door", *TINY_ARGS],
    ["queue", "cancel", "1"],
    ["theme", "queue", "doorways", "--models", "demo", "--seeds", "1"],
]


def cli(capsys, root: Path, *args: str) -> tuple[int, str, str]:
    args = tuple(str(root.parent / "export-out") if a == "OUT" else a for a in args)
    code = main(["--library", str(root), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def old_library(root: Path) -> None:
    """A library folder whose images survived but whose database did not."""
    art = root / "images" / "v000001" / "j000001-s0-final.png"
    art.parent.mkdir(parents=True)
    art.write_bytes(OLD_ART)


def one_line_refusal(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.startswith("doorways: error: ") and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err


# -- an empty or foreign library.db ---------------------------------------------------------


@pytest.mark.parametrize("args", LOOKING + WRITING, ids=lambda a: " ".join(a[:2]))
def test_an_empty_library_db_is_refused_by_every_command_and_left_alone(capsys, tmp_path, args):
    root = tmp_path / "lib"
    old_library(root)
    (root / "library.db").write_bytes(b"")  # a failed copy, a full disk
    before = snapshot(root)
    code, _, err = cli(capsys, root, *args)
    one_line_refusal(code, err, "library.db is empty (0 bytes)", "backup")
    assert snapshot(root) == before  # no new schema, the old image intact
    assert (root / "library.db").stat().st_size == 0
    assert sorted(p.name for p in root.iterdir()) == ["images", "library.db"]  # no -wal, -shm


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"this is not a database at all " * 8, "is not an SQLite database"),
        (b"SQLite format 3\x00\x10\x00", "cut short"),
    ],
)
def test_a_headerless_library_db_is_refused_and_left_alone(capsys, tmp_path, content, why):
    root = tmp_path / "lib"
    old_library(root)
    (root / "library.db").write_bytes(content)
    before = snapshot(root)
    for args in (["status"], ["queue", "add", "a door", *TINY_ARGS]):
        code, _, err = cli(capsys, root, *args)
        one_line_refusal(code, err, why)
    assert snapshot(root) == before


def test_a_foreign_sqlite_file_is_not_turned_into_a_library(capsys, tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    with sqlite3.connect(root / "library.db") as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.close()
    before = snapshot(root)
    code, _, err = cli(capsys, root, "queue", "add", "a door", *TINY_ARGS)
    one_line_refusal(code, err, "not a library")
    assert snapshot(root) == before


# -- images but no database -----------------------------------------------------------------


@pytest.mark.parametrize("args", WRITING[::2], ids=lambda a: a[0])
def test_no_new_library_where_images_were_left(capsys, tmp_path, args):
    root = tmp_path / "lib"
    old_library(root)
    before = snapshot(root)
    code, _, err = cli(capsys, root, *args)
    one_line_refusal(code, err, "has images/ but no library database", "restore library.db")
    assert snapshot(root) == before
    assert not (root / "library.db").exists()


def test_an_empty_images_folder_does_not_stop_a_new_library(capsys, tmp_path):
    root = tmp_path / "lib"
    (root / "images" / "v000001").mkdir(parents=True)
    code, out, err = cli(capsys, root, "queue", "add", "a door", *TINY_ARGS)
    assert code == 0, err
    assert "queued 1 job(s) [1]" in out


# -- a newer schema, a missing table --------------------------------------------------------


def newer_library(root: Path) -> None:
    """A library as a future Doorways (schema 99, written by 9.1.0) leaves it: one table
    this version knows is gone (the newer schema, not damage, is what to report)."""
    with Library.open(root) as lib:
        seed_jobs(lib, 1)
        with lib.transaction() as conn:
            conn.execute("DROP TABLE undo_log")
            conn.execute("INSERT INTO schema_migrations VALUES (99, 'the future', 0)")
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('needs_doorways', '9.1.0')")
            conn.execute("PRAGMA user_version = 99")


@pytest.mark.parametrize("args", WRITING, ids=lambda a: " ".join(a[:2]))
def test_a_newer_schema_is_never_written_and_says_which_doorways_it_needs(capsys, tmp_path, args):
    root = tmp_path / "lib"
    newer_library(root)
    before = snapshot(root)
    code, _, err = cli(capsys, root, *args)
    one_line_refusal(code, err, "schema version 99", "needs Doorways 9.1.0 or newer")
    assert snapshot(root) == before


def test_a_newer_schema_in_rollback_journal_mode_stays_in_it_when_refused(tmp_path):
    """Switching to WAL rewrites the file's header and leaves -wal and -shm files beside it:
    a refused library must be refused before that."""
    root = tmp_path / "lib"
    newer_library(root)
    conn = sqlite3.connect(root / "library.db")
    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    conn.close()
    before = snapshot(root)
    with pytest.raises(StoreError, match="schema version 99"):
        Library.open(root)
    conn = sqlite3.connect(root / "library.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()
    assert snapshot(root) == before


def test_a_newer_schema_can_still_be_looked_at(capsys, tmp_path):
    root = tmp_path / "lib"
    newer_library(root)
    before = (root / "library.db").read_bytes()
    code, out, err = cli(capsys, root, "queue", "list", "--json")
    assert code == 0, err
    assert [json.loads(line)["status"] for line in out.splitlines()] == ["queued"]
    assert (root / "library.db").read_bytes() == before


@pytest.mark.parametrize("args", [["status"], ["queue", "list"], WRITING[0], WRITING[2]])
def test_a_library_missing_a_table_is_one_line(capsys, tmp_path, args):
    root = tmp_path / "lib"
    with Library.open(root) as lib:
        seed_jobs(lib, 2)
        lib.db.execute("DROP TABLE jobs")
    before = snapshot(root)
    code, _, err = cli(capsys, root, *args)
    one_line_refusal(code, err, "table jobs is missing")
    assert snapshot(root) == before


def test_a_damaged_column_is_one_line_not_a_traceback(capsys, tmp_path):
    root = tmp_path / "lib"
    with Library.open(root) as lib:
        seed_jobs(lib, 1)
        lib.db.execute("DROP INDEX idx_jobs_claim")
        lib.db.execute("ALTER TABLE jobs DROP COLUMN priority")
    code, _, err = cli(capsys, root, "queue", "list")
    one_line_refusal(code, err, "the library database failed", "priority")


def test_library_open_errors_through_theme_queue_and_the_app_are_one_line(capsys, tmp_path):
    afile = tmp_path / "passwd"
    afile.write_text("root:x:0:0\n")
    for args in (WRITING[2], ["app"]):
        code, _, err = cli(capsys, afile, *args)
        one_line_refusal(code, err, "is a file, not a library folder")
    assert afile.read_text() == "root:x:0:0\n"


# -- read-only commands open read-only ------------------------------------------------------


@pytest.mark.parametrize("args", LOOKING, ids=lambda a: a[0])
def test_looking_commands_open_the_database_read_only(capsys, tmp_path, monkeypatch, args):
    root = tmp_path / "lib"
    small_library(root)
    opened: list[str] = []
    real_connect = sqlite3.connect

    def spy(target, *a, **kw):
        opened.append(str(target))
        return real_connect(target, *a, **kw)

    monkeypatch.setattr(sqlite3, "connect", spy)
    before = (root / "library.db").read_bytes()
    code, _, err = cli(capsys, root, *args)
    assert code == 0, err
    assert opened and all("mode=ro" in target for target in opened), opened
    assert (root / "library.db").read_bytes() == before


def test_a_read_only_library_refuses_writes_in_one_line(tmp_path):
    root = tmp_path / "lib"
    small_library(root)
    with Library.open(root, readonly=True) as lib, pytest.raises(StoreError, match="read-only"):
        lib.tree.add_theme("more doors")


# -- stored paths never lead outside the library --------------------------------------------


def _victims(tmp_path: Path) -> dict[str, Path]:
    """Files outside the library that crafted rows name, one per way of escaping."""
    outside = tmp_path / "outside"
    outside.mkdir()
    names = {"absolute": "abs.png", "dotdot": "dots.png", "symlink": "linked.png"}
    victims = {kind: outside / name for kind, name in names.items()}
    for path in victims.values():
        path.write_bytes(b"someone else's file")
    return victims


def _escaping_paths(root: Path, victims: dict[str, Path]) -> dict[str, str]:
    (root / "images" / "v999999").symlink_to(victims["symlink"].parent)
    return {
        "absolute": str(victims["absolute"]),
        "dotdot": f"images/../../outside/{victims['dotdot'].name}",
        "symlink": f"images/v999999/{victims['symlink'].name}",
    }


def _add_preview_row(lib: Library, job, path: str) -> None:
    lib.db.execute(
        "INSERT INTO images(job_id, variant_id, path, kind, step, width, height, sha256,"
        " created) VALUES (?, ?, ?, 'preview', 1, 64, 64, 'x', 0)",
        (job.id, job.variant_id, path),
    )


def test_queue_cancel_never_deletes_a_file_outside_the_library(capsys, tmp_path):
    root = tmp_path / "lib"
    victims = _victims(tmp_path)
    with Library.open(root) as lib:
        paths = _escaping_paths(root, victims)
        jobs = seed_jobs(lib, 3)
        for job, kind in zip(jobs, ("absolute", "dotdot", "symlink"), strict=True):
            _add_preview_row(lib, job, paths[kind])
        # A queued job's checkpoint is deleted on cancel too.
        lib.db.execute("UPDATE jobs SET checkpoint = ? WHERE id = ?", (paths["dotdot"], jobs[0].id))
    code, _, err = cli(capsys, root, "queue", "cancel", "--all-queued")
    assert code == 0, err
    with Library.open(root) as lib:
        assert [j.status for j in lib.queue.jobs()] == ["cancelled"] * 3
    assert all(path.read_bytes() == b"someone else's file" for path in victims.values())


def test_finishing_a_job_never_deletes_a_file_outside_the_library(tmp_path):
    root = tmp_path / "lib"
    victims = _victims(tmp_path)
    with Library.open(root) as lib:
        paths = _escaping_paths(root, victims)
        seed_jobs(lib, 1)
        job = lib.claims.claim_job("w1")
        _add_preview_row(lib, job, paths["absolute"])
        lib.db.execute("UPDATE jobs SET checkpoint = ? WHERE id = ?", (paths["symlink"], job.id))
        finish_fake(lib, job)
        assert lib.queue.job(job.id).status == "done"
    assert all(path.read_bytes() == b"someone else's file" for path in victims.values())


def test_export_never_copies_a_file_outside_the_library(capsys, tmp_path):
    root = tmp_path / "lib"
    victims = _victims(tmp_path)
    with Library.open(root) as lib:
        paths = _escaping_paths(root, victims)
        seed_jobs(lib, 3)
        for kind in ("absolute", "dotdot", "symlink"):
            image_id = finish_fake(lib, lib.claims.claim_job("w1"))
            lib.db.execute("UPDATE images SET path = ? WHERE id = ?", (paths[kind], image_id))
            lib.images.toggle_star(image_id)
    out_dir = tmp_path / "out"
    code, _, err = cli(capsys, root, "export", "--starred", str(out_dir), "--no-sheet")
    assert code == 1 and "Traceback" not in err
    assert err.count("outside the library") == 3  # each named, none followed
    copied = [p.read_bytes() for p in out_dir.rglob("*") if p.is_file()] if out_dir.exists() else []
    assert not any(b"someone else's file" in data for data in copied)


def test_the_app_never_reads_an_image_outside_the_library(tmp_path):
    """The detail pane reads a final's losses from its PNG: not from someone else's."""
    from PIL import Image as PILImage
    from PIL.PngImagePlugin import PngInfo

    from doorways_tui.workstation.browse import load_detail

    outside = tmp_path / "elsewhere.png"
    info = PngInfo()
    info.add_text("doorways", json.dumps({"losses": {"clip": 0.5}}))
    PILImage.new("RGB", (4, 4)).save(outside, pnginfo=info)
    with Library.open(tmp_path / "lib") as lib:
        seed_jobs(lib, 1)
        image_id = finish_fake(lib, lib.claims.claim_job("w1"))
        lib.db.execute("UPDATE images SET path = ? WHERE id = ?", (str(outside), image_id))
        assert load_detail(lib, image_id).losses == {}


def test_a_worker_never_resumes_from_a_checkpoint_outside_the_library(tmp_path):
    from doorways_engine.images import save_state
    from doorways_tui.worker.options import WorkerOptions
    from doorways_tui.worker.runner import JobRunner

    evil = save_state(tmp_path / "elsewhere.pt", {"step": 3})
    with Library.open(tmp_path / "lib") as lib:
        seed_jobs(lib, 1)
        job = lib.claims.claim_job("w1")
        lib.db.execute("UPDATE jobs SET checkpoint = ? WHERE id = ?", (str(evil), job.id))
        runner = JobRunner(
            lib,
            "w1",
            options=WorkerOptions(device="cpu"),
            should_stop=lambda: False,
            lost_jobs=set(),
        )
        config = runner._config(lib.queue.job(job.id))
    assert config.resume_latent is None and config.start_step == 0


def test_an_older_library_that_cannot_be_written_says_it_needs_upgrading(tmp_path, monkeypatch):
    """Readable but not writable (its WAL index is there, the file is not writable): the
    one line names the schema it has and the one this Doorways writes."""
    import sqlite3

    from doorways_tui.store import StoreError
    from doorways_tui.store import library as library_module
    from doorways_tui.store.db import create_database
    from doorways_tui.store.files import db_path
    from doorways_tui.store.migrations import MIGRATIONS, known_version, migrate

    root = tmp_path / "old"
    root.mkdir()
    create_database(db_path(root), lambda db: migrate(db, [m for m in MIGRATIONS if m[0] <= 5]))

    def cannot_write(*args, **kwargs):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(library_module, "migrate", cannot_write)
    with pytest.raises(StoreError) as err:
        library_module.Library.open(root)
    assert f"older Doorways (schema 5; this one writes {known_version()})" in str(err.value)
