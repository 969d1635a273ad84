"""Text from the library or a file never drives the terminal (issue 11).

Rows are planted with SQL, past every check where text enters, as an old library or
another writer would leave them: a prompt, theme name, error, note and worker name that
set the window title (OSC 0/2), write the clipboard (OSC 52), clear the screen (CSI 2J,
also as the 8-bit CSI 0x9b) and reverse the text (U+202E). Whatever shows them (the CLI,
the app, a real terminal) must show escapes instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from textual.widgets import Input

from doorways_tui.core.text import printable
from doorways_tui.tui.screens.compare import CompareScreen
from doorways_tui.tui.screens.loupe import LoupeScreen
from doorways_tui.tui.widgets.variant_tree import VariantTree
from tests.app_fixtures import main_screen, make_app, poll, settle
from tests.escapes_shared import (
    PAYLOAD,
    THEME,
    assert_inert,
    plant_app_library,
)

# Textual's own output: cursor moves (always with a row and a column) and colours.
_TEXTUALS_OWN = re.compile(r"\x1b\[\d+;\d+H|\x1b\[[\d;]*m")


def frame(app) -> str:
    """What Textual writes to the terminal for the whole screen now (the headless driver
    drops it, so render it the way the real driver does), less its own sequences."""
    update = app.screen._compositor.render_update(full=True)
    return _TEXTUALS_OWN.sub("", update.render_segments(app.console))


def assert_frame_inert(app, *shown: str) -> str:
    text = frame(app)
    assert_inert(text)
    for part in shown:
        assert part in text, f"{part!r} is not on the screen:\n{text}"
    return text


@pytest.fixture
def planted() -> tuple[Path, dict[str, int]]:
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    return root, plant_app_library(root)


async def test_main_screen_shows_planted_text_as_escapes(planted):
    root, jobs = planted
    app = make_app()
    async with app.run_test(size=(180, 50)) as pilot:
        await settle(pilot)
        await poll(pilot)
        # the tree (themes, prompts, edits), the details (prompt, style, theme, note), the
        # queue panel (worker, running prompt, next prompts, latest failure)
        shown = assert_frame_inert(app, "\\x1b]0;PWNED", "\\u202e")
        assert "note\\x1b]0;PWNED" in shown  # the note keeps its newline, not its escapes
        tree = app.screen.query_one(VariantTree)
        tree._variants[1].expand()
        await settle(pilot)
        assert tree.select_job(1, jobs["failed"])
        await settle(pilot)
        # the failed seed: its error in the details, a line in the status bar
        assert_frame_inert(app, "boom\\x1b]0;PWNED", "failed")


async def test_dialogs_and_screens_show_planted_text_as_escapes(planted):
    from doorways_tui.tui.screens.edit_prompt import EditPromptScreen
    from doorways_tui.tui.screens.export_dialog import ExportDialog

    app = make_app()
    async with app.run_test(size=(180, 50)) as pilot:
        await settle(pilot)
        prompt = main_screen(app).detail.variant.prompt
        assert PAYLOAD in prompt  # the planted row, read back raw
        for key, screen_type in (("z", LoupeScreen), ("c", CompareScreen)):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen_type)
            assert_frame_inert(app)
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, EditPromptScreen)
        assert_frame_inert(app, "\\x1b]0;PWNED")
        assert dialog.query_one("#edit-text", Input).value == printable(prompt)
        assert dialog.base_text() == prompt  # untouched, the edit starts from the prompt
        await pilot.press("escape")
        await settle(pilot)
        main_screen(app).session.view = main_screen(app).session.view.with_text(PAYLOAD)
        await pilot.press("f")
        await settle(pilot)
        assert_frame_inert(app, "\\x1b]0;PWNED")  # the filter menu quotes the search
        await pilot.press("escape", "E")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        assert_frame_inert(app, "\\x1b]0;PWNED")


async def test_notifications_and_the_status_line_are_plain_and_printable(planted):
    app = make_app()
    async with app.run_test(size=(180, 50), notifications=True) as pilot:
        await settle(pilot)
        app.report_error(RuntimeError(f"cannot read {PAYLOAD} [@click=app.quit]x[/]"))
        main_screen(app).notify(f"from a screen {PAYLOAD}", title=f"title {PAYLOAD}")
        main_screen(app).say("[b]not bold[/b] \x1b]0;PWNED\x07")
        await pilot.pause(0.3)
        toasts = list(app._notifications)
        assert [n.markup for n in toasts] == [False, False]
        assert toasts[1].title.startswith("title \\x1b]0;PWNED")
        for toast in toasts:
            assert_inert(toast.message + toast.title)
        shown = assert_frame_inert(app, "cannot read", "from a screen", "title", "\\x1b]0;PWNED")
        assert "[@click=app.quit]x[/]" in shown  # shown as typed, not read as markup
        assert "[b]not bold[/b] \\x1b]0;PWNED\\x07" in shown  # the status line


async def test_new_theme_dialog_shows_a_theme_files_text_as_escapes(tmp_path):
    from textual.app import App

    from doorways_tui.tui.screens.new_theme import NewThemeScreen

    path = tmp_path / "evil.toml"
    path.write_text(THEME, encoding="utf-8")
    app = App()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = NewThemeScreen()
        app.push_screen(screen)
        await pilot.pause()
        screen.source = "file"
        screen.query_one("#path", Input).value = str(path)
        for _ in range(200):  # until the count (a thread; the latest one wins) is shown
            await pilot.pause(0.05)
            if "counting" not in str(screen.query_one("#count").render()):
                break
        # counted and shown escaped, or refused at the door naming the character: never raw
        text = assert_frame_inert(app)
        assert "\\x1b" in text or "control character (U+001B)" in text
