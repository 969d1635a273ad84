"""The contact sheet: every exported image as a thumbnail with a caption, on one PNG."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

from doorways_engine.text import hidden_chars
from doorways_tui.core.triage import sheet_marks

THUMB_W = 256
THUMB_H = 160
COLUMNS = 4
PAD = 12
CAPTION_H = 34
BACKGROUND = (24, 24, 28)
TEXT = (230, 230, 230)
MUTED = (150, 150, 160)


def caption(record: dict[str, Any]) -> tuple[str, str]:
    """Two short lines: seed and marks (``core.triage``'s caption words); the prompt, cut to fit."""
    first = f"#{record['image_id']}  seed {record['seed']}  " + "  ".join(sheet_marks(record))
    prompt = " ".join(str(record.get("prompt", "")).split())  # one line: newlines, tabs
    hidden = {index for index, _ in hidden_chars(prompt)}  # what a terminal would escape
    prompt = "".join(ch for index, ch in enumerate(prompt) if index not in hidden)
    return first.strip(), prompt if len(prompt) <= 40 else prompt[:39] + "…"


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow: a fixed bitmap font
        return ImageFont.load_default()


def contact_sheet(entries: list[tuple[Path, dict[str, Any]]], columns: int = COLUMNS) -> bytes:
    """A PNG (bytes) of thumbnails in a grid, ``columns`` wide, captioned."""
    columns = max(1, min(columns, len(entries)))
    rows = max(1, math.ceil(len(entries) / columns))
    cell_w, cell_h = THUMB_W + PAD, THUMB_H + CAPTION_H + PAD
    sheet = Image.new("RGB", (PAD + columns * cell_w, PAD + rows * cell_h), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    font = _font(12)
    for n, (path, record) in enumerate(entries):
        x = PAD + (n % columns) * cell_w
        y = PAD + (n // columns) * cell_h
        try:
            with Image.open(path) as im:
                thumb = ImageOps.contain(im.convert("RGB"), (THUMB_W, THUMB_H))
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            thumb = Image.new("RGB", (THUMB_W, THUMB_H), (60, 20, 20))  # a red gap, not a crash
        ox = x + (THUMB_W - thumb.width) // 2
        oy = y + (THUMB_H - thumb.height) // 2
        sheet.paste(thumb, (ox, oy))
        line1, line2 = caption(record)
        draw.text((x, y + THUMB_H + 4), line1, fill=TEXT, font=font)
        draw.text((x, y + THUMB_H + 18), line2, fill=MUTED, font=font)
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    return out.getvalue()
