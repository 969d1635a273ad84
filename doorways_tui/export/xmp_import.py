"""Bringing ratings made in another tool back: the XMP of a folder of images (an export
rated in digiKam, darktable or Lightroom) read into the library's marks.

An image is matched by content, never by name: the sha256 of the PNG's bytes, of those
bytes without their XMP chunk (an export with XMP inside), or the library checksum the
packet itself carries (``doorways:SHA256``: a PNG another tool rewrote). Only the marks XMP
can say travel back (rating, rejected, starred; see ``export.xmp``), as one undo step.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doorways_tui.export.xmp import XmpError, embedded_xmp, read_xmp, sidecar_names, strip_xmp
from doorways_tui.store import Library


@dataclass(frozen=True)
class ImportResult:
    folder: Path
    updated: int  # images whose marks changed
    unchanged: int  # matched images whose marks were already so
    unmatched: tuple[Path, ...]  # XMP whose image is not in this library
    unreadable: tuple[tuple[Path, str], ...]  # (file, why) of XMP or PNGs that cannot be read
    without_xmp: int  # PNGs with no XMP at all

    def summary(self) -> str:
        text = (
            f"import-xmp from {self.folder}: {self.updated} updated, {self.unchanged} unchanged,"
            f" {len(self.unmatched)} unmatched (not in this library)"
        )
        if self.unreadable:
            text += f", {len(self.unreadable)} unreadable"
        if self.without_xmp:
            text += f"; {self.without_xmp} PNG(s) without XMP"
        return text


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class _Found:
    where: Path  # the sidecar, or the PNG holding the packet
    packet: bytes
    checksums: list[str]  # of the image's bytes, as found and without XMP


def _collect(folder: Path) -> tuple[list[_Found], list[tuple[Path, str]], int]:
    """Every XMP packet in ``folder`` (not its subfolders): each PNG's (its sidecar wins
    over the packet inside), then sidecars whose image is not there."""
    entries = sorted(p for p in folder.iterdir() if p.is_file())
    found: list[_Found] = []
    bad: list[tuple[Path, str]] = []
    used: set[Path] = set()
    without = 0
    for png in (p for p in entries if p.suffix.lower() == ".png"):
        sides = [s for s in sidecar_names(png) if s.is_file()]
        used.update(sides)
        try:
            data = png.read_bytes()
            packet = sides[0].read_bytes() if sides else embedded_xmp(data)
            sums = [_sha(data)]
            with contextlib.suppress(XmpError):  # a PNG Doorways cannot parse: a sidecar's
                sums.append(_sha(strip_xmp(data)))  # checksum may still match
        except (OSError, XmpError) as exc:
            bad.append((png, getattr(exc, "strerror", None) or str(exc)))
            continue
        if packet is None:
            without += 1
            continue
        found.append(_Found(sides[0] if sides else png, packet, sums))
    for side in (p for p in entries if p.suffix.lower() == ".xmp" and p not in used):
        try:
            found.append(_Found(side, side.read_bytes(), []))
        except OSError as exc:
            bad.append((side, exc.strerror or str(exc)))
    return found, bad, without


def import_folder(lib: Library, folder: Path) -> ImportResult:
    """Read the XMP of ``folder`` into the library's marks (one undo step)."""
    found, bad, without = _collect(folder)
    by_sha = lib.images.ids_by_checksum()
    changes: dict[int, dict[str, Any]] = {}
    matched: set[int] = set()
    unmatched: list[Path] = []
    for item in found:
        try:
            marks = read_xmp(item.packet)
        except XmpError as exc:
            bad.append((item.where, str(exc)))
            continue
        sums = item.checksums + ([marks.sha256] if marks.sha256 else [])
        ids = next((by_sha[s] for s in sums if s in by_sha), None)
        if ids is None:
            unmatched.append(item.where)
            continue
        for image_id in ids:
            matched.add(image_id)
            changes.setdefault(image_id, {}).update(marks.changes(lib.images.image(image_id)))
    updated = lib.images.set_marks(changes, what=f"import-xmp from {folder.name or folder}")
    return ImportResult(
        folder, updated, len(matched) - updated, tuple(unmatched), tuple(bad), without
    )
