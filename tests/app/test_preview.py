"""ImagePreview under Pilot: real PNGs, bad files, rapid switching, caching, resizing, and
the rule that keeps pixel escape sequences whole."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.widgets import Static
from textual.worker import WorkerCancelled, WorkerFailed

from doorways_tui.tui import imaging
from doorways_tui.tui.imaging import ImageCache, Protocol, TerminalGraphics
from doorways_tui.tui.widgets.preview import PREVIEW_CSS_PATH, ImagePreview


def make_png(path: Path, size=(64, 32), left=(255, 0, 0), right=(0, 0, 255)) -> Path:
    image = Image.new("RGB", size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    image.save(path)
    return path


class PreviewApp(App[None]):
    CSS_PATH = PREVIEW_CSS_PATH

    def __init__(self, protocol: str = "halfcell", cache: ImageCache | None = None) -> None:
        super().__init__()
        self.protocol = protocol
        self.cache = cache or ImageCache()
        self.events: list[tuple[str, str, bool | str]] = []

    def compose(self) -> ComposeResult:
        yield ImagePreview(protocol=self.protocol, cache=self.cache)

    def on_image_preview_shown(self, event: ImagePreview.Shown) -> None:
        self.events.append(("shown", event.path.name, event.from_cache))

    def on_image_preview_failed(self, event: ImagePreview.Failed) -> None:
        self.events.append(("failed", event.path.name, event.error))

    @property
    def preview(self) -> ImagePreview:
        return self.query_one(ImagePreview)


async def settle(pilot) -> None:
    """Wait for the preview's workers (cancelled ones included) and the repaint."""
    while running := [w for w in pilot.app.workers if not w.is_finished]:
        with contextlib.suppress(WorkerCancelled, WorkerFailed):
            await running[0].wait()
    await pilot.pause()


def placeholder_text(preview: ImagePreview) -> str:
    return str(preview._placeholder.render())


@pytest.fixture(autouse=True)
def no_terminal():
    """Tests never talk to a terminal: default graphics (10x20 px cells)."""
    imaging.set_graphics(None)
    yield
    imaging.set_graphics(None)


async def test_shows_a_png_in_half_cells_keeping_its_shape(tmp_path):
    path = make_png(tmp_path / "a.png", size=(64, 32))
    app = PreviewApp()
    async with app.run_test(size=(40, 20)) as pilot:
        assert placeholder_text(app.preview) == "no image"
        app.preview.show(path)
        assert app.preview.status == "loading"
        assert placeholder_text(app.preview) == "loading…"
        await settle(pilot)
        preview = app.preview
        assert preview.status == "shown" and preview.error is None
        # 2:1 image, 40x20 cells of 10x20 px: 400x400 px of room -> 400x200 px = 40x10 cells.
        assert (preview.prepared.cols, preview.prepared.rows) == (40, 10)
        assert preview.canvas.display and not preview._placeholder.display
        lines = preview.canvas.render_lines(Region(0, 0, 40, 20))
        assert [line.cell_length for line in lines] == [40] * 20
        middle = list(lines[10])  # centred: rows 5-14 hold the image
        assert middle[0].text.startswith("▀") and middle[0].style.color.triplet == (255, 0, 0)
        assert middle[-1].style.color.triplet == (0, 0, 255)
        assert lines[0].text.strip() == ""
        assert app.events == [("shown", "a.png", False)]


async def test_missing_and_corrupt_files_show_their_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    app = PreviewApp()
    async with app.run_test(size=(60, 10)) as pilot:
        app.preview.show(tmp_path / "gone.png")
        await settle(pilot)
        assert app.preview.status == "error"
        assert placeholder_text(app.preview) == "image not found: gone.png"
        assert app.preview.has_class("-error")
        app.preview.show(bad)
        await settle(pilot)
        assert app.preview.status == "error"
        assert placeholder_text(app.preview) == "cannot read bad.png: not an image"
        app.preview.show(None)
        await pilot.pause()
        assert app.preview.status == "empty" and placeholder_text(app.preview) == "no image"
        assert not app.preview.has_class("-error")
        assert [e[0] for e in app.events] == ["failed", "failed"]


async def test_rapid_switching_paints_only_the_last_image(tmp_path, monkeypatch):
    paths = [make_png(tmp_path / f"{n}.png", left=(n * 40, 0, 0)) for n in range(5)]
    slow = paths[0]
    real_decode = imaging.decode
    started = threading.Event()

    def decode(path):
        if path == slow:  # the first request is still decoding when the last one lands
            started.set()
            time.sleep(0.4)
        return real_decode(path)

    monkeypatch.setattr(imaging.pipeline, "decode", decode)  # where prepare() finds it
    app = PreviewApp()
    async with app.run_test(size=(40, 20)) as pilot:
        for path in paths:
            app.preview.show(path)
            if path == slow:
                assert await asyncio.to_thread(started.wait, 2)
        await settle(pilot)
        assert app.preview.prepared.path == paths[-1].resolve()
        assert app.preview.path == paths[-1]
        # Nothing stale painted, before or after the last one.
        assert [e for e in app.events if e[0] == "shown"] == [("shown", "4.png", False)]
        # Superseded requests that had not started were never decoded.
        assert app.cache.decoded.misses < len(paths)


async def test_revisiting_an_image_paints_from_the_cache_at_once(tmp_path):
    a, b = make_png(tmp_path / "a.png"), make_png(tmp_path / "b.png", left=(0, 255, 0))
    app = PreviewApp()
    async with app.run_test(size=(40, 20)) as pilot:
        app.preview.show(a)
        await settle(pilot)
        app.preview.show(b)
        await settle(pilot)
        decodes = app.cache.decoded.misses
        app.preview.show(a)
        # No worker, no await: painted in the call.
        assert app.preview.status == "shown"
        assert app.preview.prepared.path == a.resolve()
        await settle(pilot)
        assert app.cache.decoded.misses == decodes
        assert app.events[-1] == ("shown", "a.png", True)


async def test_a_new_image_replaces_the_old_one_without_a_loading_placeholder(tmp_path):
    a, b = make_png(tmp_path / "a.png"), make_png(tmp_path / "b.png", left=(0, 255, 0))
    app = PreviewApp()
    async with app.run_test(size=(40, 20)) as pilot:
        app.preview.show(a)
        await settle(pilot)
        first = app.preview.prepared
        app.preview.show(b)
        # a stays up (no display change, so no layout pass) until b is ready.
        assert app.preview.status == "loading" and app.preview.prepared is first
        assert app.preview.canvas.display and not app.preview._placeholder.display
        await settle(pilot)
        assert app.preview.status == "shown"
        assert app.preview.prepared.path == b.resolve()
        assert app.events == [("shown", "a.png", False), ("shown", "b.png", False)]


async def test_the_same_path_and_version_is_not_reloaded_but_a_new_version_is(tmp_path):
    path = make_png(tmp_path / "live.png", left=(255, 0, 0), right=(255, 0, 0))
    app = PreviewApp()
    async with app.run_test(size=(20, 10)) as pilot:
        app.preview.show(path, version=1)
        await settle(pilot)
        first = app.preview.prepared
        app.preview.show(path, version=1)
        assert app.preview.prepared is first and len(app.events) == 1
        # A running job rewrites its preview in place.
        make_png(path, left=(0, 255, 0), right=(0, 255, 0))
        os.utime(path, ns=(1, first.key.mtime_ns + 1_000_000_000))
        app.preview.show(path, version=2)
        # The old pixels stay up while the new version loads: no flash of "loading…".
        assert app.preview.status == "loading" and app.preview.prepared is first
        assert app.preview.canvas.display
        await settle(pilot)
        assert app.preview.prepared is not first
        assert app.preview.prepared.lines[0][0].style.color.triplet == (0, 255, 0)


async def test_a_failed_reload_keeps_the_last_good_pixels(tmp_path):
    path = make_png(tmp_path / "live.png")
    app = PreviewApp()
    async with app.run_test(size=(20, 10)) as pilot:
        app.preview.show(path, version=1)
        await settle(pilot)
        good = app.preview.prepared
        path.write_bytes(b"half written")
        app.preview.show(path, version=2)
        await settle(pilot)
        assert app.preview.prepared is good and app.preview.canvas.display
        assert app.preview.error == "cannot read live.png: not an image"
        assert app.events[-1][0] == "failed"


async def test_resizing_fits_the_image_again(tmp_path):
    path = make_png(tmp_path / "a.png", size=(64, 32))
    app = PreviewApp()
    async with app.run_test(size=(40, 20)) as pilot:
        app.preview.show(path)
        await settle(pilot)
        assert (app.preview.prepared.cols, app.preview.prepared.rows) == (40, 10)
        await pilot.resize_terminal(20, 20)
        await settle(pilot)
        assert (app.preview.prepared.cols, app.preview.prepared.rows) == (20, 5)
        await pilot.resize_terminal(80, 6)
        await settle(pilot)
        # Height-limited now: 6 rows of 20 px = 120 px high, 240 px wide = 24 cells.
        assert (app.preview.prepared.cols, app.preview.prepared.rows) == (24, 6)


# -- Sixel: the escape sequence must never be cut -------------------------------------


def sequences_in(segments) -> list[str]:
    return [s.text for s in segments if "\x1bP" in s.text or s.text.endswith("\x1b\\")]


async def test_sixel_rides_whole_at_the_end_of_the_last_image_row(tmp_path):
    path = make_png(tmp_path / "a.png", size=(64, 64))
    app = PreviewApp(protocol="sixel")
    async with app.run_test(size=(40, 20)) as pilot:
        app.preview.show(path)
        await settle(pilot)
        canvas = app.preview.canvas
        width, height = canvas.size
        lines = canvas.render_lines(Region(0, 0, width, height))
        carrying = [y for y, line in enumerate(lines) if sequences_in(line)]
        prepared = app.preview.prepared
        top = (height - prepared.rows) // 2
        assert carrying == [top + prepared.rows - 1]
        # Drawn on the terminal's last row it would scroll the screen: that row stays clear.
        assert canvas.region.bottom == app.size.height == 20
        assert top + prepared.rows <= 19
        last = list(lines[carrying[0]])
        assert last[-2].text == prepared.payload and last[-2].control
        assert all(s.control for s in last[-3:])
        assert sum(s.cell_length for s in last) == width
        # Every way Textual cuts a line (crop for partial updates, divide at widget
        # edges) either keeps the sequence whole or drops it: never half of it.
        strip = lines[carrying[0]]
        for start in range(width):
            for end in range(start + 1, width + 1):
                for text in sequences_in(strip.crop(start, end)):
                    assert text == prepared.payload
        for cut in range(1, width):
            for part in strip.divide([cut, width]):
                for text in sequences_in(part):
                    assert text == prepared.payload
        # Textual's own renders of the screen carry it once.
        assert canvas.pixels_drawn >= 1


async def test_sixel_gives_way_to_half_cells_when_not_wholly_visible(tmp_path):
    path = make_png(tmp_path / "a.png", size=(64, 32))
    app = PreviewApp(protocol="sixel")
    async with app.run_test(size=(40, 20)) as pilot:
        app.preview.show(path)
        await settle(pilot)
        canvas = app.preview.canvas
        partial = canvas.render_lines(Region(0, 0, 40, 12))
        assert not any(sequences_in(line) for line in partial)
        assert any("▀" in line.text for line in partial)
        # Under a modal screen the pixels would be drawn over the dialog.
        await app.push_screen(ModalScreen())
        await pilot.pause()
        covered = canvas.render_lines(Region(0, 0, 40, 20))
        assert not any(sequences_in(line) for line in covered)
        assert any("▀" in line.text for line in covered)


async def test_an_overlay_over_the_image_turns_pixels_into_half_cells(tmp_path):
    """A toast over a Sixel image: pixels would be drawn over the toast's text."""
    path = make_png(tmp_path / "a.png", size=(64, 64))
    app = PreviewApp(protocol="sixel")
    async with app.run_test(size=(40, 20), notifications=True) as pilot:
        app.preview.show(path)
        await settle(pilot)
        canvas = app.preview.canvas
        full = Region(0, 0, *canvas.size)
        assert any(sequences_in(line) for line in canvas.render_lines(full))
        app.notify("job 12 finished", timeout=30)
        await pilot.pause(0.2)
        covered = canvas.render_lines(full)
        assert not any(sequences_in(line) for line in covered)
        assert any("▀" in line.text for line in covered)
        app.clear_notifications()
        await pilot.pause(0.2)
        assert any(sequences_in(line) for line in canvas.render_lines(full))


async def test_an_image_larger_than_its_canvas_is_never_sent(tmp_path):
    """Between a shrink and the re-fit, the old pixels would spill over the neighbours."""
    path = make_png(tmp_path / "a.png", size=(64, 32))
    app = PreviewApp(protocol="sixel")
    async with app.run_test(size=(40, 20)) as pilot:
        app.preview.show(path)
        await settle(pilot)
        big = app.preview.prepared
        app.preview.canvas.styles.width = 10  # the canvas shrinks, the preview does not
        await pilot.pause()
        assert app.preview.canvas.prepared is big and big.cols == 40
        lines = app.preview.canvas.render_lines(Region(0, 0, 10, 20))
        assert not any(sequences_in(line) for line in lines)
        assert [line.cell_length for line in lines] == [10] * 20


async def test_half_cells_stand_in_while_the_sixel_is_encoded(tmp_path, monkeypatch):
    import textual_image._sixel as sixel

    release = threading.Event()
    real = sixel.image_to_sixels

    def slow_encode(*args, **kwargs):
        release.wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(sixel, "image_to_sixels", slow_encode)
    path = make_png(tmp_path / "a.png", size=(64, 64))
    app = PreviewApp(protocol="sixel")
    async with app.run_test(size=(40, 20)) as pilot:
        app.preview.show(path)
        for _ in range(100):
            await pilot.pause(0.02)
            if app.preview.prepared is not None:
                break
        draft = app.preview.prepared
        assert draft is not None and draft.protocol is Protocol.HALFCELL
        assert app.preview.status == "loading" and app.preview.canvas.display
        assert app.events == []
        release.set()
        await settle(pilot)
        assert app.preview.prepared.protocol is Protocol.SIXEL
        assert app.preview.status == "shown"
        assert app.events == [("shown", "a.png", False)]


# -- Kitty -----------------------------------------------------------------------------


def capture_writes(canvas) -> list[str]:
    written: list[str] = []
    canvas._write = written.append
    return written


async def test_kitty_sends_the_image_once_and_draws_placeholders(tmp_path):
    imaging.set_graphics(TerminalGraphics(protocol=Protocol.KITTY, kitty_placeholders=True))
    a, b = make_png(tmp_path / "a.png"), make_png(tmp_path / "b.png", left=(0, 255, 0))
    app = PreviewApp(protocol="kitty")
    async with app.run_test(size=(40, 20)) as pilot:
        written = capture_writes(app.preview.canvas)
        app.preview.show(a)
        await settle(pilot)
        first_id = app.preview.canvas._kitty_id
        assert len(written) == 1 and f"i={first_id}" in written[0] and "U=1" in written[0]
        lines = app.preview.canvas.render_lines(Region(0, 0, 40, 20))
        cells = [s for line in lines for s in line if "\U0010eeee" in s.text]
        assert cells and all(s.style.color.number == first_id for s in cells)
        await pilot.pause()
        assert len(written) == 1  # repainting sends nothing more
        app.preview.show(b)
        await settle(pilot)
        assert imaging.kitty_delete(first_id) in written[1:]  # the old image is freed
        assert app.preview.canvas._kitty_id != first_id
        assert f"i={app.preview.canvas._kitty_id}," in written[-1]


async def test_old_kitty_places_at_the_cursor_and_unplaces_when_covered(tmp_path):
    imaging.set_graphics(TerminalGraphics(protocol=Protocol.KITTY, kitty_placeholders=False))
    path = make_png(tmp_path / "a.png")

    class Covering(ModalScreen):
        def compose(self) -> ComposeResult:
            yield Static("dialog")

    app = PreviewApp(protocol="kitty")
    async with app.run_test(size=(40, 20)) as pilot:
        written = capture_writes(app.preview.canvas)
        app.preview.show(path)
        await settle(pilot)
        image_id = app.preview.canvas._kitty_id
        assert "U=1" not in written[0]
        placed = [w for w in written if "a=p" in w]
        assert placed and placed[-1].startswith("\x1b7\x1b[6;1H")  # row 5, column 0
        assert app.preview.canvas._kitty_placed
        await app.push_screen(Covering())
        await pilot.pause()
        assert written[-1] == imaging.kitty_delete(image_id)  # sent again when shown again
        assert not app.preview.canvas._kitty_placed
        deleted = len(written)
        app.pop_screen()
        await pilot.pause()
        again = written[deleted]
        assert again.startswith(f"\x1b_Ga=t,f=100,i={image_id},") and "a=p" in again
        assert app.preview.canvas._kitty_placed


class Kitty026:
    """The image store of kitty 0.26 (Debian's; no placeholders), as far as the canvas
    uses it: a delete that frees data (``d=I``) frees every image left without a
    placement, not only the one named; placing an image it does not hold shows nothing."""

    def __init__(self) -> None:
        self.images: dict[int, int] = {}  # image id -> placements
        self.missing: list[int] = []  # placed, but not held

    def write(self, data: str) -> None:
        for keys in re.findall(r"\x1b_G([^;\x1b]*)", data):
            fields = dict(kv.split("=", 1) for kv in keys.split(","))
            image = int(fields.get("i", 0))
            action = fields.get("a")
            if action == "t":
                self.images[image] = 0
            elif action == "p":
                if image in self.images:
                    self.images[image] = 1  # placement id 1: placing again moves it
                else:
                    self.missing.append(image)
            elif action == "d" and image in self.images:
                self.images[image] = 0
                if fields["d"] == "I":
                    self.images = {i: n for i, n in self.images.items() if n}


async def test_old_kitty_images_survive_each_others_deletion(tmp_path):
    """Four watch cells swapping previews at once: each new image must still be held by
    kitty when it is placed, whatever the other cells deleted meanwhile."""
    imaging.set_graphics(TerminalGraphics(protocol=Protocol.KITTY, kitty_placeholders=False))
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]

    class Grid(App[None]):
        CSS_PATH = PREVIEW_CSS_PATH

        def compose(self) -> ComposeResult:
            for _ in colours:
                yield ImagePreview(protocol="kitty", cache=ImageCache())

    kitty = Kitty026()
    app = Grid()
    async with app.run_test(size=(40, 40)) as pilot:
        previews = list(app.query(ImagePreview))
        for preview in previews:
            preview.canvas._write = kitty.write
        for version in range(3):
            for n, (preview, colour) in enumerate(zip(previews, colours, strict=True)):
                path = make_png(tmp_path / f"{n}-{version}.png", left=colour)
                preview.show(path, version=version)
            await settle(pilot)
            await pilot.pause()
            assert kitty.missing == []
            shown = {p.canvas._kitty_id for p in previews}
            assert len(shown) == 4 and all(kitty.images.get(i) == 1 for i in shown)


# -- what a person sees (half-cells are deterministic) ---------------------------------


def test_snapshot_half_cell_preview(snap_compare, tmp_path):
    path = tmp_path / "card.png"
    image = Image.new("RGB", (96, 48), (30, 30, 120))
    image.paste((220, 40, 40), (0, 0, 16, 16))
    image.paste((240, 220, 40), (80, 32, 96, 48))
    image.save(path)

    class SnapApp(PreviewApp):
        def compose(self) -> ComposeResult:
            yield ImagePreview(path, protocol="halfcell", cache=self.cache)

    async def loaded(pilot) -> None:
        await settle(pilot)

    assert snap_compare(SnapApp(), terminal_size=(40, 14), run_before=loaded)
