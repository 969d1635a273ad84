"""Export images to a folder: the PNGs byte for byte (their parameters chunks intact), a
sidecar of prompt, seed, tags and parameters (JSON and CSV), a contact sheet, and XMP that
photo tools read (``export.xmp``): by default a sidecar ``NAME.png.xmp`` beside each image
(darktable's and digiKam's naming), or embedded in the PNG (which then differs from the
library's bytes by that one chunk; the JSON sidecar keeps the library's checksum).

Only what the library vouches for is copied: a source that does not decode, or whose bytes
no longer match the sha256 its row stored, is reported and skipped. Exports are
incremental: an image's name comes from its prompt, seed and id, so a re-run (after an
interruption, or with more images) finds the copies already there with the same bytes and
skips them; the sidecars and the contact sheet then list everything exported to the
folder. A user's own file is never overwritten: an image whose name is taken by other bytes
gets " (2)", " (3)"..., and a sidecar name held by something that is not a Doorways
sidecar is left alone the same way. Every file appears whole or not at all (a temporary
file, then a rename). No Textual, no torch.

XMP is rewritten when the marks change, but only where it is still what Doorways wrote
(its checksum is in the JSON sidecar): XMP another tool changed is kept, and when its marks
differ from the library's the export says so (``doorways import-xmp`` brings them in).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from doorways_tui.core.png import png_metadata
from doorways_tui.core.triage import STARRED_VIEW, export_tags
from doorways_tui.export.files import (
    ExportError,
    check_folder,
    create_exclusive,
    export_folder,
    place,
    prepare_folder,
    reason,
    replace_file,
    sweep_temps,
)
from doorways_tui.export.naming import safe_filename
from doorways_tui.export.sheet import contact_sheet
from doorways_tui.export.xmp import (
    XMP_MODES,
    XmpError,
    XmpMarks,
    embed_xmp,
    embedded_xmp,
    find_packet,
    read_xmp,
    sidecar_path,
    strip_xmp,
    xmp_packet,
)
from doorways_tui.store import Image, ImageFilter, Library, StoreError

SIDECAR = "doorways-export"
SHEET = "contact-sheet.png"
MISSING = "its file is missing"
__all__ = ["ExportError", "check_folder", "create_exclusive", "export_folder", "export_images"]
CSV_FIELDS = (
    "file", "image_id", "theme", "prompt", "style", "seed", "door_count", "starred",
    "rejected", "rating", "note", "tags", "width", "height", "steps", "sha256",
)  # fmt: skip


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    files: tuple[Path, ...]  # this export's images in the folder (copied or already there)
    sidecar_json: Path | None
    sidecar_csv: Path | None
    sheet: Path | None
    missing: tuple[int, ...] = ()  # image ids whose file was gone
    bad: tuple[tuple[int, str], ...] = ()  # (image id, why) of every image not exported
    copied: int = 0  # images written this time (the rest of ``files`` were there already)
    xmp_kept: tuple[Path, ...] = ()  # XMP changed by another tool, kept, marks not the library's

    @property
    def already(self) -> int:
        return len(self.files) - self.copied

    @property
    def damaged(self) -> int:
        return len(self.bad) - len(self.missing)

    def summary(self) -> str:
        text = f"exported {len(self.files)} image(s) to {self.folder}"
        if self.already:
            text += f" ({self.copied} new, {self.already} already there)"
        if self.damaged:
            text += f"; {self.damaged} damaged image(s) skipped"
        if self.missing:
            text += f"; {len(self.missing)} missing file(s) skipped"
        if self.xmp_kept:
            text += (
                f"; {len(self.xmp_kept)} XMP file(s) hold marks made in another tool and were"
                " kept (`doorways import-xmp` brings them in)"
            )
        return text


def all_images(lib: Library, flt: ImageFilter, page: int = 1000) -> Iterator[Image]:
    """The images an export of ``flt`` takes (``export --starred`` and the app's export).

    Rejected wins: an export of the starred view leaves out an image that is also
    rejected (a pick the artist later turned down is not a pick). The browse view is not
    narrowed: it still shows such an image, so it can be un-rejected."""
    picks = flt.view == STARRED_VIEW
    after: int | None = None
    while True:
        batch = lib.images.images(flt, after_id=after, limit=page)
        yield from (image for image in batch if not (picks and image.rejected))
        if len(batch) < page:
            return
        after = batch[-1].id


def image_problem(data: bytes, sha256: str | None) -> str | None:
    """Why ``data`` is not a sound copy of the library's image, or None: bytes that differ
    from the sha256 the worker stored, or a file that does not decode."""
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        return "its checksum differs from the library's: the file changed or is damaged"
    try:
        with PILImage.open(io.BytesIO(data)) as im:
            im.verify()  # the PNG's chunk checksums
        with PILImage.open(io.BytesIO(data)) as im:
            im.load()  # every pixel decodes (a truncated file fails here)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for a bad file
        return f"it does not decode: {exc or type(exc).__name__}"
    return None


def image_name(record: dict[str, Any]) -> str:
    prompt = safe_filename(record["prompt"], max_len=60)
    return f"{prompt} - s{record['seed']} - {record['image_id']:06d}.png"


def source_path(lib: Library, image: Image) -> Path:
    """The library's file for ``image`` (the one place export resolves a stored path)."""
    return lib.abspath(image.path)


def read_sound(lib: Library, image: Image) -> tuple[bytes | None, str | None]:
    """``(bytes, None)`` for an image whose file is a sound copy, else ``(None, why)``."""
    try:
        data = source_path(lib, image).read_bytes()
    except StoreError as exc:  # a row whose path leads outside the library: never followed
        return None, str(exc)
    except FileNotFoundError:
        return None, MISSING
    except OSError as exc:
        return None, f"its file cannot be read: {reason(exc)}"
    problem = image_problem(data, image.sha256)
    return (None, problem) if problem is not None else (data, None)


def record_for(lib: Library, image: Image, cache: dict[int, Any]) -> dict[str, Any]:
    job = lib.queue.job(image.job_id)
    variant = cache.get(image.variant_id) or lib.tree.variant(image.variant_id)
    cache[image.variant_id] = variant
    theme_key = -variant.theme_id
    theme = cache.get(theme_key) or lib.tree.theme(variant.theme_id)
    cache[theme_key] = theme
    config = job.config_dict()
    meta = png_metadata(source_path(lib, image))
    suggestion = lib.curation.suggestion(image.id)  # CLIP's, beside the artist's tags
    return {
        "image_id": image.id,
        "job_id": image.job_id,
        "variant_id": image.variant_id,
        "theme": theme.name,
        "prompt": variant.prompt,
        "style": variant.style,
        "seed": job.seed,
        "door_count": image.door_count,
        "starred": image.starred,
        "rejected": image.rejected,
        "rating": image.rating,
        "note": image.note,
        "tags": export_tags(image),
        "width": image.width,
        "height": image.height,
        "steps": image.step,
        "sha256": image.sha256,
        "losses": meta.get("losses", {}),
        "parameters": meta.get("config") or config,
        **({"suggestion": suggestion.as_dict()} if suggestion is not None else {}),
    }


def export_images(
    lib: Library,
    images: list[Image] | Iterator[Image],
    folder: Path,
    *,
    sheet: bool = True,
    xmp: str = "sidecar",
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Copy ``images`` into ``folder`` (created if needed) with sidecars and a contact
    sheet, skipping those already there; ``xmp`` is one of ``XMP_MODES``. ``progress`` is
    called with the count done after each image. A folder that cannot take the files (or a
    disk that fills) raises ``ExportError``; the images copied until then are whole and a
    re-run resumes."""
    if xmp not in XMP_MODES:
        raise ExportError(f"--xmp {xmp!r} is not one of {', '.join(XMP_MODES)}")
    folder = prepare_folder(Path(folder).expanduser())
    sweep_temps(folder)
    previous = _previous_records(folder)
    earlier = {r["image_id"]: r for r in previous or []}
    cache: dict[int, Any] = {}
    records: list[dict[str, Any]] = []
    files: list[Path] = []
    missing: list[int] = []
    bad: list[tuple[int, str]] = []
    kept: list[Path] = []
    copied = 0
    for n, image in enumerate(images, 1):
        data, problem = read_sound(lib, image)
        if data is None:
            if problem == MISSING:
                missing.append(image.id)
            bad.append((image.id, problem or "unreadable"))
            continue
        record = record_for(lib, image, cache)
        packet = None if xmp == "none" else xmp_packet(record)
        out = embed_xmp(data, packet) if packet and xmp in ("embed", "both") else data
        prev = earlier.get(image.id)
        path, fresh, mine = _write(
            folder, len(files), _place_image, folder, record, prev, data, out
        )
        if packet is not None:
            record["xmp_sha256"] = hashlib.sha256(packet).hexdigest()
            if xmp in ("sidecar", "both"):
                mine = _write(folder, len(files), _place_sidecar, path, packet, prev) and mine
            if not mine and read_marks(path).changes(image):
                kept.append(path)
        copied += fresh
        record["file"] = path.name
        records.append(record)
        files.append(path)
        if progress is not None:
            progress(n)
    if not records:
        return ExportResult(folder, (), None, None, None, tuple(missing), tuple(bad))
    everything = _merged(folder, previous or [], records)
    sidecars = _write(
        folder, len(files), _sidecars, folder, everything, sheet, previous is not None
    )
    return ExportResult(
        folder, tuple(files), *sidecars, tuple(missing), tuple(bad), copied, tuple(kept)
    )


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _ours(packet: bytes | None, prev: dict[str, Any] | None) -> bool:
    """Whether XMP found in the folder may be replaced: there is none, or it is what the
    previous export wrote (its checksum is in that export's record)."""
    return packet is None or (prev is not None and _digest(packet) == prev.get("xmp_sha256"))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _place_image(
    folder: Path, record: dict[str, Any], prev: dict[str, Any] | None, data: bytes, out: bytes
) -> tuple[Path, bool, bool]:
    """Put the exported image ``out`` (``data``, perhaps with XMP inside) in the folder:
    ``(path, written, its XMP is ours)``. An earlier export of the same picture is kept
    when unchanged, updated when only the XMP Doorways wrote changed, and left alone when
    another tool changed its XMP; anything else at that name is the user's own."""
    if prev is not None:
        target = folder / prev["file"]
        current = _read(target)
        if current == out:
            return target, False, True
        if current is not None:
            try:
                same_picture = strip_xmp(current) == data
                inside = embedded_xmp(current) if same_picture else None
            except XmpError:
                same_picture = False
            if same_picture:
                if not _ours(inside, prev):
                    return target, False, False
                return replace_file(target, out), True, True
    path, fresh = place(folder, image_name(record), out)
    return path, fresh, True


def _place_sidecar(image: Path, packet: bytes, prev: dict[str, Any] | None) -> bool:
    """Write the image's XMP sidecar unless another tool changed it (False then)."""
    side = sidecar_path(image)
    current = _read(side)
    if current == packet:
        return True
    if not _ours(current, prev if prev is not None and prev["file"] == image.name else None):
        return False
    replace_file(side, packet)
    return True


def read_marks(image: Path) -> XmpMarks:
    """The marks an exported image's XMP says (none when it has no readable XMP)."""
    try:
        packet, _ = find_packet(image)
        return read_xmp(packet) if packet is not None else XmpMarks()
    except (XmpError, OSError):
        return XmpMarks()


def _sidecars(
    folder: Path, records: list[dict[str, Any]], sheet: bool, ours: bool
) -> tuple[Path, Path, Path | None]:
    """Write the JSON and CSV sidecars and the contact sheet of ``records``: replacing the
    folder's earlier ones when they are ``ours``, else under free names."""

    def write(name: str, data: bytes) -> Path:
        return replace_file(folder / name, data) if ours else create_exclusive(folder, name, data)

    as_json = json.dumps(records, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
    json_path = write(f"{SIDECAR}.json", as_json)
    csv_path = write(f"{SIDECAR}.csv", _csv(records))
    if not sheet:
        return json_path, csv_path, None
    png = contact_sheet([(folder / r["file"], r) for r in records])
    return json_path, csv_path, write(SHEET, png)


def _write[T](folder: Path, exported: int, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``; a failing disk becomes an ``ExportError`` saying how far it got."""
    try:
        return fn(*args)
    except OSError as exc:
        raise ExportError(
            f"cannot write to {folder}: {reason(exc)} ({exported} image(s) exported;"
            " run the export again to finish it)"
        ) from None


def _previous_records(folder: Path) -> list[dict[str, Any]] | None:
    """The records of the folder's Doorways sidecar: [] when there is none, None when the
    name holds something else (then it is left alone). Records naming a file outside the
    folder (a tampered sidecar) are dropped."""
    path = folder / f"{SIDECAR}.json"
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        return None
    return [r for r in data if _plain_record(r)]


def _plain_record(record: dict[str, Any]) -> bool:
    name, image_id = record.get("file"), record.get("image_id")
    if not isinstance(name, str) or type(image_id) is not int:
        return False
    return bool(name) and name == Path(name).name and not name.startswith(".")


def _merged(
    folder: Path, previous: list[dict[str, Any]], records: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """This export's records and the earlier ones whose files are still in the folder,
    by image id (this export's record wins)."""
    by_id = {r["image_id"]: r for r in previous if (folder / r["file"]).is_file()}
    by_id.update((r["image_id"], r) for r in records)
    return [by_id[k] for k in sorted(by_id)]


def _csv(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({**record, "tags": " ".join(record["tags"])})
    return out.getvalue().encode("utf-8")


def default_folder(base: Path | None = None) -> Path:
    """``~/Pictures/doorways-export-YYYYmmdd-HHMM`` (the home folder if there is no
    Pictures; never the current directory, which may be a checkout of this repository).
    An existing folder is fine: nothing in it is overwritten."""
    import time

    if base is None:
        pictures = Path.home() / "Pictures"
        base = pictures if pictures.is_dir() else Path.home()
    return base / time.strftime("doorways-export-%Y%m%d-%H%M")
