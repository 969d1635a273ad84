"""``ImageCanvas``: paints one prepared image (see :mod:`doorways_tui.tui.imaging`) centred
in its region, as real pixels where the terminal can show them. :class:`ImagePreview
<doorways_tui.tui.widgets.preview.ImagePreview>` holds one and decides what it shows.

How pixels reach the terminal (the protocol comes from :func:`imaging.graphics`, which
the app fills by calling :func:`imaging.init_terminal_graphics` before ``App.run()``):

* halfcell / unicode: ordinary coloured text cells.
* kitty (>= 0.28, and in tmux): the image is sent once, then drawn by Unicode
  placeholder cells, which are text to Textual, so clipping and overlays just work.
* kitty (older): the image is placed at a cursor position, and deleted whenever the
  canvas is hidden, covered by another screen or partly clipped. It is sent in the same
  write as its first placement (and again after a deletion): kitty 0.26 frees *every*
  image that has no placement whenever any image is deleted with its data (``d=I``), so
  an image sent ahead of its placement could vanish before it was placed (as four watch
  cells swapping previews at once did).
* sixel / iTerm2: the escape sequence rides in the frame Textual writes, as zero-width
  *control* segments appended after the full width of text on the image's last row.
  Textual's strip cropping counts the printable characters of a sequence as cells, so a
  sequence in an ordinary segment, or one with text after it, could be cut mid-way and
  the terminal would wait for its terminator, swallowing the screen. Placed last, after
  a full-width run of text, any cut falls in the text: the sequence is either written
  whole or (when Textual repaints only part of that row) not at all. It is written only
  when the whole canvas is visible and its screen is active; otherwise the half-cell
  stand-in is drawn instead.
"""

from __future__ import annotations

import contextlib

from rich.control import Control
from rich.segment import ControlType, Segment
from rich.style import Style
from textual.dom import NoScreen
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from doorways_tui.tui import imaging
from doorways_tui.tui.compat.textual import output_driver, visible_widgets
from doorways_tui.tui.imaging import Prepared, Protocol

_NULL = Style()
# Marks a segment as control (zero cells wide) with a cursor movement of nothing.
_CONTROL = [(ControlType.CURSOR_FORWARD, 0)]


class ImageCanvas(Widget, can_focus=False):
    """Paints a :class:`Prepared` image centred in its region (see the module notes)."""

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self._prepared: Prepared | None = None
        self._kitty_id: int | None = None
        self._kitty_placed = False  # the terminal holds our image, with a placement
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
        old_kitty = self._kitty_id if self._kitty_placed else None
        self._prepared = prepared
        self._kitty_id = None
        self._kitty_placed = False
        graphics = imaging.graphics()
        if prepared is not None and prepared.protocol is Protocol.KITTY:
            self._kitty_id = imaging.next_kitty_image_id()
            if graphics.kitty_placeholders:  # its virtual placement keeps it alive
                self._write(self._transmit(prepared))
                self._kitty_placed = True
            # else: sent with its first placement (see the module notes)
        if old_kitty is not None:
            self._write(imaging.kitty_delete(old_kitty, tmux=graphics.tmux))
        self.refresh()

    def _transmit(self, prepared: Prepared) -> str:
        graphics = imaging.graphics()
        assert self._kitty_id is not None
        return imaging.kitty_transmit(
            self._kitty_id,
            prepared.payload,
            prepared.cols,
            prepared.rows,
            placeholders=graphics.kitty_placeholders,
            tmux=graphics.tmux,
        )

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
        """Older kitty: take the image off the screen, data and all (it is sent again with
        its next placement; kept unplaced, any other image's deletion could free it)."""
        graphics = imaging.graphics()
        if self._kitty_placed and self._kitty_id is not None and not graphics.kitty_placeholders:
            self._kitty_placed = False
            self._write(imaging.kitty_delete(self._kitty_id, tmux=graphics.tmux))

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
        if self._kitty_id is not None and self._kitty_placed:
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
            if self._mode is not None and not whole:
                # Textual is repainting only part of us (an overlay came or went): repaint
                # all of it in the new mode. (A whole repaint is already all of it: another
                # would write the cells again, erasing a Sixel image until it is re-sent.)
                self.call_later(self.refresh)
            self._mode = mode
        if mode != "kitty-direct":
            self._unplace()
        key = (width, height, id(prepared), mode, region, style, self._kitty_id)
        if key != self._lines_key:
            self._lines = self._build(prepared, mode, width, height, left, top, region, style)
            self._lines_key = key
        if mode == "kitty-direct" and self._kitty_id is not None:
            place = imaging.kitty_place(
                self._kitty_id, region.x + left, region.y + top, tmux=imaging.graphics().tmux
            )  # placing it again moves it
            # One write: nothing can come between the image and its placement.
            self._write(place if self._kitty_placed else self._transmit(prepared) + place)
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
