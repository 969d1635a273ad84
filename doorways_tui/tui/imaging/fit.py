"""Fitting an image into the cells available for it, keeping its aspect ratio."""

from __future__ import annotations

import math
from typing import NamedTuple

from doorways_tui.tui.imaging.protocol import Protocol

__all__ = ["Fit", "fit_image"]


class Fit(NamedTuple):
    """Where an image goes: the cells it covers and the pixels to produce for it."""

    cols: int
    rows: int
    pixel_width: int
    pixel_height: int


def fit_image(
    source: tuple[int, int],
    max_cols: int,
    max_rows: int,
    cell_size: tuple[int, int],
    protocol: Protocol,
    max_pixels: tuple[int, int] | None = None,
) -> Fit:
    """Fit an image of ``source`` pixels into ``max_cols`` x ``max_rows`` cells, keeping
    its aspect ratio (scaling up or down).

    Pixel protocols get the exact scaled pixel size and the cells it covers (rounded up, so
    the image never spills out; the last column/row may be partly background). Half-cells
    get two pixels per cell vertically, unicode one per cell. ``max_pixels`` caps the
    pixel size (a terminal's largest Sixel image).
    """
    src_w, src_h = max(1, source[0]), max(1, source[1])
    cw, ch = max(1, cell_size[0]), max(1, cell_size[1])
    max_cols, max_rows = max(1, max_cols), max(1, max_rows)
    box_w, box_h = max_cols * cw, max_rows * ch
    if max_pixels is not None and protocol.is_pixel:
        box_w, box_h = min(box_w, max_pixels[0]), min(box_h, max_pixels[1])
    scale = min(box_w / src_w, box_h / src_h)
    disp_w, disp_h = src_w * scale, src_h * scale
    if protocol.is_pixel:
        pw = min(max(1, round(disp_w)), box_w)
        ph = min(max(1, round(disp_h)), box_h)
        cols = min(max(1, math.ceil(pw / cw)), max_cols)
        rows = min(max(1, math.ceil(ph / ch)), max_rows)
        return Fit(cols, rows, pw, ph)
    cols = min(max(1, round(disp_w / cw)), max_cols)
    rows = min(max(1, round(disp_h / ch)), max_rows)
    if protocol is Protocol.HALFCELL:
        return Fit(cols, rows, cols, rows * 2)
    return Fit(cols, rows, cols, rows)
