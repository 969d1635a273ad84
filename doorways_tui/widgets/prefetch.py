"""Prepare the image the artist will most likely ask for next (the next untriaged one),
so that ``n`` paints from the cache at once, as photo culling tools do.

The request mirrors what :class:`ImagePreview` would ask for in its current size; if it
ever differs, the only cost is a wasted decode (the preview then loads as usual).
"""

from __future__ import annotations

from pathlib import Path

from doorways_tui import imaging
from doorways_tui.imaging import Protocol, Request
from doorways_tui.widgets.preview import ImagePreview

_SCROLLING = (Protocol.SIXEL, Protocol.ITERM2)


def request_for(preview: ImagePreview, path: Path) -> Request | None:
    """The request ``preview.show(path)`` would make now, or None if it has no room."""
    width, height = preview.content_size
    if not preview.is_mounted or width <= 0 or height <= 0:
        return None
    graphics = imaging.graphics()
    protocol = preview.protocol
    if protocol in _SCROLLING and preview.content_region.bottom >= preview.app.size.height:
        height = max(1, height - 1)
    bg = preview.background_colors[1]
    return Request(
        path=path,
        cols=width,
        rows=height,
        protocol=protocol,
        cell_size=graphics.cell_size,
        background=(bg.r, bg.g, bg.b),
        max_pixels=graphics.sixel_max if protocol is Protocol.SIXEL else None,
    )


def warm(request: Request, cache: imaging.ImageCache) -> None:
    """Decode, scale and encode into the cache (for a worker thread); errors are left for
    the preview to report when the image is really shown."""
    try:
        imaging.prepare(request, cache)
    except Exception:  # noqa: BLE001 - a prefetch never fails loudly
        return
