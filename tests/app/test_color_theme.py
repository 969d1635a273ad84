"""Textual's colour theme: the one in the settings is used, a theme chosen in the app is
saved to the config file, and an unknown name is a warning, not a failure."""

from __future__ import annotations

import os
from pathlib import Path

from doorways_tui.core.settings import load_settings
from tests.app_fixtures import make_app


def _config() -> Path:
    return Path(os.environ["DOORWAYS_CONFIG"])


async def test_the_settings_theme_is_used_and_a_new_choice_is_saved():
    _config().write_text('color_theme = "nord"\n')
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == "nord"
        assert _config().read_text() == 'color_theme = "nord"\n'  # nothing written at start
        app.theme = "gruvbox"
        await pilot.pause()
    assert load_settings().color_theme == "gruvbox"


async def test_an_unknown_theme_is_a_warning_and_the_default_stays():
    _config().write_text('color_theme = "no-such-theme"\n')
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == "textual-dark"
        warnings = [n for n in app._notifications if n.severity == "warning"]
        assert any("no-such-theme" in n.message for n in warnings)
    assert _config().read_text() == 'color_theme = "no-such-theme"\n'
