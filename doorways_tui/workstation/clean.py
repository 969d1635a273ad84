"""Cleaning up rejected images: their files go to the library's trash and their rows
leave the library, and the last clean can be put back until the trash is emptied.

Each clean is one folder ``<library>/trash/YYYYmmdd-HHMMSS/`` holding ``manifest.json``
(the rows as they were) and the files under their stored paths. The manifest is written
before anything moves and the rows are deleted last, so a clean cut short is restored
like a whole one. An image un-rejected while the clean ran keeps its row and its file.
No Textual, no torch.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doorways_tui.store import Library, StoreError
from doorways_tui.store.files import library_path

TRASH_DIR = "trash"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class CleanPlan:
    """What ``clean_rejected`` would remove: the rejected images' rows and bytes."""

    rows: list[dict[str, Any]]
    size: int


@dataclass(frozen=True)
class Cleaned:
    removed: int
    batch: Path


@dataclass(frozen=True)
class Restored:
    restored: int
    left: int  # rows or files that could not come back (left in the trash)
    batch: Path


def trash_folder(lib: Library) -> Path:
    return lib.root / TRASH_DIR


def plan_clean(lib: Library) -> CleanPlan:
    rows = lib.images.rejected_rows()
    size = 0
    for row in rows:
        with contextlib.suppress(OSError, StoreError):
            size += lib.abspath(row["path"]).stat().st_size
    return CleanPlan(rows, size)


def _move(src: Path, dst: Path) -> bool:
    """Move a file (across disks too: images/ may be a symlink elsewhere); False when
    there is nothing to move or the place is taken."""
    if not src.is_file() or dst.exists():
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dst)
    except OSError:
        shutil.move(src, dst)
    return True


def _new_batch(lib: Library) -> Path:
    base = trash_folder(lib) / time.strftime("%Y%m%d-%H%M%S", time.localtime(lib.clock()))
    batch, n = base, 1
    while batch.exists():
        n += 1
        batch = base.with_name(f"{base.name}-{n}")
    batch.mkdir(parents=True)
    return batch


def _write_manifest(batch: Path, rows: list[dict[str, Any]]) -> None:
    tmp = batch / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps({"rows": rows}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, batch / MANIFEST)


def clean_rejected(lib: Library, plan: CleanPlan) -> Cleaned:
    """Move the planned images' files to a new trash batch and delete their rows."""
    batch = _new_batch(lib)
    _write_manifest(batch, plan.rows)
    moved: dict[int, tuple[Path, Path]] = {}
    for row in plan.rows:
        try:
            src = lib.abspath(row["path"])
        except StoreError:  # a row whose path leads outside: its file is never touched
            continue
        dst = batch / row["path"]
        if _move(src, dst):
            moved[row["id"]] = (src, dst)
    gone = set(lib.images.delete_rejected([row["id"] for row in plan.rows]))
    kept = [row for row in plan.rows if row["id"] not in gone]
    for row in kept:  # un-rejected while this ran: its file goes back
        if row["id"] in moved:
            _move(moved[row["id"]][1], moved[row["id"]][0])
    if kept:
        _write_manifest(batch, [row for row in plan.rows if row["id"] in gone])
    return Cleaned(len(gone), batch)


def batches(lib: Library) -> list[Path]:
    """The trash's clean folders, oldest first."""
    trash = trash_folder(lib)
    if not trash.is_dir():
        return []
    return sorted(p for p in trash.iterdir() if (p / MANIFEST).is_file())


def restore_last(lib: Library) -> Restored | None:
    """Put the newest clean back: files to their places, rows into the library; None
    when the trash is empty. The batch is removed when all of it came back."""
    found = batches(lib)
    if not found:
        return None
    batch = found[-1]
    try:
        rows = json.loads((batch / MANIFEST).read_text(encoding="utf-8"))["rows"]
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        raise StoreError(f"{batch / MANIFEST} is damaged: nothing restored") from None
    placed, left = [], 0
    for row in rows:
        try:
            dst = library_path(lib.root, row.get("path"))
            src = library_path(batch, row.get("path"))
        except StoreError:
            left += 1
            continue
        if src.is_file() and not _move(src, dst):
            left += 1  # its place is taken by another file: it stays in the trash
            continue
        placed.append(row)
    restored = lib.images.restore_rows(placed)
    left += len(placed) - len(restored)
    if left == 0:
        shutil.rmtree(batch, ignore_errors=True)
    return Restored(len(restored), left, batch)


def empty_trash(lib: Library) -> tuple[int, int]:
    """Delete every clean in the trash for good: (images, bytes) freed."""
    images = size = 0
    for batch in batches(lib):
        for path in batch.rglob("*"):
            if path.is_file() and path.name != MANIFEST:
                images += 1
                size += path.stat().st_size
        shutil.rmtree(batch)
    return images, size
