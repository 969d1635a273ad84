"""The library: SQLite (WAL) plus image files on disk. Knows nothing of Textual or torch.

from doorways_tui.store import Library, ImageFilter
lib = Library.open(settings.library)
"""

from doorways_tui.store.db import StoreError
from doorways_tui.store.images import VIEWS, ImageFilter
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
    "QueueCounts",
    "QueueItem",
    "StoreError",
    "Theme",
    "UndoResult",
    "Variant",
    "VariantNode",
    "WorkerInfo",
]
