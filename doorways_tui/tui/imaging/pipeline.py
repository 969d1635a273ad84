"""Producing a preview: stat -> decode -> fit -> scale -> encode, through the caches.
:func:`prepare` is for a worker thread; :func:`lookup` is cheap enough for the UI thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from doorways_tui.tui.imaging.cache import ImageCache, shared_cache
from doorways_tui.tui.imaging.encode import encode
from doorways_tui.tui.imaging.fit import fit_image
from doorways_tui.tui.imaging.protocol import Protocol
from doorways_tui.tui.imaging.request import FileKey, ImageLoadError, Prepared, Request, file_key

__all__ = ["decode", "lookup", "prepare", "scale"]


def lookup(request: Request, cache: ImageCache | None = None) -> Prepared | None:
    """A cached result for ``request`` or ``None``: one stat and a dict lookup, cheap
    enough for the UI thread. Raises :class:`ImageLoadError` if the file is missing."""
    cache = cache or shared_cache()
    key = file_key(request.path)
    return cache.encoded.get(request.encoded_key(key), count_miss=False)


def prepare(
    request: Request,
    cache: ImageCache | None = None,
    is_cancelled: Callable[[], bool] = lambda: False,
) -> Prepared | None:
    """Decode, fit, scale and encode ``request`` (through the caches). For a worker thread.

    Returns ``None`` if ``is_cancelled()`` turned true between steps (a newer request
    superseded this one). Raises :class:`ImageLoadError` with a message for the user.
    """
    cache = cache or shared_cache()
    for attempt in range(3):
        key = file_key(request.path)
        hit = cache.encoded.get(request.encoded_key(key))
        if hit is not None:
            return hit
        if is_cancelled():
            return None
        try:
            with _slots:
                return _prepare_uncached(request, key, cache, is_cancelled)
        except ImageLoadError:
            # A running job may be rewriting the file while we read it: if it changed,
            # read the new version instead of reporting a truncated one.
            if attempt < 2 and _changed(request.path, key):
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


# Decoding and encoding release the GIL for much of their work; two at a time keeps a
# burst of requests from starving the UI thread while still overlapping I/O.
_slots = threading.BoundedSemaphore(2)


def _changed(path: Path, key: FileKey) -> bool:
    try:
        return file_key(path) != key
    except ImageLoadError:
        return False


def _prepare_uncached(
    request: Request, key: FileKey, cache: ImageCache, is_cancelled: Callable[[], bool]
) -> Prepared | None:
    if is_cancelled():
        return None
    decoded = cache.decoded.get(key)
    if decoded is None:
        decoded = decode(request.path)
        cache.decoded.put(key, decoded)
    if is_cancelled():
        return None
    fit = fit_image(
        decoded.size,
        request.cols,
        request.rows,
        request.cell_size,
        request.protocol,
        request.max_pixels,
    )
    scaled_key = request.scaled_key(key)
    scaled = cache.scaled.get(scaled_key)
    if scaled is None:
        scaled = scale(decoded, (fit.pixel_width, fit.pixel_height), request.background)
        if request.protocol is Protocol.UNICODE:
            scaled = scaled.convert("L")
        cache.scaled.put(scaled_key, scaled)
    if is_cancelled():
        return None
    prepared = encode(scaled, fit, request.protocol, key, decoded.size)
    cache.encoded.put(request.encoded_key(key), prepared)
    return prepared


def decode(path: Path) -> Image.Image:
    """Open and fully decode an image, upright, as RGB or RGBA."""
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened) or opened
            if image.mode not in ("RGB", "RGBA"):
                image = image.convert("RGBA" if _has_alpha(image) else "RGB")
            else:
                image = image.copy()
    except FileNotFoundError:
        raise ImageLoadError(f"image not found: {path.name}") from None
    except UnidentifiedImageError:
        raise ImageLoadError(f"cannot read {path.name}: not an image") from None
    except Image.DecompressionBombError:
        raise ImageLoadError(f"cannot read {path.name}: too large") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageLoadError(f"cannot read {path.name}: {exc}") from None
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("LA", "PA", "RGBa", "La") or "transparency" in image.info


def scale(
    image: Image.Image, size: tuple[int, int], background: tuple[int, int, int] = (0, 0, 0)
) -> Image.Image:
    """Resize to ``size`` (Lanczos down, bicubic up) and flatten any alpha onto ``background``."""
    size = (max(1, size[0]), max(1, size[1]))
    if image.size != size:
        down = size[0] <= image.width and size[1] <= image.height
        resample = Image.Resampling.LANCZOS if down else Image.Resampling.BICUBIC
        image = image.resize(size, resample, reducing_gap=3.0 if down else None)
    if image.mode == "RGBA":
        base = Image.new("RGB", image.size, background)
        base.paste(image, mask=image.getchannel("A"))
        image = base
    return image
