"""Export images to a folder: the PNGs byte for byte (their parameters chunks intact), a
sidecar of prompt, seed, tags and parameters (JSON and CSV), and a contact sheet.

Nothing in the folder is ever overwritten: every file is created exclusively, and a name
that is taken gets " (2)", " (3)"... File names come from the prompt through
``safe_filename``, so any prompt makes a valid name. No Textual, no torch.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doorways_tui.browse import png_metadata
from doorways_tui.export_sheet import contact_sheet
from doorways_tui.naming import safe_filename
from doorways_tui.store import Image, ImageFilter, Library

SIDECAR = "doorways-export"
SHEET = "contact-sheet.png"
CSV_FIELDS = (
    "file", "image_id", "theme", "prompt", "style", "seed", "door_count", "starred",
    "rejected", "rating", "note", "tags", "width", "height", "steps", "sha256",
)  # fmt: skip


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    files: tuple[Path, ...]
    sidecar_json: Path | None
    sidecar_csv: Path | None
    sheet: Path | None
    missing: tuple[int, ...] = ()  # image ids whose file was gone

    def summary(self) -> str:
        text = f"exported {len(self.files)} image(s) to {self.folder}"
        if self.missing:
            text += f"; {len(self.missing)} missing file(s) skipped"
        return text


def all_images(lib: Library, flt: ImageFilter, page: int = 1000) -> Iterator[Image]:
    after: int | None = None
    while True:
        batch = lib.images(flt, after_id=after, limit=page)
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1].id


def tags(image: Image) -> list[str]:
    out = []
    if image.door_count is not None:
        out.append(f"doors:{image.door_count}")
    if image.starred:
        out.append("starred")
    if image.rejected:
        out.append("rejected")
    if image.rating is not None:
        out.append(f"rating:{image.rating}")
    return out


def create_exclusive(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/name``, or ``name (2)``... if taken; never replaces."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    n = 1
    while True:
        candidate = name if n == 1 else f"{stem} ({n}){dot}{suffix}"
        path = folder / candidate
        try:
            with open(path, "xb") as f:
                f.write(data)
            return path
        except FileExistsError:
            n += 1


def image_name(record: dict[str, Any]) -> str:
    prompt = safe_filename(record["prompt"], max_len=60)
    return f"{prompt} - s{record['seed']} - {record['image_id']:06d}.png"


def record_for(lib: Library, image: Image, cache: dict[int, Any]) -> dict[str, Any]:
    job = lib.job(image.job_id)
    variant = cache.get(image.variant_id) or lib.variant(image.variant_id)
    cache[image.variant_id] = variant
    theme_key = -variant.theme_id
    theme = cache.get(theme_key) or lib.theme(variant.theme_id)
    cache[theme_key] = theme
    config = job.config_dict()
    meta = png_metadata(lib.abspath(image.path))
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
        "tags": tags(image),
        "width": image.width,
        "height": image.height,
        "steps": image.step,
        "sha256": image.sha256,
        "losses": meta.get("losses", {}),
        "parameters": meta.get("config") or config,
    }


def export_images(
    lib: Library,
    images: list[Image] | Iterator[Image],
    folder: Path,
    *,
    sheet: bool = True,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Copy ``images`` into ``folder`` (created if needed) with sidecars and a contact
    sheet. ``progress`` is called with the count done after each image."""
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    cache: dict[int, Any] = {}
    records: list[dict[str, Any]] = []
    files: list[Path] = []
    missing: list[int] = []
    for n, image in enumerate(images, 1):
        source = lib.abspath(image.path)
        try:
            data = source.read_bytes()
        except FileNotFoundError:
            missing.append(image.id)
            continue
        record = record_for(lib, image, cache)
        path = create_exclusive(folder, image_name(record), data)
        record["file"] = path.name
        records.append(record)
        files.append(path)
        if progress is not None:
            progress(n)
    if not records:
        return ExportResult(folder, (), None, None, None, tuple(missing))
    as_json = json.dumps(records, indent=2, ensure_ascii=False).encode("utf-8")
    json_path = create_exclusive(folder, f"{SIDECAR}.json", as_json + b"\n")
    csv_path = create_exclusive(folder, f"{SIDECAR}.csv", _csv(records))
    sheet_path = None
    if sheet:
        png = contact_sheet([(f, r) for f, r in zip(files, records, strict=True)])
        sheet_path = create_exclusive(folder, SHEET, png)
    return ExportResult(folder, tuple(files), json_path, csv_path, sheet_path, tuple(missing))


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
