"""What every part of the Library shares: the database, the folder, the clock, the logs."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doorways_tui.store.db import Database, StoreError
from doorways_tui.store.files import db_path, library_path, library_path_or_none, remove_quietly


def strict_json(data: Any, what: str) -> str:
    """``data`` as JSON for a column. NaN and Infinity are refused: SQLite's JSON functions
    call such a row malformed, and one of them stops every query that scans it."""
    try:
        return json.dumps(data, sort_keys=True, allow_nan=False)
    except ValueError:
        items = data.items() if isinstance(data, dict) else ()
        bad = [str(k) for k, v in items if isinstance(v, float) and not math.isfinite(v)]
        where = f" ({', '.join(bad)})" if bad else ""
        raise StoreError(f"{what} holds a number that is not finite{where}") from None


class LibraryBase:
    """Holds the connection and the library folder; the mixins add the tables' operations."""

    def __init__(
        self, root: Path, *, clock: Callable[[], float] = time.time, readonly: bool = False
    ) -> None:
        self.root = Path(root)
        self.clock = clock
        self.readonly = readonly
        self.db = Database(db_path(self.root), readonly=readonly)

    def abspath(self, relpath: str) -> Path:
        """The file on disk for a path the library stores (relative to its folder); one
        that would lead outside the library is a ``StoreError`` (see ``library_path``)."""
        return library_path(self.root, relpath)

    def remove_file(self, relpath: str) -> None:
        """Delete a file the library stored, if there; a stored path that leads outside
        the library is never followed (the file it names is left alone)."""
        if (path := library_path_or_none(self.root, relpath)) is not None:
            remove_quietly(path)

    # -- event log and undo: written inside the caller's transaction ----------------------

    def _event(self, conn: sqlite3.Connection, kind: str, /, **data: Any) -> None:
        conn.execute(
            "INSERT INTO events(ts, kind, data) VALUES (?, ?, ?)",
            (self.clock(), kind, strict_json(data, f"event {kind}")),
        )

    def _push_undo(self, conn: sqlite3.Connection, kind: str, data: dict[str, Any]) -> None:
        conn.execute(
            "INSERT INTO undo_log(ts, kind, data) VALUES (?, ?, ?)",
            (self.clock(), kind, strict_json(data, f"undo step {kind}")),
        )
