"""What every part of the Library shares: the database, the folder, the clock, and the two
logs (events, undo steps) that each part writes inside its own transactions."""

from __future__ import annotations

import json
import math
import os
import secrets
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doorways_tui.store.db import Database, StoreError
from doorways_tui.store.files import library_path, library_path_or_none, remove_quietly


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


_origin: tuple[int, str] | None = None


def process_origin() -> str:
    """This process's name in the undo log (host, pid and a random tag, so a pid reused
    later is another origin): ``u`` in the app undoes steps of its own origin, and asks
    before undoing one made elsewhere (in another window of the app, or before it
    restarted)."""
    global _origin
    if _origin is None or _origin[0] != os.getpid():  # a forked child is another process
        _origin = (os.getpid(), f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")
    return _origin[1]


@dataclass(frozen=True)
class StoreContext:
    """The shared state each part of the Library is handed (never inherited)."""

    root: Path
    db: Database
    clock: Callable[[], float]
    origin: str  # who this Library writes undo steps as (``process_origin`` by default)

    def abspath(self, relpath: str) -> Path:
        """The file on disk for a path the library stores (relative to its folder); one
        that would lead outside the library is a ``StoreError`` (see ``library_path``)."""
        return library_path(self.root, relpath)

    def remove_file(self, relpath: str) -> None:
        """Delete a file the library stored, if there; a stored path that leads outside
        the library is never followed (the file it names is left alone)."""
        if (path := library_path_or_none(self.root, relpath)) is not None:
            remove_quietly(path)

    # -- the logs: written inside the caller's transaction --------------------------------

    def event(self, conn: sqlite3.Connection, kind: str, /, **data: Any) -> None:
        """Append to the event log. Raw SQL: every worker transaction writes one."""
        conn.execute(
            "INSERT INTO events(ts, kind, data) VALUES (?, ?, ?)",
            (self.clock(), kind, strict_json(data, f"event {kind}")),
        )

    def push_undo(self, kind: str, data: dict[str, Any]) -> None:
        """One undo step (``kind``: triage | spawn), tagged with this Library's origin;
        inside the caller's ``BEGIN IMMEDIATE`` (sqlite-utils nests a savepoint in it)."""
        assert self.db.conn.in_transaction, "an undo step is written inside a transaction"
        self.db.db["undo_log"].insert(
            {
                "ts": self.clock(),
                "kind": kind,
                "data": strict_json(data, f"undo step {kind}"),
                "origin": self.origin,
            }
        )
