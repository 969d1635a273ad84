"""The remaining keys (new theme, quit, dialogs' own keys), and the rules every binding
follows in the running app: a palette entry for each."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from doorways_tui.store import Library
from doorways_tui.tui.commands import DoorwaysCommands, commands
from doorways_tui.tui.keys import MAIN_BINDINGS
from doorways_tui.tui.screens.compare import CompareScreen
from doorways_tui.tui.screens.export_dialog import ExportDialog
from doorways_tui.tui.screens.init_image import InitImageScreen
from doorways_tui.tui.screens.loupe import LoupeScreen
from doorways_tui.tui.screens.main import MainScreen
from doorways_tui.tui.screens.start_worker import StartWorkerScreen
from doorways_tui.tui.widgets.compare_pane import ComparePane
from tests.app_fixtures import FakeLauncher, main_screen, make_app, poll, populate, settle


@pytest.fixture
def library() -> Path:
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root)
    return root


async def test_every_main_action_is_in_the_palette(library):
    from doorways_tui.tui.commands import DoorwaysCommands, commands

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        provider = DoorwaysCommands(app.screen)
        names = [name for name, _, help_text in commands(provider)]
        helps = " ".join(help_text for _, _, help_text in commands(provider))
        for binding in MAIN_BINDINGS:
            assert binding.id in helps, binding.id
        assert "filter: starred" in names and "filter: 3 doors" in names
        assert any(name.startswith("app: help") for name in names)


async def test_the_palette_finds_seed_images_under_the_init_dialog(library):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        provider = DoorwaysCommands(app.screen)
        (run,) = [run for name, run, _ in commands(provider) if "seed image" in name]
        await run()  # the same action as the key i
        await settle(pilot)
        assert isinstance(app.screen, InitImageScreen)
        await pilot.press("1")
        await settle(pilot)
        assert Path(app.screen.field).name == "seed-image-000001-1-on.png"


async def test_searching_the_palette_for_theme_tells_prompt_themes_from_colour_themes(library):
    """Textual's colour "Theme" and ours share the palette: every entry of ours that a
    search for "theme" finds says "prompt theme", and each theme of the tree is one to go
    to."""
    from textual.command import CommandList, CommandPalette

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"theme")
        shown: list[str] = []
        for _ in range(50):  # the palette searches in a worker
            await pilot.pause(0.05)
            options = app.screen.query_one(CommandList).options
            shown = [str(option.prompt).split("\n")[0] for option in options]
            if any("doors" in text for text in shown):
                break
        ours = [text for text in shown if ":" in text]
        textuals = [text for text in shown if ":" not in text]
        assert "go: prompt theme 'doors'" in ours, shown
        assert any(text.startswith("library: New prompt theme") for text in ours), shown
        # the search is fuzzy ("t…h…e…m…e" matches many): judge the entries naming a theme
        naming = [text for text in ours if "theme" in text.lower()]
        assert len(naming) >= 3 and all("prompt theme" in text for text in naming), naming
        assert any("Theme" in text for text in textuals), shown
        assert not any("prompt" in text for text in textuals), shown
        await pilot.press("escape")
        await pilot.pause()
        screen = main_screen(app)
        provider = DoorwaysCommands(screen)
        (go,) = [run for name, run, _ in commands(provider) if name == "go: prompt theme 'doors'"]
        go()
        await settle(pilot)
        assert screen.session.scope.kind == "theme" and screen.session.scope.label == "doors"


async def test_T_opens_the_new_theme_dialog_and_it_queues(library):
    from doorways_tui.tui.screens.new_theme import NewThemeScreen

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        assert isinstance(app.screen, NewThemeScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        request = app.screen.request
        assert request is not None
        await pilot.press("ctrl+s")  # the dialog's "queue from anywhere" key
        await settle(pilot)
        if isinstance(app.screen, NewThemeScreen):  # models not downloaded: it asked first
            await pilot.press("ctrl+s")
            await settle(pilot)
        theme = app.library.tree.theme_by_name(request.theme.name)
        assert theme is not None
        assert len(app.library.queue.jobs(status="queued", limit=10_000)) == request.job_count
        assert any("job(s) queued" in str(n.message) for n in app._notifications)


async def test_q_quits(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


async def test_loupe_closes_with_z_and_q(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for key in ("z", "q"):
            await pilot.press("z")
            await settle(pilot)
            assert isinstance(app.screen, LoupeScreen)
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, MainScreen)
        assert app.is_running


async def test_compare_keys(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        panes = list(app.screen.query(ComparePane))

        def focused() -> int:
            return panes.index(app.screen.focused)

        await pilot.press("l")
        assert focused() == 1
        await pilot.press("tab")
        assert focused() == 2
        await pilot.press("h")
        assert focused() == 1
        await pilot.press("left", "left")
        assert focused() == 2  # wraps around
        await pilot.press("x")
        await settle(pilot)
        assert app.library.images.image(panes[2].image.id).rejected
        assert "rejected" in str(panes[2].query_one(".compare-caption").render())
        await pilot.press("q")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("c")  # c closes it too
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)


async def test_export_dialog_v_exports_the_current_filter(library, tmp_path):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"forest", "enter")
        await settle(pilot)
        await pilot.press("E")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        app.screen.query_one("#export-folder").value = str(tmp_path / "forest")
        await pilot.press("v")
        await settle(pilot)
    records = json.loads((tmp_path / "forest" / "doorways-export.json").read_text())
    assert {r["prompt"] for r in records} == {"entrance to the forest realm"}
    assert len(records) == 3


async def test_escape_closes_the_export_and_init_dialogs_without_doing_anything(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("E")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        await pilot.press("escape")
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, InitImageScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert app.library.queue.jobs(status="queued") == []


async def test_start_worker_offer_n_declines(library):
    with Library.open(library) as lib:
        lib.queue.reroll(image_id=1, n=2)
    launcher = FakeLauncher()
    app = make_app(launch_worker=launcher, offer_worker=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await poll(pilot)
        assert isinstance(app.screen, StartWorkerScreen)
        await pilot.press("n")
        await settle(pilot)
        assert launcher.calls == [] and isinstance(app.screen, MainScreen)
        assert "w starts one" in str(main_screen(app).query_one("#queue-workers").render())
