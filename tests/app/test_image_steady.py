"""The loupe's and the compare screen's images stay put while nothing about them changes
(issue 13). In xterm's Sixel mode a repaint of an image's cells erases its pixels until the
image arrives again, so every repaint nobody asked for is a blink a person sees. The main
screen beneath keeps polling; an opaque screen over it must not be repainted by that
(``compat.textual.OpaqueScreensHide``). ``tests/terminal/blink_check.py`` measures the same
in a real xterm."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from doorways_tui.tui.imaging import Protocol
from doorways_tui.tui.screens.compare import CompareScreen
from doorways_tui.tui.screens.loupe import LoupeScreen
from doorways_tui.tui.widgets.image_canvas import ImageCanvas
from doorways_tui.tui.widgets.preview import ImagePreview
from tests.app_fixtures import main_screen, make_app, populate, settle


@pytest.fixture
def library() -> Path:
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root)
    return root


async def shown_in_pixels(pilot, screen_type: type) -> list[ImageCanvas]:
    """The canvases of the screen on top, once each shows its Sixel image."""
    for _ in range(200):
        await pilot.pause(0.02)
        screen = pilot.app.screen
        if not isinstance(screen, screen_type):
            continue
        previews = list(screen.query(ImagePreview))
        prepared = [p.prepared for p in previews]
        if previews and all(p is not None and p.protocol is Protocol.SIXEL for p in prepared):
            await pilot.pause(0.1)
            return [p.canvas for p in previews]
    raise AssertionError("the images were not shown in Sixel")


def count_polls(app) -> list[int]:
    """How many polls the main screen has taken since (its poller, wrapped)."""
    poller, taken = main_screen(app).poller, [0]
    snapshot = poller.snapshot

    def counting(*args, **kwargs):
        taken[0] += 1
        return snapshot(*args, **kwargs)

    poller.snapshot = counting
    return taken


@pytest.mark.parametrize(("key", "screen_type"), [("z", LoupeScreen), ("c", CompareScreen)])
async def test_the_poll_beneath_does_not_repaint_the_images(library, key, screen_type):
    app = make_app(poll_interval=0.05, preview_protocol="sixel")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        canvases = await shown_in_pixels(pilot, screen_type)
        drawn = [c.pixels_drawn for c in canvases]
        assert all(drawn)
        landed = count_polls(app)
        await pilot.pause(1.0)
        assert landed[0] >= 5  # the main screen beneath kept polling
        assert [c.pixels_drawn for c in canvases] == drawn  # and no image was sent again
        # What the poll changed meanwhile is painted when the screen beneath shows again.
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert app.screen is main_screen(app)
        assert main_screen(app).query_one(ImagePreview).canvas.pixels_drawn > 0


async def test_a_new_image_is_sent_once(library):
    """The half-cell draft is replaced by the Sixel image in one repaint, not two."""
    app = make_app(preview_protocol="sixel")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("z")
        (canvas,) = await shown_in_pixels(pilot, LoupeScreen)
        await pilot.pause(0.3)
        assert canvas.pixels_drawn == 1
