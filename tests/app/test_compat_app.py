"""Contract tests for the three private Textual names that need a running app (the rest are
in ``tests/unit/test_compat.py``)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static


class _Two(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("under", id="under")
        yield Static("over", id="over")


async def test_output_driver_writes_in_order_with_the_frames():
    from doorways_tui.tui.compat.textual import output_driver

    app = _Two()
    async with app.run_test():
        driver = output_driver(app)
        assert driver is not None and driver.is_headless  # the preview writes nothing then
        driver.write("")  # what the preview calls


async def test_visible_widgets_lists_the_widgets_on_screen_with_regions():
    from textual.geometry import Region

    from doorways_tui.tui.compat.textual import visible_widgets

    app = _Two()
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        widgets = visible_widgets(app.screen)
        under = app.query_one("#under")
        assert under in widgets
        region, clip = widgets[under]
        assert isinstance(region, Region) and isinstance(clip, Region)
        assert region.width == 40
        app.query_one("#over").display = False
        await pilot.pause()
        assert app.query_one("#over") not in visible_widgets(app.screen)


async def test_opaque_screens_hide_the_screens_beneath():
    from textual.screen import ModalScreen, Screen

    from doorways_tui.tui.compat.textual import OpaqueScreensHide

    class _Hiding(OpaqueScreensHide, _Two):
        pass

    for app, beneath_opaque in ((_Two(), True), (_Hiding(), False)):
        async with app.run_test() as pilot:
            base = app.screen
            await app.push_screen(ModalScreen())  # translucent: what is beneath shows
            await pilot.pause()
            assert app._background_screens == [base] and base.is_current
            app.pop_screen()
            await app.push_screen(Screen())
            await pilot.pause()
            # Textual's own count (what the mixin corrects: if this ever fails for the
            # plain app, Textual stopped counting hidden screens and the mixin can go).
            assert (app._background_screens == [base]) is beneath_opaque
            assert base.is_current is beneath_opaque
