"""Inline images: which terminal graphics protocol to use, and turning an image file into
what that protocol needs, off the UI thread and cached.

The widget that paints the result is :class:`doorways_tui.tui.widgets.preview.ImagePreview`.
This package does not import Textual (only Rich, PIL and the Textual-free parts of
``textual-image``), so the benchmark and the tests can drive it directly.

Protocols (the ``image_protocol`` setting): ``auto`` (default), ``kitty`` (Kitty graphics
protocol), ``sixel``, ``iterm2`` (OSC 1337 inline images), ``halfcell`` (coloured ``▀``
cells: two pixels per cell) and ``unicode`` (grey shade blocks, no colour).

Terminal detection is textual-image's: it asks the terminal (primary device attributes
for Sixel, a Kitty graphics query for Kitty) when ``textual_image.renderable`` is first
imported. That conversation needs the terminal's input, which Textual owns once
``App.run()`` has started, so the app calls :func:`init_terminal_graphics` before it.

Work per image: stat -> decode -> fit into the available cells (keeping the aspect ratio)
-> scale -> encode (Sixel string, base64 PNG for Kitty/iTerm2, or Rich segments for the
cell renderers). :func:`prepare` does all of it and is meant for a worker thread; three
LRU levels in :class:`ImageCache` (decoded, scaled, encoded) make a revisit a dictionary
lookup (:func:`lookup`), cheap enough to do on the UI thread.

The modules, each importable on its own:

* :mod:`.protocol`: :class:`Protocol`, :class:`CellSize`, :func:`resolve_protocol`.
* :mod:`.terminal`: :func:`init_terminal_graphics` (asking the terminal), :func:`graphics`.
* :mod:`.fit`: :func:`fit_image`.
* :mod:`.cache`: :class:`LRU`, :class:`ImageCache`, :func:`shared_cache`.
* :mod:`.request`: :class:`Request`, :class:`Prepared`, :class:`ImageLoadError`.
* :mod:`.pipeline`: :func:`prepare`, :func:`lookup`, :func:`decode`, :func:`scale`.
* :mod:`.encode`: the Sixel / PNG / half-cell / unicode encoders.
* :mod:`.sequences`: Kitty, iTerm2 and tmux escape sequences.

Everything is re-exported here; to monkeypatch a function, patch the module that uses it
(e.g. ``doorways_tui.tui.imaging.pipeline.decode``).
"""

from doorways_tui.tui.imaging.cache import LRU, ImageCache, shared_cache
from doorways_tui.tui.imaging.encode import (
    dither_to_palette,
    encode,
    halfcell_lines,
    png_base64,
    unicode_lines,
)
from doorways_tui.tui.imaging.fit import Fit, fit_image
from doorways_tui.tui.imaging.pipeline import decode, lookup, prepare, scale
from doorways_tui.tui.imaging.protocol import (
    DEFAULT_CELL_SIZE,
    KITTY_PLACEHOLDERS_SINCE,
    CellSize,
    Protocol,
    kitty_supports_placeholders,
    resolve_protocol,
)
from doorways_tui.tui.imaging.request import (
    FileKey,
    ImageLoadError,
    Lines,
    Prepared,
    Request,
    file_key,
)
from doorways_tui.tui.imaging.sequences import (
    iterm2_sequence,
    kitty_delete,
    kitty_place,
    kitty_placeholder_lines,
    kitty_transmit,
    next_kitty_image_id,
    tmux_wrap,
)
from doorways_tui.tui.imaging.terminal import (
    TerminalGraphics,
    graphics,
    init_terminal_graphics,
    parse_sixel_geometry,
    parse_xtversion,
    set_graphics,
)
from doorways_tui.tui.imaging.terminal import _kitty_query_ok as _kitty_query_ok

__all__ = [
    "DEFAULT_CELL_SIZE",
    "KITTY_PLACEHOLDERS_SINCE",
    "LRU",
    "CellSize",
    "FileKey",
    "Fit",
    "ImageCache",
    "ImageLoadError",
    "Lines",
    "Prepared",
    "Protocol",
    "Request",
    "TerminalGraphics",
    "decode",
    "dither_to_palette",
    "encode",
    "file_key",
    "fit_image",
    "graphics",
    "halfcell_lines",
    "init_terminal_graphics",
    "iterm2_sequence",
    "kitty_delete",
    "kitty_place",
    "kitty_placeholder_lines",
    "kitty_supports_placeholders",
    "kitty_transmit",
    "lookup",
    "next_kitty_image_id",
    "parse_sixel_geometry",
    "parse_xtversion",
    "png_base64",
    "prepare",
    "resolve_protocol",
    "scale",
    "set_graphics",
    "shared_cache",
    "tmux_wrap",
    "unicode_lines",
]
