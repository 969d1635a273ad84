"""Seed images: layout sketches that start a run where symmetry alone cannot place the doors.

The method's author induced a composition with "two slightly darker blotches in the centre
of both sides"; a run that starts from such a sketch (with ``layout`` size weighting, so
the large cutouts decide) grows its doors where the blotches are. A sketch is one, two or
three soft, dark, door-shaped blotches (an arch over a rectangle) at chosen x positions, on
a neutral grey or on a blurred parent image. Pillow only: no torch, so the app and the CLI
can draw one at once.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageOps, UnidentifiedImageError

from doorways_engine.errors import ConfigError

MAX_DOORS = 3
NEUTRAL = (128, 128, 128)  # mid grey: no colour or tone for the run to keep
# A door's shape as fractions of the image height (the short side of a panorama).
DOOR_WIDTH = 0.24
DOOR_TOP = 0.2
DOOR_BOTTOM = 0.88
SOFTNESS = 0.035  # Gaussian radius of the blotch's edge: soft, so no hard frame is copied
DARKEN = 0.4  # the blotch keeps 60% of the background's brightness: "slightly darker"
PARENT_BLUR = 0.05  # Gaussian radius for a parent image: keep its masses, drop its details
MIN_SIDE, MAX_SIDE = 16, 8192


def default_positions(doors: int) -> tuple[float, ...]:
    """The centres of ``doors`` equal parts of the width: 0.5; 0.25, 0.75 (the middle of
    each side of a panorama); 1/6, 1/2, 5/6."""
    _check_doors(doors)
    return tuple((2 * i + 1) / (2 * doors) for i in range(doors))


def parse_positions(text: str) -> tuple[float, ...]:
    """``"0.25,0.75"`` -> (0.25, 0.75): x centres as fractions of the width."""
    try:
        xs = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"door positions {text!r} are not numbers like 0.25,0.75") from None
    return xs


def door_box(x: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The door's (left, top, right, bottom) in pixels, centred at ``x`` (of the width)."""
    width, height = size
    half = DOOR_WIDTH * height / 2
    centre = x * width
    return (
        round(centre - half),
        round(DOOR_TOP * height),
        round(centre + half),
        round(DOOR_BOTTOM * height),
    )


def sketch(
    *,
    size: tuple[int, int],
    doors: int = 2,
    positions: tuple[float, ...] | None = None,
    parent: Image.Image | None = None,
) -> Image.Image:
    """An RGB layout sketch of ``size``: ``doors`` blotches centred at ``positions`` (the
    defaults of :func:`default_positions` when None), on grey or on ``parent`` cover-cropped
    to the size and blurred."""
    _check_doors(doors)
    width, height = size
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ConfigError(f"seed size {width}x{height}: each side must be {MIN_SIDE}-{MAX_SIDE}")
    xs = default_positions(doors) if positions is None else tuple(positions)
    if len(xs) != doors:
        raise ConfigError(f"{len(xs)} door position(s) given for {doors} door(s)")
    if any(not 0 < x < 1 for x in xs):
        raise ConfigError("door positions are fractions of the width, each between 0 and 1")
    if parent is None:
        background = Image.new("RGB", size, NEUTRAL)
    else:
        fitted = ImageOps.fit(parent.convert("RGB"), size, Image.Resampling.LANCZOS)
        background = fitted.filter(ImageFilter.GaussianBlur(PARENT_BLUR * height))
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for x in xs:
        left, top, right, bottom = door_box(x, size)
        arch = right - left
        draw.ellipse((left, top, right, top + arch), fill=255)  # the arch
        draw.rectangle((left, top + arch // 2, right, bottom), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(SOFTNESS * height))
    dark = background.point(lambda v: round(v * (1 - DARKEN)))
    return Image.composite(dark, background, mask)


def open_parent(path: Path) -> Image.Image:
    """The parent image, loaded; an unreadable file is one ConfigError line."""
    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ConfigError(f"cannot read the image {str(path)!r}: {exc}") from None


def _check_doors(doors: int) -> None:
    if not 1 <= doors <= MAX_DOORS:
        raise ConfigError(f"a seed image has 1 to {MAX_DOORS} doors, not {doors}")
