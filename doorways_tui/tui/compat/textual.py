"""Textual's private names (pinned ``textual>=8.2,<9``), each where Textual has no public
way to do what the app needs. Contract tests: ``tests/unit/test_compat.py`` and, for the
names that need a running app, ``tests/app/test_compat_app.py``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from textual.widgets._footer import FooterKey

if TYPE_CHECKING:
    from textual.app import App
    from textual.driver import Driver
    from textual.geometry import Region
    from textual.screen import Screen
    from textual.widget import Widget

__all__ = [
    "FooterKey",
    "OpaqueScreensHide",
    "app_keymap",
    "drop_bindings",
    "output_driver",
    "visible_widgets",
]

# 1. ``FooterKey`` (textual.widgets._footer): the footer's key widget, which the compact
#    footer reorders. Re-exported as is.


def app_keymap(app: App) -> Mapping[str, str]:
    """2. ``App._keymap``: the keymap ``set_keymap`` stored, keys normalised like the
    bindings' (``"?"`` -> ``"question_mark"``); Textual offers no getter."""
    return app._keymap


def output_driver(app: App) -> Driver | None:
    """3. ``App._driver``: the driver whose ``write`` puts bytes on the terminal in order
    with Textual's frames (how the preview places Kitty and Sixel images). None before the
    app runs."""
    return app._driver


def visible_widgets(screen: Screen) -> Mapping[Widget, tuple[Region, Region]]:
    """4. ``Screen._compositor.visible_widgets``: the widgets on screen, front to back,
    with their regions and clip regions (is anything drawn over an image?)."""
    return screen._compositor.visible_widgets


def drop_bindings(widget: Widget, keys: Iterable[str]) -> None:
    """5. ``Widget._bindings.key_to_bindings``: remove ``keys`` from one widget instance's
    own bindings, so they reach the screen (Textual can only add bindings at run time)."""
    for key in keys:
        widget._bindings.key_to_bindings.pop(key, None)


class OpaqueScreensHide:
    """6. ``App._background_screens``: the screens Textual treats as visible beneath the
    top one. Textual always counts the screen right below, even when the top screen is
    opaque, and forwards every repaint of it to the top screen as a repaint of the same
    regions. Under the loupe, the main screen's poll (every 0.5 s) thus repainted the
    loupe's whole screen; each repaint writes the cells under a Sixel image (which erases
    its pixels in xterm) and sends the image again, so the picture blinked. Mixed into
    the app before ``App``: beneath an opaque screen nothing is visible, so nothing is
    counted (a translucent modal screen still shows, and repaints, what is below)."""

    @property
    def _background_screens(self) -> list[Screen]:
        screens: list[Screen] = super()._background_screens  # type: ignore[misc]
        try:
            top = self.screen  # type: ignore[attr-defined]
        except Exception:  # no screen yet (ScreenStackError)
            return screens
        return [] if top.styles.background.a >= 1 else screens
