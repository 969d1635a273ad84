"""``ImagePreview``: one image, as real pixels where the terminal can show them.

``show(path, version=...)`` asks for an image; decoding, scaling and encoding run in an
exclusive thread worker (a newer ``show`` cancels the older request, and only the
latest request paints), through :mod:`doorways_tui.tui.imaging`'s caches, so revisiting an
image paints at once without a worker. The image keeps its aspect ratio, centred in the
widget's content region, and is prepared again when that region changes size.

How pixels reach the terminal (the protocol comes from :func:`imaging.graphics`, which
the app fills by calling :func:`imaging.init_terminal_graphics` before ``App.run()``):

* halfcell / unicode: ordinary coloured text cells.
* kitty (>= 0.28, and in tmux): the image is sent once, then drawn by Unicode
  placeholder cells, which are text to Textual, so clipping and overlays just work.
* kitty (older): the image is placed at a cursor position, and the placement is deleted
  whenever the preview is hidden, covered by another screen or partly clipped.
* sixel / iTerm2: the escape sequence rides in the frame Textual writes, as zero-width
  *control* segments appended after the full width of text on the image's last row.
  Textual's strip cropping counts the printable characters of a sequence as cells, so a
  sequence in an ordinary segment, or one with text after it, could be cut mid-way and
  the terminal would wait for its terminator, swallowing the screen. Placed last, after
  a full-width run of text, any cut falls in the text: the sequence is either written
  whole or (when Textual repaints only part of that row) not at all. It is written only
  when the whole canvas is visible and its screen is active; otherwise the half-cell
  stand-in is drawn instead.

Try a terminal with ``python -m doorways_tui.tui.widgets.preview IMAGE...``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar, Literal

from rich.control import Control
from rich.segment import ControlType, Segment
from rich.style import Style
from textual import on, work
from textual.app import ComposeResult
from textual.dom import NoScreen
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker, WorkerState, get_current_worker

from doorways_tui.core.text import printable
from doorways_tui.tui import imaging
from doorways_tui.tui.compat.textual import output_driver, visible_widgets
from doorways_tui.tui.imaging import ImageCache, ImageLoadError, Prepared, Protocol, Request

#: The stylesheet for these widgets; an app lists it in ``CSS_PATH``.
PREVIEW_CSS_PATH = Path(__file__).with_name("preview.tcss")

WORKER_GROUP = "image-preview"

Status = Literal["empty", "loading", "shown", "error"]

_NULL = Style()
# Protocols drawn at the cursor that scroll the screen if they end on its last row.
_SCROLLING = (Protocol.SIXEL, Protocol.ITERM2)
# Marks a segment as control (zero cells wide) with a cursor movement of nothing.
_CONTROL = [(ControlType.CURSOR_FORWARD, 0)]


class ImageCanvas(Widget, can_focus=False):
    """Paints a :class:`Prepared` image centred in its region (see the module notes)."""

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self._prepared: Prepared | None = None
        self._kitty_id: int | None = None
        self._kitty_placed = False
        self._lines_key: tuple[object, ...] | None = None
        self._lines: list[Strip] = []
        self._mode: str | None = None
        self.pixels_drawn = 0
        """How many times the real-pixel path was taken (for tests)."""

    @property
    def prepared(self) -> Prepared | None:
        return self._prepared

    def set_prepared(self, prepared: Prepared | None) -> None:
        """Show ``prepared`` (``None``: nothing). Kitty images are sent to the terminal here."""
        if prepared is self._prepared:
            return
        old_kitty = self._kitty_id
        self._prepared = prepared
        self._kitty_id = None
        if prepared is not None and prepared.protocol is Protocol.KITTY:
            graphics = imaging.graphics()
            self._kitty_id = imaging.next_kitty_image_id()
            self._write(
                imaging.kitty_transmit(
                    self._kitty_id,
                    prepared.payload,
                    prepared.cols,
                    prepared.rows,
                    placeholders=graphics.kitty_placeholders,
                    tmux=graphics.tmux,
                )
            )
        if old_kitty is not None:
            self._kitty_placed = False
            self._write(imaging.kitty_delete(old_kitty, tmux=imaging.graphics().tmux))
        self.refresh()

    # -- writing outside the frame ---------------------------------------------------

    def _write(self, data: str) -> None:
        """Write to the terminal through Textual's output queue, in order with its frames.

        Textual has no public call for this; its driver's ``write`` is what it uses
        itself. Under a headless (test) driver this writes nothing.
        """
        try:
            driver = output_driver(self.app)
            if driver is not None and not driver.is_headless:
                driver.write(data)
        except Exception:  # no app, or it is shutting down: nothing left to draw on
            pass

    def _unplace(self) -> None:
        if self._kitty_placed and self._kitty_id is not None:
            self._kitty_placed = False
            self._write(
                imaging.kitty_delete(self._kitty_id, free=False, tmux=imaging.graphics().tmux)
            )

    def on_mount(self) -> None:
        self.app.screen_change_signal.subscribe(self, self._screen_changed)
        self.app.app_suspend_signal.subscribe(self, lambda _app: self._unplace())

    def _screen_changed(self, screen: object) -> None:
        with contextlib.suppress(NoScreen):
            if screen is not self.screen:
                self._unplace()

    def on_hide(self) -> None:
        self._unplace()

    def on_unmount(self) -> None:
        if self._kitty_id is not None:
            self._write(imaging.kitty_delete(self._kitty_id, tmux=imaging.graphics().tmux))
            self._kitty_id = None
            self._kitty_placed = False

    # -- rendering -------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        width, height = self.size
        prepared = self._prepared
        style = self.rich_style
        try:
            active = self.screen.is_active
        except NoScreen:
            active = False
        if prepared is None or width <= 0 or height <= 0:
            self._unplace()
            return [Strip.blank(crop.width, style)] * crop.height

        cols, rows = prepared.cols, prepared.rows
        fits = cols <= width and rows <= height
        left, top = max(0, (width - cols) // 2), max(0, (height - rows) // 2)
        whole = crop == Region(0, 0, width, height)
        region = self.region
        image = Region(region.x + left, region.y + top, cols, rows)
        mode = "cells"
        if prepared.protocol.is_pixel and fits and active:
            mode = self._pixel_mode(prepared)
            if mode == "kitty":
                pass  # placeholders are text: clipping and overlays just work
            elif not whole or self._covered(image):
                mode = "cells"
            elif mode in ("sixel", "iterm2") and image.bottom >= self.app.size.height:
                mode = "cells"  # it would scroll the screen (see ImagePreview._request)
        pixels = mode != "cells"
        if mode != self._mode:
            if self._mode is not None:
                # Textual may be repainting only part of us (an overlay came or went):
                # repaint all of it in the new mode.
                self.call_later(self.refresh)
            self._mode = mode
        if mode != "kitty-direct":
            self._unplace()
        key = (width, height, id(prepared), mode, region, style, self._kitty_id)
        if key != self._lines_key:
            self._lines = self._build(prepared, mode, width, height, left, top, region, style)
            self._lines_key = key
        if mode == "kitty-direct" and self._kitty_id is not None:
            self._write(
                imaging.kitty_place(
                    self._kitty_id, region.x + left, region.y + top, tmux=imaging.graphics().tmux
                )
            )
            self._kitty_placed = True
        if pixels:
            self.pixels_drawn += 1
        if whole:
            return list(self._lines)
        return [line.crop(crop.x, crop.right) for line in self._lines[crop.y : crop.bottom]]

    def _covered(self, image: Region) -> bool:
        """Is any widget in front of us (a toast, a tooltip, a menu) over ``image``?

        Pixels drawn at a position would cover it. Uses the screen's compositor, which
        lists visible widgets front to back; if that ever changes, assume not covered.
        """
        try:
            widgets = visible_widgets(self.screen)
        except Exception:
            return False
        ancestors = set(self.ancestors_with_self)
        for widget, (region, clip) in widgets.items():
            if widget is self:
                return False
            if widget in ancestors or not widget.visible:
                continue
            if region.intersection(clip).overlaps(image):
                return True
        return False

    @staticmethod
    def _pixel_mode(prepared: Prepared) -> str:
        if prepared.protocol is Protocol.KITTY:
            return "kitty" if imaging.graphics().kitty_placeholders else "kitty-direct"
        return prepared.protocol.value

    def _build(
        self,
        prepared: Prepared,
        mode: str,
        width: int,
        height: int,
        left: int,
        top: int,
        region: Region,
        style: Style,
    ) -> list[Strip]:
        """All ``height`` lines of the canvas, ``width`` cells each."""
        cols, rows = min(prepared.cols, width), min(prepared.rows, height)
        if mode == "kitty" and self._kitty_id is not None:
            image_lines = imaging.kitty_placeholder_lines(self._kitty_id, cols, rows)
        elif mode in ("sixel", "iterm2", "kitty-direct"):
            image_lines = tuple((Segment(" " * cols, style),) for _ in range(rows))
        else:
            image_lines = prepared.lines
        blank = Strip.blank(width, style)
        pad_left = Segment(" " * left, style)
        pad_right = Segment(" " * (width - left - cols), style)
        lines = []
        for y in range(height):
            row = y - top
            if not 0 <= row < rows:
                lines.append(blank)
                continue
            image = Strip(image_lines[row]).crop_pad(cols, 0, 0, style)
            segments = [pad_left, *image, pad_right]
            lines.append(Strip([s for s in segments if s.text], width))
        if mode in ("sixel", "iterm2"):
            last = top + rows - 1
            if mode == "sixel":
                sequence = prepared.payload
            else:
                sequence = imaging.iterm2_sequence(
                    prepared.payload, cols, rows, tmux=imaging.graphics().tmux
                )
            # Zero-width control segments after the full width of text (see module notes):
            # go to the image's top-left cell, draw, then return to where Textual's next
            # text on this screen row continues (it does not reposition within a row).
            controls = [
                Control.move_to(region.x + left, region.y + top).segment.text,
                sequence,
                Control.move_to(region.x + width, region.y + last).segment.text,
            ]
            segments = [Segment(text, _NULL, _CONTROL) for text in controls]
            lines[last] = Strip([*lines[last], *segments], width)
        return lines


@dataclass(frozen=True)
class _Outcome:
    generation: int
    prepared: Prepared | None
    error: str | None


class ImagePreview(Widget):
    """Shows one image file (or a placeholder line) in its content region.

    ``protocol`` forces a protocol (tests use ``"halfcell"``); by default it is what
    :func:`imaging.init_terminal_graphics` chose. ``cache`` defaults to the shared one.
    """

    class Shown(Message):
        """An image was painted."""

        def __init__(
            self, preview: ImagePreview, path: Path, prepared: Prepared, from_cache: bool
        ) -> None:
            super().__init__()
            self.preview = preview
            self.path = path
            self.prepared = prepared
            self.from_cache = from_cache

        @property
        def control(self) -> ImagePreview:
            return self.preview

    class Failed(Message):
        """An image could not be shown; ``error`` is the text the preview displays."""

        def __init__(self, preview: ImagePreview, path: Path, error: str) -> None:
            super().__init__()
            self.preview = preview
            self.path = path
            self.error = error

        @property
        def control(self) -> ImagePreview:
            return self.preview

    EMPTY_TEXT: ClassVar[str] = "no image"
    LOADING_TEXT: ClassVar[str] = "loading…"

    def __init__(
        self,
        path: Path | None = None,
        *,
        protocol: Protocol | str | None = None,
        cache: ImageCache | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._protocol = Protocol(protocol) if protocol is not None else None
        self.cache = cache or imaging.shared_cache()
        self._path: Path | None = path
        self._version: str | int = 0
        self._generation = 0
        self.status: Status = "empty"
        self.error: str | None = None
        self._placeholder = Static(self.EMPTY_TEXT, classes="preview--placeholder", markup=False)
        self.canvas = ImageCanvas(id="preview-canvas")

    @property
    def protocol(self) -> Protocol:
        return self._protocol or imaging.graphics().protocol

    @property
    def path(self) -> Path | None:
        """The image asked for last."""
        return self._path

    @property
    def prepared(self) -> Prepared | None:
        """What is painted now."""
        return self.canvas.prepared

    def compose(self) -> ComposeResult:
        yield self._placeholder
        yield self.canvas

    def on_mount(self) -> None:
        self.canvas.display = False
        if self._path is not None:
            self._request()

    def show(self, path: Path | str | None, *, version: str | int = 0) -> None:
        """Show ``path`` (``None``: the empty placeholder). Whatever is painted stays up
        until the new pixels (or a draft of them) are ready, so changing images costs no
        layout pass; a new ``version`` of the same path (e.g. its mtime) reloads it; the
        same path and version again does nothing."""
        path = Path(path) if path is not None else None
        if path == self._path and version == self._version and self.status != "empty":
            return
        self._path, self._version = path, version
        if path is None:
            self._generation += 1
            self.workers.cancel_group(self, WORKER_GROUP)
            self._set_placeholder(self.EMPTY_TEXT, "empty")
            return
        self._request()

    def on_resize(self) -> None:
        if self._path is not None:
            self._request()

    def request_for(self, path: Path) -> Request | None:
        """What showing ``path`` asks the image cache for at the current size (a prefetch
        asks the same, so its work is found); None while there is no room."""
        width, height = self.content_size
        if not self.is_mounted or width <= 0 or height <= 0:
            return None
        graphics = imaging.graphics()
        protocol = self.protocol
        if protocol in _SCROLLING and self.content_region.bottom >= self.app.size.height:
            # A Sixel (or iTerm2) image whose last row is the terminal's last row makes
            # xterm scroll the whole screen up a line after drawing it (seen in xterm
            # 379, with or without mode 8452), so keep the bottom row clear.
            height = max(1, height - 1)
        bg = self.background_colors[1]
        return Request(
            path=path,
            cols=width,
            rows=height,
            protocol=protocol,
            cell_size=graphics.cell_size,
            background=(bg.r, bg.g, bg.b),
            max_pixels=graphics.sixel_max if protocol is Protocol.SIXEL else None,
        )

    def _request(self) -> None:
        """Ask for ``self._path`` at the current size; what is painted stays up meanwhile
        ("loading…" shows only when nothing is)."""
        path = self._path
        assert path is not None
        request = self.request_for(path)
        if request is None:
            return  # on_resize asks again once there is room
        self._generation += 1
        try:
            hit = imaging.lookup(request, self.cache)
        except ImageLoadError as exc:
            self.workers.cancel_group(self, WORKER_GROUP)
            self._fail(path, str(exc), keep_current=True)
            return
        if hit is not None:
            self.workers.cancel_group(self, WORKER_GROUP)
            self._paint(hit, from_cache=True)
            return
        if self.canvas.prepared is not None:
            self.status = "loading"
        else:
            self._set_placeholder(self.LOADING_TEXT, "loading")
        self._load(request, self._generation)

    @work(thread=True, exclusive=True, group=WORKER_GROUP, exit_on_error=False)
    def _load(self, request: Request, generation: int) -> _Outcome:
        worker = get_current_worker()
        try:
            if request.protocol.is_pixel and not self._showing(request.path):
                # Encoding pixels can take a while (Sixel: hundreds of ms for a large
                # image); put up half-cells of the same picture first (tens of ms).
                quick = replace(request, protocol=Protocol.HALFCELL)
                draft = imaging.prepare(quick, self.cache, lambda: worker.is_cancelled)
                if draft is not None and not worker.is_cancelled:
                    self.app.call_from_thread(self._paint_draft, draft, generation)
            prepared = imaging.prepare(request, self.cache, lambda: worker.is_cancelled)
        except ImageLoadError as exc:
            return _Outcome(generation, None, str(exc))
        except Exception as exc:  # never let a bad file take the app down
            return _Outcome(generation, None, f"cannot show {request.path.name}: {exc}")
        return _Outcome(generation, prepared, None)

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != WORKER_GROUP or worker.node is not self:
            return
        event.stop()
        if event.state is WorkerState.SUCCESS:
            outcome = worker.result
            if not isinstance(outcome, _Outcome) or outcome.generation != self._generation:
                return  # superseded: only the latest request paints
            if outcome.error is not None and self._path is not None:
                self._fail(self._path, outcome.error, keep_current=True)
            elif outcome.prepared is not None:
                self._paint(outcome.prepared, from_cache=False)
        elif event.state is WorkerState.ERROR and self._path is not None:
            self._fail(self._path, f"cannot show {self._path.name}: {worker.error}", False)

    def _showing(self, path: Path) -> bool:
        current = self.canvas.prepared
        return current is not None and current.path == path.resolve()

    def _paint_draft(self, draft: Prepared, generation: int) -> None:
        """Show a quick half-cell draft while the real pixels are encoded."""
        if generation != self._generation or self.status != "loading":
            return
        self.canvas.set_prepared(draft)
        self._placeholder.display = False
        self.canvas.display = True

    def _paint(self, prepared: Prepared, *, from_cache: bool) -> None:
        self.status = "shown"
        self.error = None
        self.canvas.set_prepared(prepared)
        self._placeholder.display = False
        self.canvas.display = True
        self.set_class(False, "-error")
        self.post_message(self.Shown(self, prepared.path, prepared, from_cache))

    def _fail(self, path: Path, error: str, keep_current: bool) -> None:
        """Show ``error``; a running job's preview caught mid-rewrite keeps its last
        good pixels instead."""
        self.error = error
        current = self.canvas.prepared
        if keep_current and current is not None and current.path == path.resolve():
            self.status = "shown"
        else:
            self._set_placeholder(error, "error")
            self.set_class(True, "-error")
        self.post_message(self.Failed(self, path, error))

    def _set_placeholder(self, text: str, status: Status) -> None:
        self.status = status
        if status != "error":
            self.error = None
            self.set_class(False, "-error")
        self._placeholder.update(printable(text, newlines=True))  # errors quote paths
        self._placeholder.display = True
        self.canvas.display = False
        self.canvas.set_prepared(None)
