"""One SQLite connection per process, set up so that several processes can share the file.

WAL lets readers run while one writer writes; ``busy_timeout`` makes a writer wait for the
lock instead of failing; every write transaction starts with ``BEGIN IMMEDIATE`` so it takes
the write lock up front (a deferred transaction that later upgrades can fail at once with
"database is locked", whatever the timeout). What little can still fail with a busy or locked
error is retried here, so a user never sees it.

A file that is not an SQLite database (an empty ``library.db``) is refused before SQLite
sees it, a new database appears only whole, and a read-only open (``mode=ro``) can neither
create nor write: see ``check_database_file``, ``create_database``, ``_connect_readonly``.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import sqlite_utils

BUSY_TIMEOUT_MS = 10_000
RETRY_FOR_S = 120.0  # give up (and let the error through) only after this long


class StoreError(Exception):
    """A request the library cannot do: unknown id, wrong state. The message says why."""


class NoLibrary(StoreError):
    """Nothing at the path asked for: callers that can create one say how."""


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


SQLITE_MIN_SIZE = 100  # the header alone; any SQLite database file is at least this long


def check_database_file(path: Path) -> None:
    """Refuse a ``library.db`` that cannot be a database, before SQLite sees it.

    SQLite treats an empty file as a new database and would write a fresh schema into it:
    a 0-byte copy (a failed copy, a full disk) would become an empty library whose job ids
    restart at 1 and overwrite the old images. Only ``stat`` is used: opening and closing
    the file here would drop every POSIX lock this process's SQLite connections hold on it
    (the app opens the library twice). A file with a foreign header is caught by SQLite
    itself (``not_a_database``). Nothing here writes; a missing file passes."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):  # no database (yet)
        return
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path} is not a file, so not a library database")
    if st.st_size == 0:
        raise_not_a_database(path, "is empty (0 bytes)")
    if st.st_size < SQLITE_MIN_SIZE:
        raise_not_a_database(path, "is cut short (no complete SQLite header)")


def raise_not_a_database(path: Path, what: str = "is not an SQLite database") -> NoReturn:
    raise StoreError(
        f"{path} {what}: a failed copy or a full disk? Nothing was changed; restore it"
        " from a backup (a new library needs a folder without library.db or images/)"
    )


def is_not_a_database(exc: BaseException) -> bool:
    """SQLite's "file is not a database" (a foreign header)."""
    return getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB"


def _open_uri(path: Path, query: str) -> sqlite3.Connection:
    return sqlite3.connect(
        f"{path.absolute().as_uri()}?{query}",
        uri=True,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,  # autocommit; transactions are explicit (BEGIN IMMEDIATE)
        check_same_thread=False,  # the Database below serialises use with a lock
    )


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """``mode=ro``: SQLite can neither write nor create the file. A WAL database read this
    way needs its -shm file, which SQLite makes beside it; where it cannot (read-only media,
    a folder we may not write) the file cannot change under us either, so it is read as
    ``immutable`` (no locks, no -shm)."""
    conn = _open_uri(path, "mode=ro")
    try:
        retry_busy(lambda: conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone())
        return conn
    except sqlite3.DatabaseError as exc:
        conn.close()
        if is_not_a_database(exc):
            raise_not_a_database(path)
        if not isinstance(exc, sqlite3.OperationalError) or (
            os.access(path.parent, os.W_OK) and os.access(path, os.W_OK)
        ):
            raise
    conn = _open_uri(path, "mode=ro&immutable=1")
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
    return conn


def connect(path: Path, *, readonly: bool = False, create: bool = False) -> sqlite_utils.Database:
    """Open the library database with a busy timeout, or read-only.

    Only ``create`` makes a missing file; an empty or foreign file is always refused
    (``check_database_file``), untouched. A writable library goes to WAL mode with
    ``Database.use_wal`` once it is known to be one (the switch writes the file)."""
    check_database_file(path)
    if not create and not path.is_file():
        raise StoreError(f"no library database at {path}")
    if readonly:
        conn = _connect_readonly(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = _open_uri(path, "mode=rwc" if create else "mode=rw")
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn, execute_plugins=False)


def create_database(path: Path, setup: Callable[[Database], object]) -> None:
    """Make a new database at ``path`` whole or not at all: it is built (``setup``: the
    schema) under a temporary name and linked into place, so no process ever sees a
    0-byte ``library.db``. If another process got there first, its database is kept."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{random.getrandbits(32):08x}.new")
    try:
        db = Database(tmp, create=True)
        try:
            db.use_wal()
            setup(db)
        finally:
            db.close()  # the last connection: SQLite folds the WAL back in and removes it
        _publish(tmp, path)
    finally:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)


def _publish(tmp: Path, path: Path) -> None:
    """Put ``tmp`` at ``path`` unless something is there: a hard link where the filesystem
    has them, else an exclusive create and copy."""
    try:
        os.link(tmp, path)
        return
    except FileExistsError:
        return
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as out, tmp.open("rb") as src:
        shutil.copyfileobj(src, out)
        out.flush()
        os.fsync(out.fileno())


class Database:
    """A sqlite-utils database with a lock (one connection may serve several threads),
    retried reads, and an immediate write transaction."""

    def __init__(self, path: Path, *, readonly: bool = False, create: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self.db = connect(path, readonly=readonly, create=create)
        self._lock = threading.RLock()

    def use_wal(self) -> None:
        """WAL mode, so readers run beside the one writer. Switching needs a moment of
        exclusive access; it is persistent (in the file) once done."""
        mode = retry_busy(lambda: self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: could not switch the library to WAL mode ({mode!r})")
        self.conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe with WAL

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    @contextmanager
    def locked(self) -> Iterator[sqlite_utils.Database]:
        """The sqlite-utils database, for one look at the schema (``table_names``,
        ``columns_dict``) while no other thread uses the connection."""
        with self._lock:
            yield self.db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error.

        Nested use joins the outer transaction (the outer one commits). A library opened
        read-only refuses at once, before SQLite is asked.
        """
        if self.readonly:
            raise StoreError(f"{self.path} is open read-only; this needs a writable library")
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
