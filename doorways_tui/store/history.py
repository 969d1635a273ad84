"""The history part: the event log (what happened, for pollers) and undo.

Each undo step carries the origin of the Library that wrote it (``context.process_origin``:
one per process). ``undo`` reads the newest open step and reverts it in one transaction, and
returns the entry it undid, so what the caller says is what happened even while other
processes write. A step from another origin is reverted only when the caller names it
(``confirmed``), so ``u`` in the app never silently cancels what another window queued.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from typing import Any

from doorways_tui.store.context import StoreContext
from doorways_tui.store.db import StoreError
from doorways_tui.store.records import Event, UndoEntry, UndoResult

Undoer = Callable[[sqlite3.Connection, dict[str, Any]], UndoResult]


class History:
    """Events and undo. ``lib.history``; each undo kind is reverted by the part that wrote
    it (``undoers``: triage by the images part; spawn, and jobs (a cancel or a retry from
    the app), by the queue)."""

    def __init__(self, ctx: StoreContext, undoers: dict[str, Undoer]) -> None:
        self._ctx = ctx
        self._db = ctx.db
        self._undoers = undoers

    # -- events ---------------------------------------------------------------------------

    def log_event(self, kind: str, /, **data: Any) -> None:
        """Append to the event log (the app may log its own actions too)."""
        with self._db.write() as conn:
            self._ctx.event(conn, kind, **data)

    def events(
        self, *, after_id: int = 0, kind: str | None = None, limit: int = 500
    ) -> list[Event]:
        """Events in order; poll with the last id seen as ``after_id`` to get new ones."""
        sql, params = "SELECT * FROM events WHERE id > ?", [after_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        rows = self._db.rows(sql + " ORDER BY id LIMIT ?", (*params, limit))
        return [Event.from_row(r) for r in rows]

    def last_event_id(self) -> int:
        """The newest event's id (0 for none): where a new poller starts."""
        return int(self._db.scalar("SELECT COALESCE(MAX(id), 0) FROM events"))

    # -- undo -----------------------------------------------------------------------------

    def undo(self, *, confirmed: int | None = None) -> UndoResult | None:
        """Revert the newest step not yet undone (a triage write; a spawn/queue/reroll:
        its still-queued jobs are cancelled, and a variant it made is removed if nothing
        else uses it; a cancel or retry: the jobs go back as they were), in one
        transaction; returns what was undone, with its entry, or None when there is
        nothing to undo.

        A step made by another origin is undone only if its entry id is ``confirmed``;
        otherwise the result has ``undone`` False and names the entry, and nothing
        changes."""
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT * FROM undo_log WHERE undone = 0 ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            entry = UndoEntry.from_row(row)
            if entry.origin != self._ctx.origin and entry.id != confirmed:
                return UndoResult(entry.kind, "made elsewhere", entry=entry, undone=False)
            undoer = self._undoers.get(entry.kind)
            if undoer is None:
                raise StoreError(f"undo step {entry.id} is a {entry.kind!r} step: cannot undo it")
            result = undoer(conn, entry.payload())
            conn.execute("UPDATE undo_log SET undone = 1 WHERE id = ?", (entry.id,))
            # the image it changed, if any: pollers refresh that image
            about = {} if result.image_id is None else {"image_id": result.image_id}
            self._ctx.event(conn, "undo", kind=entry.kind, summary=result.summary, **about)
        return dataclasses.replace(result, entry=entry)
