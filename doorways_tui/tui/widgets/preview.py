"""``ImagePreview``: one image, as real pixels where the terminal can show them.

``show(path, version=...)`` asks for an image; decoding, scaling and encoding run in an
exclusive thread worker (a newer ``show`` cancels the older request, and only the
latest request paints), through :mod:`doorways_tui.tui.imaging`'s caches, so revisiting an
image paints at once without a worker. The image keeps its aspect ratio, centred in the
widget's content region, and is prepared again when that region changes size. Its
:class:`~doorways_tui.tui.widgets.image_canvas.ImageCanvas` paints it (how pixels reach the
terminal, protocol by protocol, is told there).

Try a terminal with ``python -m doorways_tui.tui.preview_demo IMAGE...``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar, Literal

from textual import on, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static
from textual.worker import Worker, WorkerState, get_current_worker

from doorways_tui.core.text import printable
from doorways_tui.tui import imaging
from doorways_tui.tui.imaging import ImageCache, ImageLoadError, Prepared, Protocol, Request
from doorways_tui.tui.widgets.image_canvas import ImageCanvas

#: The stylesheet for the preview and its canvas; an app lists it in ``CSS_PATH``.
PREVIEW_CSS_PATH = Path(__file__).with_name("preview.tcss")

WORKER_GROUP = "image-preview"

Status = Literal["empty", "loading", "shown", "error"]

# Protocols drawn at the cursor that scroll the screen if they end on its last row.
_SCROLLING = (Protocol.SIXEL, Protocol.ITERM2)


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
