"""What every subcommand shares: opening the library, refusing a large queue, the error
boundary's one line, and short text for ages.

Subcommand modules import from here, never from each other.
"""

from __future__ import annotations

import argparse
import sqlite3
import time

from doorways_engine.errors import DoorwaysError
from doorways_tui.core.text import duration, printable
from doorways_tui.store import Library, NoLibrary, StoreError
from doorways_tui.store.queue import LARGE_QUEUE


def open_library(
    args: argparse.Namespace, *, create: bool = False, readonly: bool = False
) -> Library:
    """The library named by ``--library``, else $DOORWAYS_LIBRARY / config / default.

    Only commands that add work (``queue add``, ``worker``, ``theme queue``) create a
    missing library; the others refuse it, so a typo'd path is an error, not a new empty
    library. Commands that only look pass ``readonly``: they never create, migrate or write
    (a backup on read-only media can be listed)."""
    from doorways_tui.core.settings import load_settings

    root = load_settings(library=getattr(args, "library", None)).library
    try:
        return Library.open(root, create=create, readonly=readonly)
    except NoLibrary as exc:
        raise StoreError(f"{exc}; `doorways queue add` or the app creates one") from None


def confirm_large(n: int, *, yes: bool) -> None:
    """Refuse to queue more than ``LARGE_QUEUE`` jobs at once unless told ``--yes``."""
    if n > LARGE_QUEUE and not yes:
        raise DoorwaysError(
            f"this would queue {n} jobs (more than {LARGE_QUEUE} at once); nothing queued:"
            " add --yes to queue them"
        )


# What a subcommand may raise that is the user's situation, not a bug: `main` prints it as
# one line and exits 2. BrokenPipeError is an OSError but is caught before these.
USER_ERRORS = (DoorwaysError, StoreError, sqlite3.DatabaseError, OSError)


def error_line(exc: BaseException) -> str:
    """The one line ``main`` prints for an error in ``USER_ERRORS``. Messages quote
    prompts, names and paths from the library and files, so they go through ``printable``."""
    if isinstance(exc, sqlite3.DatabaseError):
        text = f"the library database failed: {exc}"
    elif isinstance(exc, OSError) and exc.strerror:  # not "[Errno 13] ...: '/path'"
        text = exc.strerror if exc.filename is None else f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
    return f"doorways: error: {printable(text, newlines=True)}"


def age(ts: float | None, now: float | None = None) -> str:
    """``12s ago``-style text for a timestamp."""
    if ts is None:
        return "-"
    now = time.time() if now is None else now
    return duration(max(0.0, now - ts)) + " ago"
