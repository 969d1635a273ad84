"""The library: SQLite (WAL) plus image files on disk. Knows nothing of Textual or torch.

    from doorways_tui.store import Library, ImageFilter
    lib = Library.open(settings.library)
    lib.queue.reroll(image_id=12, n=2); lib.images.set_door_count(12, 3); lib.history.undo()

Callers use the parts the Library holds (``lib.tree``, ``lib.queue``, ``lib.claims``,
``lib.images``, ``lib.workers``, ``lib.history``; see library.py), never delegating methods
on ``Library`` itself, which only opens, closes, spans a ``transaction`` and finds a stored
file (``abspath``). Every SQL statement of Doorways lives in this package (a test checks).

sqlite-utils or raw SQL:
- sqlite-utils: plain inserts of rows nothing races for (themes, variants, undo steps, the
  ``meta`` upsert) and looking at the schema (``table_names`` when a library is opened,
  ``columns_dict`` in the tests). For people who open a library with the ``sqlite-utils`` CLI or
  Datasette, migration 7 adds the views ``images_with_tags`` and ``jobs_with_prompts``.
- raw SQL: everything concurrency rests on: claims, leases and ownership checks
  (``UPDATE ... WHERE lease = ? RETURNING``), requeues, the event log written in each of
  those transactions, the worker upsert (sqlite-utils' ``upsert`` probes the file by
  creating a table), queueing jobs (``INSERT ... RETURNING`` the ids, many at once), the
  migrations and their ledger, and the browse queries whose plans are tested.
  Every write runs in ``Database.write`` (``BEGIN IMMEDIATE``); sqlite-utils nests a
  savepoint inside it, never its own deferred ``BEGIN``.
"""

from doorways_tui.store.db import NoLibrary, StoreError
from doorways_tui.store.images import VIEWS, ImageFilter, Position
from doorways_tui.store.library import Library
from doorways_tui.store.records import (
    EDIT_KINDS,
    JOB_STATES,
    Event,
    Image,
    Job,
    QueueCounts,
    QueueItem,
    Theme,
    UndoEntry,
    UndoResult,
    Variant,
    VariantNode,
    WorkerInfo,
)

__all__ = [
    "EDIT_KINDS",
    "JOB_STATES",
    "VIEWS",
    "Event",
    "Image",
    "ImageFilter",
    "Job",
    "Library",
    "Position",
    "QueueCounts",
    "QueueItem",
    "NoLibrary",
    "StoreError",
    "Theme",
    "UndoEntry",
    "UndoResult",
    "Variant",
    "VariantNode",
    "WorkerInfo",
]
