"""The Library: one folder holding ``library.db`` (SQLite, WAL) and the image files.

Open it with ``Library.open(path)``; every process (the app, each worker, the CLI) opens its
own. One instance may be shared by threads of one process (calls are serialised). The
methods come from the mixins, grouped by table:

- tree.py      themes and the prompt-variant tree (with per-node counts)
- jobs.py      queueing, spawning, rerolls, cancel/retry, the queue view and counts
- claims.py    what workers do: claim, progress, checkpoint, preview, finish, fail, release
- images.py    image lists and filters, next/previous untriaged, triage writes
- workers.py   worker rows and heartbeats
- this file    opening (whole libraries only: see ``Library.open``), the event log, undo
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doorways_tui.store.db import (
    StoreError,
    check_database_file,
    create_database,
    is_not_a_database,
    raise_not_a_database,
)
from doorways_tui.store.files import STORED_DIRS, db_path
from doorways_tui.store.migrations import (
    migrate,
    missing_tables,
    newer_schema_error,
    table_names,
)
from doorways_tui.store.records import Event, UndoResult
from doorways_tui.store.workers import WorkersMixin


class Library(WorkersMixin):
    """Themes, variants, jobs, images, workers, events and undo, in one SQLite file."""

    @classmethod
    def open(
        cls,
        root: Path | str,
        *,
        create: bool = True,
        readonly: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> Library:
        """Open (creating and migrating if needed) the library in folder ``root``.

        With ``create=False`` a folder without a library is refused instead of becoming a
        new empty library. ``readonly`` (for commands that only look) never creates,
        migrates or writes anything, so a backup on read-only media can be listed. What
        cannot be opened is a ``StoreError`` with a one-line reason, never a traceback, and
        leaves the library as it was: an empty or foreign ``library.db``, a folder holding
        images but no database, a schema newer than this Doorways (refused for writing), a
        missing table, an unwritable place."""
        root = Path(root).expanduser()
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root} is a file, not a library folder")
        check_database_file(db_path(root))
        if not db_path(root).exists():
            if readonly or not create:
                raise StoreError(f"no library at {root}")
            _create(root, clock)
        try:
            library = cls(root, clock=clock, readonly=readonly)
        except (OSError, sqlite3.Error) as exc:
            raise _cannot("open", root, exc) from None
        try:
            library._check_schema()
            if not readonly:
                for sub in STORED_DIRS:
                    (root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            library.close()
            raise _cannot("open", root, exc) from None
        except BaseException:
            library.close()
            raise
        return library

    def _check_schema(self) -> None:
        """Refuse a database that is not (or no longer) a whole Doorways library; bring a
        writable one up to date."""
        try:
            tables = table_names(self.db)
            if "schema_migrations" not in tables:
                if tables:
                    raise StoreError(f"{self.db.path} is an SQLite database, not a library")
                if self.readonly:
                    raise StoreError(f"{self.db.path} has no tables: not a library yet")
                refuse_orphan_images(self.root)  # a database with no schema yet: new
            if newer_schema_error(self.db) is None and (missing := missing_tables(self.db)):
                many = len(missing) > 1
                tables = f"table{'s' * many} {', '.join(missing)} {'are' if many else 'is'}"
                raise StoreError(
                    f"{self.db.path} is damaged: {tables} missing; restore it from a backup"
                )
            if not self.readonly:
                # Refused before anything is written: switching to WAL changes the file too.
                if reason := newer_schema_error(self.db):
                    raise StoreError(reason)
                self.db.use_wal()
                migrate(self.db, clock=self.clock)
        except sqlite3.DatabaseError as exc:
            if is_not_a_database(exc):
                raise_not_a_database(self.db.path)
            raise StoreError(f"cannot read {self.db.path}: {exc}") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self):
        """One ``BEGIN IMMEDIATE`` transaction around several library calls (they join it):
        ``with lib.transaction(): ...`` commits all of them or none."""
        return self.db.write()

    # -- event log ------------------------------------------------------------------------

    def log_event(self, kind: str, /, **data: Any) -> None:
        """Append to the event log (the app may log its own actions too)."""
        with self.db.write() as conn:
            self._event(conn, kind, **data)

    def events(
        self, *, after_id: int = 0, kind: str | None = None, limit: int = 500
    ) -> list[Event]:
        """Events in order; poll with the last id seen as ``after_id`` to get new ones."""
        sql, params = "SELECT * FROM events WHERE id > ?", [after_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        rows = self.db.rows(sql + " ORDER BY id LIMIT ?", (*params, limit))
        return [Event.from_row(r) for r in rows]

    # -- undo -----------------------------------------------------------------------------

    def record_spawn_undo(self, job_ids: list[int], *, variant_id: int | None = None) -> None:
        """One undo step for work queued by several calls (e.g. a whole theme): undo
        cancels those jobs still queued, and drops ``variant_id`` if nothing uses it."""
        with self.db.write() as conn:
            self._push_undo(conn, "spawn", {"variant_id": variant_id, "job_ids": list(job_ids)})

    def can_undo(self) -> bool:
        return self.db.row("SELECT 1 FROM undo_log WHERE undone = 0 LIMIT 1") is not None

    def undo(self) -> UndoResult | None:
        """Revert the latest change not yet undone (a triage write, or a spawn/queue/reroll:
        its still-queued jobs are cancelled, and a variant it made is removed if nothing
        else uses it). Returns what was undone, or None when there is nothing to undo."""
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT * FROM undo_log WHERE undone = 0 ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            data = json.loads(row["data"])
            if row["kind"] == "triage":
                result = self._undo_triage(conn, data)
            else:
                result = self._undo_spawn(conn, data)
            conn.execute("UPDATE undo_log SET undone = 1 WHERE id = ?", (row["id"],))
            self._event(conn, "undo", kind=row["kind"], summary=result.summary)
        return result

    def _undo_triage(self, conn, data: dict[str, Any]) -> UndoResult:
        image_id, before = data["image_id"], data["before"]
        if conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone() is not None:
            self._set_fields(conn, image_id, before)
        fields = ", ".join(f"{k}={v!r}" for k, v in before.items())
        return UndoResult("triage", f"image {image_id}: {fields} restored", image_id=image_id)

    def _undo_spawn(self, conn, data: dict[str, Any]) -> UndoResult:
        # The ids travel as one JSON parameter, never one SQL variable each: a theme of a
        # million jobs is one statement (SQLite allows 32766 variables by default).
        ids = json.dumps(data["job_ids"])
        cancelled = [
            r[0]
            for r in conn.execute(
                "UPDATE jobs SET status = 'cancelled', finished = ?"
                " WHERE id IN (SELECT value FROM json_each(?)) AND status = 'queued'"
                " RETURNING id",
                (self.clock(), ids),
            )
        ]
        variant_id = data.get("variant_id")
        removed = variant_id is not None and self._drop_unused_variant(conn, variant_id, ids)
        summary = f"cancelled {len(cancelled)} queued job(s)"
        if removed:
            summary += f", removed variant {variant_id}"
        return UndoResult(
            "spawn",
            summary,
            job_ids=tuple(sorted(cancelled)),
            variant_id=variant_id if removed else None,
        )

    def _drop_unused_variant(self, conn, variant_id: int, job_ids: str) -> bool:
        """Delete a spawned variant if it has no children, no images, and no jobs other than
        the cancelled ones of its spawn (``job_ids``, a JSON list)."""
        if conn.execute("SELECT 1 FROM variants WHERE parent_id = ?", (variant_id,)).fetchone():
            return False
        if conn.execute("SELECT 1 FROM images WHERE variant_id = ?", (variant_id,)).fetchone():
            return False
        other = conn.execute(
            "SELECT 1 FROM jobs WHERE variant_id = ? AND (status != 'cancelled'"
            " OR id NOT IN (SELECT value FROM json_each(?))) LIMIT 1",
            (variant_id, job_ids),
        ).fetchone()
        if other is not None:
            return False
        conn.execute("DELETE FROM jobs WHERE variant_id = ?", (variant_id,))
        conn.execute("DELETE FROM variants WHERE id = ?", (variant_id,))
        return True


# -- a new library ---------------------------------------------------------------------------


def refuse_orphan_images(root: Path) -> None:
    """A folder whose images/ holds files but that has no library is a library that lost
    its database: a new one would give out job ids from 1 again and overwrite them."""
    images = root / "images"
    if images.is_dir() and any(p.is_file() for p in images.rglob("*")):
        raise StoreError(
            f"{root} has images/ but no library database: restore library.db from a backup,"
            " or move images/ away to start a new library here"
        )


def _create(root: Path, clock: Callable[[], float]) -> None:
    """A new library, its schema complete before ``library.db`` appears."""
    refuse_orphan_images(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        create_database(db_path(root), lambda db: migrate(db, clock=clock))
    except (OSError, sqlite3.Error) as exc:
        raise _cannot("create", root, exc) from None


def _cannot(verb: str, root: Path, exc: BaseException) -> StoreError:
    reason = getattr(exc, "strerror", None) or str(exc)
    return StoreError(f"cannot {verb} library at {root}: {reason}")
