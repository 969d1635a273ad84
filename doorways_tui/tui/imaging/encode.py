"""Encoders: a scaled image as Sixel, base64 PNG (Kitty, iTerm2) or Rich segments
(half-cells, unicode shade blocks)."""

from __future__ import annotations

import base64
import io

from PIL import Image
from rich.color import Color, ColorType
from rich.color_triplet import ColorTriplet
from rich.segment import Segment
from rich.style import Style

from doorways_tui.tui.imaging.fit import Fit
from doorways_tui.tui.imaging.protocol import Protocol
from doorways_tui.tui.imaging.request import FileKey, Lines, Prepared

__all__ = ["dither_to_palette", "encode", "halfcell_lines", "png_base64", "unicode_lines"]


def encode(
    scaled: Image.Image,
    fit: Fit,
    protocol: Protocol,
    key: FileKey,
    source_size: tuple[int, int],
) -> Prepared:
    """Turn a scaled image into what ``protocol`` sends (see :class:`Prepared`)."""
    payload = ""
    if protocol is Protocol.UNICODE:
        lines = unicode_lines(scaled)
    elif protocol is Protocol.HALFCELL:
        lines = halfcell_lines(scaled)
    else:
        stand_in = scaled.resize((fit.cols, fit.rows * 2), Image.Resampling.BOX)
        # Five bits a channel is plenty for a stand-in and keeps the colour memo small.
        lines = halfcell_lines(stand_in.point(lambda v: v & 0xF8))
        if protocol is Protocol.SIXEL:
            from doorways_tui.tui.compat.textual_image import image_to_sixels

            payload = image_to_sixels(dither_to_palette(scaled))
        else:
            payload = png_base64(scaled)
    return Prepared(
        key=key,
        protocol=protocol,
        cols=fit.cols,
        rows=fit.rows,
        pixel_size=scaled.size,
        source_size=source_size,
        lines=lines,
        payload=payload,
    )


def dither_to_palette(image: Image.Image, colors: int = 256) -> Image.Image:
    """Reduce to a ``colors`` palette with Floyd-Steinberg dithering (Sixel's limit).

    textual-image's encoder quantizes without dithering, which bands smooth skies and
    gradients into visible blocks; a paletted image is encoded as it is.
    """
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    palette = rgb.quantize(colors, method=Image.Quantize.FASTOCTREE)
    return rgb.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG)


def png_base64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def halfcell_lines(image: Image.Image) -> Lines:
    """Two pixels per cell: ``▀`` with the upper pixel as foreground, lower as background.

    ``image`` must be RGB, ``cols`` wide and ``2 * rows`` high. Runs of equal cells are
    joined into one segment.
    """
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    width, height = rgb.size
    data = rgb.tobytes()
    styles: dict[bytes, Style] = {}
    lines: list[tuple[Segment, ...]] = []
    stride = width * 3
    for row in range(height // 2):
        top = data[2 * row * stride : (2 * row + 1) * stride]
        bottom = data[(2 * row + 1) * stride : (2 * row + 2) * stride]
        segments: list[Segment] = []
        run_style: Style | None = None
        run = 0
        for x in range(0, stride, 3):
            pair = top[x : x + 3] + bottom[x : x + 3]
            style = styles.get(pair)
            if style is None:
                style = styles[pair] = Style.from_color(_color(pair[:3]), _color(pair[3:]))
            if style is run_style:
                run += 1
                continue
            if run:
                segments.append(Segment("▀" * run, run_style))
            run_style, run = style, 1
        if run:
            segments.append(Segment("▀" * run, run_style))
        lines.append(tuple(segments))
    return tuple(lines)


_colors: dict[bytes, Color] = {}


def _color(rgb: bytes) -> Color:
    """A truecolor Rich colour for three bytes, memoised (``Color.from_rgb`` is slow)."""
    color = _colors.get(rgb)
    if color is None:
        if len(_colors) > 262_144:
            _colors.clear()
        color = _colors[rgb] = Color(
            "#" + rgb.hex(), ColorType.TRUECOLOR, triplet=ColorTriplet(rgb[0], rgb[1], rgb[2])
        )
    return color


_SHADES = "█▓▒░ "


def unicode_lines(image: Image.Image) -> Lines:
    """One grey level per cell as a shade block (bright pixels are full blocks), no colour."""
    grey = image.convert("L") if image.mode != "L" else image
    width, height = grey.size
    data = grey.tobytes()
    lines = []
    for row in range(height):
        text = "".join(
            _SHADES[min(4, (255 - v) * 5 // 256)] for v in data[row * width : (row + 1) * width]
        )
        lines.append((Segment(text),))
    return tuple(lines)
