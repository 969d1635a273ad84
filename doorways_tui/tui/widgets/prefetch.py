"""Prepare the image the artist will most likely ask for next (the next untriaged one),
so that ``n`` paints from the cache at once, as photo culling tools do.

The request comes from :meth:`ImagePreview.request_for`, the one the preview itself
makes, so the prepared image is found when it is shown.
"""

from __future__ import annotations

from doorways_tui.tui import imaging
from doorways_tui.tui.imaging import Request


def warm(request: Request, cache: imaging.ImageCache) -> None:
    """Decode, scale and encode into the cache (for a worker thread); errors are left for
    the preview to report when the image is really shown."""
    try:
        imaging.prepare(request, cache)
    except Exception:  # noqa: BLE001 - a prefetch never fails loudly
        return
