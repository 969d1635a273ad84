"""Inline images: which terminal graphics protocol to use, and turning an image file into
what that protocol needs, off the UI thread and cached.

The widget that paints the result is :class:`doorways_tui.widgets.preview.ImagePreview`.
This module does not import Textual (only Rich, PIL and the Textual-free parts of
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
"""

from __future__ import annotations

import base64
import io
import math
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from PIL import Image, ImageOps, UnidentifiedImageError
from rich.color import Color, ColorType
from rich.color_triplet import ColorTriplet
from rich.segment import Segment
from rich.style import Style

if TYPE_CHECKING:
    from doorways_tui.settings import Settings

__all__ = [
    "CellSize",
    "Fit",
    "ImageCache",
    "ImageLoadError",
    "LRU",
    "Prepared",
    "Protocol",
    "Request",
    "TerminalGraphics",
    "fit_image",
    "graphics",
    "init_terminal_graphics",
    "lookup",
    "prepare",
    "resolve_protocol",
    "set_graphics",
]


class Protocol(StrEnum):
    """How pixels reach the terminal."""

    KITTY = "kitty"
    SIXEL = "sixel"
    ITERM2 = "iterm2"
    HALFCELL = "halfcell"
    UNICODE = "unicode"

    @property
    def is_pixel(self) -> bool:
        """True for the protocols that send real pixels (the terminal scales nothing)."""
        return self in (Protocol.KITTY, Protocol.SIXEL, Protocol.ITERM2)


class CellSize(NamedTuple):
    """Size of one terminal cell in pixels."""

    width: int
    height: int


#: What textual-image assumes when the terminal will not say (a VT340's cell).
DEFAULT_CELL_SIZE = CellSize(10, 20)

#: Kitty learnt Unicode-placeholder placements (images that live in text cells) in 0.28.
KITTY_PLACEHOLDERS_SINCE = (0, 28, 0)


@dataclass(frozen=True)
class TerminalGraphics:
    """What :func:`init_terminal_graphics` found out, and the protocol in use."""

    protocol: Protocol
    """The protocol the previews use."""
    detected: Protocol = Protocol.HALFCELL
    """What ``auto`` would choose for this terminal."""
    cell_size: CellSize = DEFAULT_CELL_SIZE
    tmux: bool = False
    """Running inside tmux: Kitty graphics go through tmux's passthrough."""
    terminal_version: str = ""
    """The terminal's XTVERSION answer, e.g. ``kitty(0.26.5)``; empty when not asked/answered."""
    sixel_max: tuple[int, int] | None = None
    """Largest Sixel image the terminal will draw (XTSMGRAPHICS), None if unknown."""
    kitty_placeholders: bool = True
    """Kitty: place images with Unicode placeholders (kitty >= 0.28, works in tmux) rather
    than at a cursor position (older kitty)."""
    probed: bool = False
    """False until :func:`init_terminal_graphics` has talked to the terminal."""


_graphics: TerminalGraphics | None = None
_graphics_lock = threading.Lock()


def graphics() -> TerminalGraphics:
    """The terminal graphics in use; half-cells and a default cell size before
    :func:`init_terminal_graphics` has run (tests, scripts)."""
    return _graphics or TerminalGraphics(protocol=Protocol.HALFCELL)


def set_graphics(value: TerminalGraphics | None) -> None:
    """Replace the module's idea of the terminal (tests; ``None`` forgets it)."""
    global _graphics
    with _graphics_lock:
        _graphics = value


def resolve_protocol(
    setting: str | None, detected: Protocol, env: Mapping[str, str] | None = None
) -> Protocol:
    """The protocol to use, from the ``image_protocol`` setting and what was detected.

    ``auto`` takes textual-image's detection (Sixel, then Kitty, then half-cells on a
    terminal, unicode when output is not a terminal) and adds iTerm2, which textual-image
    does not know: chosen when a terminal that offered neither Sixel nor Kitty says it is
    iTerm2 (``TERM_PROGRAM`` locally, ``LC_TERMINAL`` which ssh forwards). Anything else
    forces that protocol.
    """
    env = os.environ if env is None else env
    value = (setting or "auto").strip().lower()
    if value == "auto":
        if detected is Protocol.HALFCELL and _looks_like_iterm2(env):
            return Protocol.ITERM2
        return detected
    try:
        return Protocol(value)
    except ValueError:
        choices = ", ".join(["auto", *(p.value for p in Protocol)])
        raise ValueError(f"image_protocol {setting!r} is not one of {choices}") from None


def _looks_like_iterm2(env: Mapping[str, str]) -> bool:
    return env.get("TERM_PROGRAM") == "iTerm.app" or env.get("LC_TERMINAL") == "iTerm2"


def init_terminal_graphics(setting: str | Settings | None = "auto") -> TerminalGraphics:
    """Detect the terminal's graphics support once and choose the protocol.

    Call it before ``App.run()``: it imports ``textual_image.renderable`` (whose import
    asks the terminal what it supports) and may ask the terminal for its version and its
    largest Sixel image. After Textual has started, its input thread would swallow the
    answers. ``setting`` is the ``image_protocol`` setting or a :class:`Settings`.
    Calling it again re-resolves the setting without asking the terminal again.
    """
    global _graphics
    if setting is not None and not isinstance(setting, str):
        setting = setting.image_protocol
    with _graphics_lock:
        previous = _graphics
        if previous is not None and previous.probed:
            _graphics = replace(previous, protocol=resolve_protocol(setting, previous.detected))
            return _graphics
        _graphics = _probe(setting)
        return _graphics


_XTVERSION = "\x1b[>0q"
_PRIMARY_DA = "\x1b[c"
# Kitty graphics support query (as textual-image sends it): a 1x1 image that is not kept.
_KITTY_QUERY = "\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
_XTSMGRAPHICS_MAX = "\x1b[?2;4;0S"  # the largest Sixel image (xterm: 1000x1000)


def _probe(setting: str | None) -> TerminalGraphics:
    # Importing textual_image.renderable is what runs its detection (once per process).
    from textual_image import renderable as ti_renderable
    from textual_image._terminal import get_cell_size

    detected = {
        "SixelImage": Protocol.SIXEL,
        "TGPImage": Protocol.KITTY,
        "HalfcellImage": Protocol.HALFCELL,
        "UnicodeImage": Protocol.UNICODE,
    }
    auto = Protocol.HALFCELL
    for name, proto in detected.items():
        if ti_renderable.Image is getattr(ti_renderable, name, None):
            auto = proto
            break
    cell = get_cell_size()
    cell_size = CellSize(int(cell.width), int(cell.height))
    tmux = bool(os.environ.get("TMUX"))
    version = ""
    sixel_max = None
    tty = _stdio_is_tty()
    if tty and tmux:
        # tmux answers primary DA itself, before the outer terminal has answered the
        # Kitty query textual-image sent through passthrough, so textual-image misses it
        # (and its late reply sits in the input). Ask the outer terminal through
        # passthrough for its version and Kitty support with the outer terminal's own DA
        # as the last question; reading up to that answer also drains the late reply.
        reply = _query_terminal(
            tmux_wrap(_XTVERSION) + tmux_wrap(_KITTY_QUERY) + tmux_wrap(_PRIMARY_DA),
            timeout=0.5,
            sentinel=False,
        )
        version = parse_xtversion(reply)
        if auto is Protocol.HALFCELL and _kitty_query_ok(reply):
            auto = Protocol.KITTY
        if resolve_protocol(setting, auto) is Protocol.SIXEL:
            sixel_max = parse_sixel_geometry(_query_terminal(_XTSMGRAPHICS_MAX))
    elif tty:
        # Terminals ignore the questions they do not understand; DA ends the wait.
        reply = _query_terminal(_XTVERSION + _XTSMGRAPHICS_MAX)
        version = parse_xtversion(reply)
        sixel_max = parse_sixel_geometry(reply)
    placeholders = kitty_supports_placeholders(version)
    if auto is Protocol.KITTY and tmux and not placeholders:
        auto = Protocol.HALFCELL  # old kitty: only cursor placement, which tmux cannot carry
    protocol = resolve_protocol(setting, auto)
    return TerminalGraphics(
        protocol=protocol,
        detected=auto,
        cell_size=cell_size,
        tmux=tmux,
        terminal_version=version,
        sixel_max=sixel_max,
        kitty_placeholders=placeholders,
        probed=True,
    )


def _kitty_query_ok(reply: str) -> bool:
    import re

    return re.search(r"\x1b_Gi=31;OK\x1b\\", reply) is not None


def _stdio_is_tty() -> bool:
    return bool(
        sys.__stdin__ and sys.__stdout__ and sys.__stdin__.isatty() and sys.__stdout__.isatty()
    )


def _query_terminal(queries: str, timeout: float = 1.0, *, sentinel: bool = True) -> str:
    """Send ``queries`` (then primary DA if ``sentinel``) and read the replies until a
    primary DA answer arrives or ``timeout`` seconds pass."""
    if sys.platform == "win32":  # pragma: no cover
        return ""
    import re
    import select
    import termios
    import time
    import tty

    assert sys.__stdin__ is not None and sys.__stdout__ is not None
    fd = sys.__stdin__.fileno()
    old = termios.tcgetattr(fd)
    reply = b""
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        sys.__stdout__.write(queries + (_PRIMARY_DA if sentinel else ""))
        sys.__stdout__.flush()
        deadline = time.monotonic() + timeout
        while not re.search(rb"\x1b\[\?[0-9;]*c", reply):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            reply += os.read(fd, 1024)
    except OSError:
        pass
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, old)
    return reply.decode("latin-1")


def parse_xtversion(reply: str) -> str:
    """The name in an XTVERSION reply (``ESC P >| kitty(0.26.5) ESC \\``), or ``""``."""
    start = reply.find("\x1bP>|")
    if start < 0:
        return ""
    end = reply.find("\x1b\\", start)
    return reply[start + 4 : end if end >= 0 else None]


def parse_sixel_geometry(reply: str) -> tuple[int, int] | None:
    """Width and height from an XTSMGRAPHICS reply (``CSI ? 2 ; 0 ; W ; H S``)."""
    import re

    match = re.search(r"\x1b\[\?2;0;(\d+);(\d+)S", reply)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2))


def kitty_supports_placeholders(version: str) -> bool:
    """Kitty >= 0.28 places images with Unicode placeholders; older kitty cannot.

    Other or unknown terminals (no XTVERSION answer) are assumed to, as textual-image
    assumes.
    """
    if not version.startswith("kitty("):
        return True
    try:
        numbers = tuple(int(p) for p in version[6:].rstrip(")").split("."))
    except ValueError:
        return True
    return numbers >= KITTY_PLACEHOLDERS_SINCE


# --------------------------------------------------------------------------------------
# Fitting


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


# --------------------------------------------------------------------------------------
# Caches


class LRU:
    """A thread-safe least-recently-used map bounded by entries and by total weight."""

    def __init__(
        self,
        max_items: int,
        max_weight: int | None = None,
        weigh: Callable[[Any], int] = lambda _: 1,
    ) -> None:
        self.max_items = max_items
        self.max_weight = max_weight
        self._weigh = weigh
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, key: Hashable, *, count_miss: bool = True) -> Any | None:
        """The value for ``key`` (now the most recently used), or ``None``."""
        with self._lock:
            item = self._data.get(key)
            if item is None:
                self.misses += count_miss
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: Any) -> None:
        weight = self._weigh(value)
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._data[key] = (value, weight)
            self._weight += weight
            while len(self._data) > 1 and (
                len(self._data) > self.max_items
                or (self.max_weight is not None and self._weight > self.max_weight)
            ):
                _, (_, dropped) = self._data.popitem(last=False)
                self._weight -= dropped
                self.evictions += 1

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    @property
    def weight(self) -> int:
        return self._weight

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._weight = 0


def _pil_bytes(image: Image.Image) -> int:
    return image.width * image.height * len(image.getbands())


class ImageCache:
    """Three LRU levels: decoded originals, scaled images, encoded results.

    Keys: decoded by :class:`FileKey` (path, mtime, size); scaled by (file key, size in
    cells, cell pixel size, kind, background); encoded by the scaled key plus protocol.
    A file rewritten in place has a new mtime, so a new key: nothing stale is served.
    """

    def __init__(
        self,
        *,
        decoded_items: int = 6,
        decoded_bytes: int = 192 * 2**20,
        scaled_items: int = 48,
        scaled_bytes: int = 128 * 2**20,
        encoded_items: int = 96,
        encoded_bytes: int = 96 * 2**20,
    ) -> None:
        self.decoded = LRU(decoded_items, decoded_bytes, _pil_bytes)
        self.scaled = LRU(scaled_items, scaled_bytes, _pil_bytes)
        self.encoded = LRU(encoded_items, encoded_bytes, lambda p: p.nbytes)

    def clear(self) -> None:
        for level in (self.decoded, self.scaled, self.encoded):
            level.clear()


_shared_cache = ImageCache()


def shared_cache() -> ImageCache:
    """The process-wide cache the previews use unless given their own."""
    return _shared_cache


# --------------------------------------------------------------------------------------
# Loading


class ImageLoadError(Exception):
    """An image could not be shown; the message is meant for the user."""


class FileKey(NamedTuple):
    path: str
    mtime_ns: int
    size: int


def file_key(path: Path) -> FileKey:
    """Identify one version of a file (raises :class:`ImageLoadError` if it is missing)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageLoadError(f"image not found: {path.name}") from None
    except OSError as exc:
        raise ImageLoadError(f"cannot open {path.name}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise ImageLoadError(f"not a file: {path.name}")
    return FileKey(str(path.resolve()), st.st_mtime_ns, st.st_size)


@dataclass(frozen=True)
class Request:
    """One preview to produce: a file, the cells available for it, and how to draw it."""

    path: Path
    cols: int
    rows: int
    protocol: Protocol
    cell_size: tuple[int, int] = DEFAULT_CELL_SIZE
    background: tuple[int, int, int] = (0, 0, 0)
    max_pixels: tuple[int, int] | None = None

    def scaled_key(self, key: FileKey) -> tuple[Hashable, ...]:
        kind = "pixels" if self.protocol.is_pixel else self.protocol.value
        return (
            key,
            self.cols,
            self.rows,
            tuple(self.cell_size),
            kind,
            self.background,
            self.max_pixels,
        )

    def encoded_key(self, key: FileKey) -> tuple[Hashable, ...]:
        return (*self.scaled_key(key), self.protocol.value)


Lines = tuple[tuple[Segment, ...], ...]


@dataclass(frozen=True, eq=False)
class Prepared:
    """A preview ready to paint."""

    key: FileKey
    protocol: Protocol
    cols: int
    """Cells the image covers."""
    rows: int
    pixel_size: tuple[int, int]
    """Pixels produced (sent to the terminal, or sampled for the cell renderers)."""
    source_size: tuple[int, int]
    lines: Lines
    """The picture as cells: the image itself for halfcell/unicode, and for pixel
    protocols a half-cell stand-in used where pixels cannot go (partly hidden, under a
    modal screen)."""
    payload: str = ""
    """Sixel: the whole DCS string. Kitty/iTerm2: the image as base64 PNG."""

    @property
    def nbytes(self) -> int:
        return len(self.payload) + 16 * self.cols * self.rows + 256

    @property
    def path(self) -> Path:
        return Path(self.key.path)


def lookup(request: Request, cache: ImageCache | None = None) -> Prepared | None:
    """A cached result for ``request`` or ``None``: one stat and a dict lookup, cheap
    enough for the UI thread. Raises :class:`ImageLoadError` if the file is missing."""
    cache = cache or _shared_cache
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
    cache = cache or _shared_cache
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
            from textual_image._sixel import image_to_sixels

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


# --------------------------------------------------------------------------------------
# Escape sequences for the pixel protocols (built here so they can be tested without a
# terminal; the widget decides when to send them)


def tmux_wrap(sequence: str) -> str:
    """Wrap a sequence in tmux's passthrough envelope (needs ``allow-passthrough on``)."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


def _kitty_command(keys: str, payload: str = "", *, tmux: bool = False) -> str:
    sequence = f"\x1b_G{keys}{';' + payload if payload else ''}\x1b\\"
    return tmux_wrap(sequence) if tmux else sequence


def kitty_transmit(
    image_id: int,
    payload: str,
    cols: int,
    rows: int,
    *,
    placeholders: bool = True,
    tmux: bool = False,
    chunk: int = 4096,
) -> str:
    """Send a base64 PNG to the terminal as image ``image_id`` (quietly: ``q=2``, since
    any reply would arrive as keyboard input). With ``placeholders`` it also makes a
    virtual placement of ``cols`` x ``rows`` cells, shown wherever
    :func:`kitty_placeholder_lines` are drawn."""
    parts = []
    chunks = [payload[i : i + chunk] for i in range(0, len(payload), chunk)] or [""]
    for index, data in enumerate(chunks):
        more = 1 if index < len(chunks) - 1 else 0
        keys = f"a=t,f=100,i={image_id},q=2,m={more}" if index == 0 else f"q=2,m={more}"
        parts.append(_kitty_command(keys, data, tmux=tmux))
    if placeholders:
        parts.append(_kitty_command(f"a=p,U=1,i={image_id},c={cols},r={rows},q=2", tmux=tmux))
    return "".join(parts)


def kitty_place(image_id: int, x: int, y: int, *, tmux: bool = False) -> str:
    """Place image ``image_id`` with its top-left corner at screen cell (x, y), at its own
    pixel size (giving cells would stretch it to fill them), without moving the cursor
    (older kitty, without placeholders). Placement id 1 is reused: placing again moves it.

    Through tmux the whole thing, cursor moves included, goes to the outer terminal, so
    it lands right only when the pane starts at the top-left of the window.
    """
    sequence = f"\x1b7\x1b[{y + 1};{x + 1}H\x1b_Ga=p,i={image_id},p=1,C=1,q=2\x1b\\\x1b8"
    return tmux_wrap(sequence) if tmux else sequence


def kitty_delete(image_id: int, *, free: bool = True, tmux: bool = False) -> str:
    """Delete the placements of ``image_id`` (and its data when ``free``)."""
    return _kitty_command(f"a=d,d={'I' if free else 'i'},i={image_id},q=2", tmux=tmux)


def kitty_placeholder_lines(image_id: int, cols: int, rows: int) -> Lines:
    """Text cells that kitty replaces with image ``image_id`` (Unicode placeholders).

    The image id is the cells' foreground colour: a 256-colour index (ids 16-255), which
    tmux and every colour mode pass unchanged, unlike a 24-bit colour.
    """
    from textual_image.renderable.tgp import _NUMBER_TO_DIACRITIC, _PLACEHOLDER

    limit = len(_NUMBER_TO_DIACRITIC)
    if cols > limit or rows > limit:
        raise ImageLoadError("image too large for Kitty placeholders")
    style = Style(color=Color.from_ansi(image_id))
    cell = chr(_PLACEHOLDER)
    marks = [chr(n) for n in _NUMBER_TO_DIACRITIC]
    return tuple(
        (Segment("".join(cell + marks[row] + marks[col] for col in range(cols)), style),)
        for row in range(rows)
    )


def iterm2_sequence(payload: str, cols: int, rows: int, *, tmux: bool = False) -> str:
    """iTerm2 inline image (OSC 1337) drawn at the cursor over ``cols`` x ``rows`` cells."""
    size = len(payload) * 3 // 4
    sequence = (
        f"\x1b]1337;File=inline=1;size={size};width={cols};height={rows};"
        f"preserveAspectRatio=1;doNotMoveCursor=1:{payload}\x07"
    )
    return tmux_wrap(sequence) if tmux else sequence


_kitty_ids = iter(())
_kitty_ids_lock = threading.Lock()


def next_kitty_image_id() -> int:
    """Image ids 16-255, round robin (see :func:`kitty_placeholder_lines`); an id comes
    round again only after 240 newer images, by when its first user has deleted it."""
    global _kitty_ids
    import itertools
    import random

    with _kitty_ids_lock:
        image_id = next(_kitty_ids, None)
        if image_id is None:
            start = random.randrange(16, 256)
            _kitty_ids = itertools.cycle([*range(start, 256), *range(16, start)])
            image_id = next(_kitty_ids)
        return image_id
