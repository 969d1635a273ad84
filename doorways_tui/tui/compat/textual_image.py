"""textual-image's private names (pinned ``textual-image>=0.13,<0.15``). Contract tests:
``tests/unit/test_compat.py``.

Each is imported when it is called, not when this module is: importing
``textual_image.renderable`` probes the terminal, which must happen once, on purpose
(``imaging.init_terminal_graphics``), before the app runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["cell_size", "image_to_sixels", "kitty_placeholder_marks"]


def cell_size() -> tuple[int, int]:
    """1. ``textual_image._terminal.get_cell_size``: one cell's (width, height) in pixels,
    as the terminal reported it at detection (or textual-image's default)."""
    from textual_image._terminal import get_cell_size

    cell = get_cell_size()
    return int(cell.width), int(cell.height)


def image_to_sixels(image: Image.Image) -> str:
    """2. ``textual_image._sixel.image_to_sixels``: a palette image as one Sixel sequence.
    Looked up at each call (a test may slow it down to watch the stand-in)."""
    from textual_image import _sixel

    return _sixel.image_to_sixels(image)


def kitty_placeholder_marks() -> tuple[str, tuple[str, ...]]:
    """3. ``textual_image.renderable.tgp._PLACEHOLDER`` and ``_NUMBER_TO_DIACRITIC``: the
    Kitty Unicode-placeholder character and the diacritics that number rows and columns
    (their count is the largest placement in cells)."""
    from textual_image.renderable.tgp import _NUMBER_TO_DIACRITIC, _PLACEHOLDER

    return chr(_PLACEHOLDER), tuple(chr(n) for n in _NUMBER_TO_DIACRITIC)
