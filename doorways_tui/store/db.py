"""One SQLite connection per process, set up so that several processes can share the file.

WAL lets readers run while one writer writes; ``busy_timeout`` makes a writer wait for the
lock instead of failing; every write transaction starts with ``BEGIN IMMEDIATE`` so it takes
the write lock up front (a deferred transaction that later upgrades can fail at once with
"database is locked", whatever the timeout). What little can still fail with a busy or locked
error is retried here, so a user never sees it.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

BUSY_TIMEOUT_MS = 10_000
RETRY_FOR_S = 120.0  # give up (and let the error through) only after this long


class StoreError(Exception):
    """A request the library cannot do: unknown id, wrong state. The message says why."""


def is_busy(exc: BaseException) -> bool:
    """True for the transient "database is locked" / "database is busy" errors."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def retry_busy[T](fn: Callable[[], T], *, retry_for: float = RETRY_FOR_S) -> T:
    """Call ``fn`` until it stops failing with a busy error (jittered backoff)."""
    deadline = time.monotonic() + retry_for
    delay = 0.005
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 0.25)


def connect(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the library database in WAL mode with a busy timeout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(path),
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,  # autocommit; transactions are explicit (BEGIN IMMEDIATE)
        check_same_thread=False,  # the Database below serialises use with a lock
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    # Switching to WAL needs a moment of exclusive access; it is persistent once done.
    mode = retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
    if str(mode).lower() != "wal":
        conn.close()
        raise StoreError(f"{path}: could not switch the library to WAL mode (got {mode!r})")
    conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe with WAL
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn, execute_plugins=False)


class Database:
    """A sqlite-utils database with a lock (one connection may serve several threads),
    retried reads, and an immediate write transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = connect(path)
        self._lock = threading.RLock()

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error.

        Nested use joins the outer transaction (the outer one commits).
        """
        with self._lock:
            conn = self.db.conn
            if conn.in_transaction:
                yield conn
                return
            retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"))
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            retry_busy(lambda: conn.execute("COMMIT"))

    def rows(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        """All rows of a read (or ``... RETURNING``) statement, retried while busy."""
        with self._lock:
            return retry_busy(lambda: self.db.conn.execute(sql, params).fetchall())

    def row(self, sql: str, params: Any = ()) -> sqlite3.Row | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Any = ()) -> Any:
        found = self.row(sql, params)
        return None if found is None else found[0]

    def execute(self, sql: str, params: Any = ()) -> int:
        """One write statement in its own transaction (or the open one); returns rowcount."""
        with self._lock:
            if self.db.conn.in_transaction:
                return self.db.conn.execute(sql, params).rowcount
            with self.write() as conn:
                return conn.execute(sql, params).rowcount
