"""What every part of the Library shares: the database, the folder, the clock, the logs."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from doorways_tui.store.db import Database


class LibraryBase:
    """Holds the connection and the library folder; the mixins add the tables' operations."""

    def __init__(self, root: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.clock = clock
        from doorways_tui.store.files import db_path

        self.db = Database(db_path(self.root))

    def abspath(self, relpath: str) -> Path:
        """The file on disk for a path the library stores (relative to its folder)."""
        return self.root / relpath

    # -- event log and undo: written inside the caller's transaction ----------------------

    def _event(self, conn: sqlite3.Connection, kind: str, /, **data: Any) -> None:
        conn.execute(
            "INSERT INTO events(ts, kind, data) VALUES (?, ?, ?)",
            (self.clock(), kind, json.dumps(data, sort_keys=True)),
        )

    def _push_undo(self, conn: sqlite3.Connection, kind: str, data: dict[str, Any]) -> None:
        conn.execute(
            "INSERT INTO undo_log(ts, kind, data) VALUES (?, ?, ?)",
            (self.clock(), kind, json.dumps(data, sort_keys=True)),
        )
