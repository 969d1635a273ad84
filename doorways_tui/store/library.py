"""The Library: one folder holding ``library.db`` (SQLite, WAL) and the image files.

Open it with ``Library.open(path)``; every process (the app, each worker, the CLI) opens its
own. One instance may be shared by threads of one process (calls are serialised). It holds
its parts, each handed the same ``StoreContext`` (connection, folder, clock, undo origin):

- ``lib.tree``     themes and the prompt-variant tree (with per-node counts)   tree.py
- ``lib.queue``    queueing, spawning, rerolls, cancel/retry, the queue view    queue.py
- ``lib.claims``   what workers do: claim, progress, checkpoint, finish, fail   claims.py
- ``lib.images``   image lists, filters, stepping, positions, triage writes     images.py
- ``lib.workers``  worker rows and heartbeats                                   workers.py
- ``lib.history``  the event log and undo                                       history.py
- ``lib.rules``    stop rules, held jobs, the claim order's setting             rules.py
- ``lib.curation`` CLIP embeddings, suggestions, neighbours, duplicates         curation.py

This file opens (whole libraries only: see ``Library.open``) and closes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from doorways_tui.store.claims import Claims
from doorways_tui.store.context import StoreContext, process_origin
from doorways_tui.store.curation import Curation
from doorways_tui.store.db import (
    Database,
    NoLibrary,
    StoreError,
    check_database_file,
    create_database,
    is_not_a_database,
    raise_not_a_database,
)
from doorways_tui.store.files import WORK_DIRS, db_path, library_path
from doorways_tui.store.history import History
from doorways_tui.store.images import Images
from doorways_tui.store.migrations import (
    known_version,
    migrate,
    missing_tables,
    newer_schema_error,
    schema_version,
    table_names,
)
from doorways_tui.store.queue import Queue
from doorways_tui.store.rules import Rules
from doorways_tui.store.tree import Tree
from doorways_tui.store.workers import Workers


class Library:
    """Themes, variants, jobs, images, workers, events and undo, in one SQLite file; the
    parts hold the operations (``lib.queue.reroll(...)``), this holds the parts."""

    def __init__(
        self,
        root: Path,
        *,
        clock: Callable[[], float] = time.time,
        readonly: bool = False,
        origin: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.clock = clock
        self.readonly = readonly
        self.db = Database(db_path(self.root), readonly=readonly)
        ctx = StoreContext(self.root, self.db, clock, origin or process_origin())
        self.tree = Tree(ctx)
        self.queue = Queue(ctx, self.tree)
        self.claims = Claims(ctx)
        self.images = Images(ctx)
        self.workers = Workers(ctx, self.claims)
        self.rules = Rules(ctx)
        self.curation = Curation(ctx)
        self.history = History(
            ctx,
            {
                "triage": self.images.undo_triage,
                "spawn": self.queue.undo_spawn,
                "jobs": self.queue.undo_jobs,
                "marks": self.images.undo_marks,
                "rules": self.rules.undo_rule,
                "live": self.queue.undo_live,
            },
        )

    def abspath(self, relpath: str) -> Path:
        """The file on disk for a path the library stores (relative to its folder); one
        that would lead outside the library is a ``StoreError`` (see ``library_path``)."""
        return library_path(self.root, relpath)

    @classmethod
    def open(
        cls,
        root: Path | str,
        *,
        create: bool = True,
        readonly: bool = False,
        clock: Callable[[], float] = time.time,
        origin: str | None = None,
    ) -> Library:
        """Open (creating and migrating if needed) the library in folder ``root``.

        With ``create=False`` a folder without a library is refused instead of becoming a
        new empty library. ``readonly`` (for commands that only look) never creates,
        migrates or writes anything, so a backup on read-only media can be listed. What
        cannot be opened is a ``StoreError`` with a one-line reason, never a traceback, and
        leaves the library as it was: an empty or foreign ``library.db``, a folder holding
        images but no database, a schema newer than this Doorways (refused for writing), a
        missing table, an unwritable place. ``origin`` names the writer in the undo log
        (this process, unless told: a test plays another process with it)."""
        root = Path(root).expanduser()
        if root.exists() and not root.is_dir():
            raise StoreError(f"{root} is a file, not a library folder")
        check_database_file(db_path(root))
        if not db_path(root).exists():
            if readonly or not create:
                raise NoLibrary(f"no library at {root}")
            _create(root, clock)
        try:
            library = cls(root, clock=clock, readonly=readonly, origin=origin)
        except (OSError, sqlite3.Error) as exc:
            raise _cannot("open", root, exc) from None
        try:
            library._check_schema()
            if not readonly:
                for sub in WORK_DIRS:
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
            if not self.readonly and "readonly database" in str(exc):
                raise StoreError(self._cannot_write_here()) from None
            raise StoreError(f"cannot read {self.db.path}: {exc}") from None

    def _cannot_write_here(self) -> str:
        """Why a writer cannot use a library it cannot write (read-only media, a backup
        without its WAL index, or one from an older Doorways that needs its migrations)."""
        look = "commands that only look at it (doorways status, queue list, export) can"
        try:
            have = schema_version(self.db)
        except sqlite3.Error:
            have = None
        if have is not None and have < (want := known_version()):
            return (
                f"{self.root} was made by an older Doorways (schema {have}; this one writes"
                f" {want}) and cannot be written here to bring it up to date: open it once"
                f" where it can be written; {look}"
            )
        return f"{self.root} cannot be written here (read-only media or permissions); {look}"

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
