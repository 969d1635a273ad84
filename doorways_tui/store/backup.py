"""A backup of a library while the app and workers use it: ``doorways backup DEST``.

Copying ``library.db`` with ``cp`` misses what is still in its write-ahead log (the latest
stars and ratings) and can catch a page half-written; SQLite's online backup API copies a
consistent snapshot of everything committed, and waits for nobody. The backup is then made
a single self-contained file (rollback journal; the library opened there goes back to WAL).

The image files come after the database, so every file the backup's rows name is there:
each image a row names, and every init image (``inits/``). Checkpoints and logs are working
files and are not copied. Files already in the backup with the same size and checksum are
skipped, so a second backup copies only what is new. A folder is only ever a backup if
this made it (``doorways-backup.json``): another library is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from doorways_tui.core.text import human_size
from doorways_tui.store.db import StoreError, connect, retry_busy
from doorways_tui.store.files import DB_NAME, INIT_DIR, db_path, library_path

MARKER = "doorways-backup.json"
CHUNK = 1 << 20


@dataclass
class BackupResult:
    dest: Path
    images: int = 0  # image rows in the backup
    copied: int = 0  # files written this time
    already: int = 0  # files already there, same size and checksum
    bytes_copied: int = 0
    missing: list[str] = field(default_factory=list)  # stored paths whose file is gone
    damaged: list[str] = field(default_factory=list)  # files whose checksum is not the row's

    def summary(self) -> str:
        text = (
            f"backed up library.db ({self.images} images) and {self.copied + self.already}"
            f" file(s) to {self.dest}: {self.copied} copied ({human_size(self.bytes_copied)}),"
            f" {self.already} already there"
        )
        if self.missing:
            text += f"; {len(self.missing)} missing in the library"
        if self.damaged:
            text += f"; {len(self.damaged)} copied with a checksum other than the library's"
        return text


def check_dest(root: Path, dest: Path) -> Path:
    """Refuse a destination that is the library, inside it, a file, or a folder holding a
    library this did not make (it would be overwritten)."""
    dest = dest.expanduser()
    if dest.exists() and not dest.is_dir():
        raise StoreError(f"{dest} is a file, not a folder")
    here, there = root.resolve(), dest.resolve()
    if there == here or there.is_relative_to(here):
        raise StoreError(f"{dest} is the library itself or inside it: back up to another place")
    if here.is_relative_to(there) and (dest / DB_NAME).exists():
        raise StoreError(f"{dest} holds the library: back up to another place")
    if (dest / DB_NAME).exists() and not (dest / MARKER).is_file():
        raise StoreError(
            f"{dest} holds a library that `doorways backup` did not make; nothing was"
            " changed: back up to an empty or new folder"
        )
    return dest


def backup_database(root: Path, dest: Path) -> None:
    """``library.db`` into ``dest`` with SQLite's online backup API (a consistent snapshot
    of everything committed, whatever others are writing), whole or not at all."""
    source = connect(db_path(root), readonly=True).conn
    tmp = dest / f".{DB_NAME}.{os.getpid()}.tmp"
    try:
        target = sqlite3.connect(tmp, isolation_level=None)
        try:
            retry_busy(lambda: source.backup(target))  # pages=-1: one read transaction
            target.execute("PRAGMA journal_mode = DELETE")  # one file, no -wal to forget
        finally:
            target.close()
        for stale in (f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal"):
            (dest / stale).unlink(missing_ok=True)  # a journal beside the old copy
        os.replace(tmp, dest / DB_NAME)
    finally:
        source.close()
        tmp.unlink(missing_ok=True)


def _stored_files(root: Path, dest: Path) -> Iterator[tuple[str, str | None]]:
    """(stored path, checksum the row holds) of every file the backup's rows name, then
    every init image."""
    conn = sqlite3.connect(f"{(dest / DB_NAME).absolute().as_uri()}?mode=ro", uri=True)
    try:
        yield from conn.execute("SELECT path, sha256 FROM images ORDER BY id").fetchall()
    finally:
        conn.close()
    inits = root / INIT_DIR
    if inits.is_dir():
        for path in sorted(inits.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                yield path.relative_to(root).as_posix(), None


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _copy(src: Path, dst: Path) -> None:
    """``src`` to ``dst`` whole or not at all (a temporary file, flushed, renamed)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        with src.open("rb") as fin, tmp.open("wb") as fout:
            while block := fin.read(CHUNK):
                fout.write(block)
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def backup_library(
    root: Path,
    dest: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> BackupResult:
    """Back up the library in ``root`` to ``dest`` (see the module). ``progress(done,
    total)`` is called after each file."""
    dest = check_dest(root, dest)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MARKER).write_text(
        json.dumps({"source": str(root.resolve()), "time": time.time()}, indent=2) + "\n",
        encoding="utf-8",
    )
    backup_database(root, dest)
    result = BackupResult(dest)
    files = list(_stored_files(root, dest))
    result.images = sum(1 for _, sha in files if sha is not None)
    for n, (relpath, stored_sha) in enumerate(files, 1):
        try:
            src, dst = library_path(root, relpath), dest / relpath
            size, src_sha = src.stat().st_size, _digest(src)
        except (FileNotFoundError, StoreError):  # gone, or a row never to be followed
            result.missing.append(relpath)
        else:
            if stored_sha is not None and src_sha != stored_sha:
                result.damaged.append(relpath)
            if dst.is_file() and dst.stat().st_size == size and _digest(dst) == src_sha:
                result.already += 1
            else:
                _copy(src, dst)
                result.copied += 1
                result.bytes_copied += size
        if progress is not None:
            progress(n, len(files))
    return result
