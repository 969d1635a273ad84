"""Views: filters, search, the tree's scopes, loupe, compare, help, the palette, keymaps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from doorways_tui.core.settings import load_settings
from doorways_tui.store import Library
from doorways_tui.tui.screens.compare import CompareScreen
from doorways_tui.tui.screens.filter_menu import FilterMenu
from doorways_tui.tui.screens.help import HelpScreen
from doorways_tui.tui.screens.loupe import LoupeScreen
from doorways_tui.tui.widgets.compare_pane import ComparePane
from doorways_tui.tui.widgets.variant_tree import VariantTree
from tests.app_fixtures import main_screen, make_app, poll, populate, settle


@pytest.fixture
def library() -> Path:
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root)
    with Library.open(root) as lib:
        lib.images.toggle_star(2)
        lib.images.toggle_star(5)
        lib.images.toggle_reject(3)
        lib.images.set_door_count(4, 2)
        lib.images.set_door_count(6, 2)
    return root


def in_view(app) -> int | None:
    detail = main_screen(app).detail
    return None if detail is None else detail.image.id


def filter_line(app) -> str:
    return str(main_screen(app).query_one("#filter-line").render())


async def test_filter_menu_picks_each_view(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        for keys, first, label in (
            (("f", "s"), 2, "starred"),
            (("f", "x"), 3, "rejected"),
            (("f", "2"), 4, "2 doors"),
            (("f", "u"), 1, "untagged"),
            (("f", "a"), 1, "all"),
        ):
            await pilot.press(*keys)
            await settle(pilot)
            assert in_view(app) == first, label
            assert label in filter_line(app)
        await pilot.press("f", "s", "right")
        await settle(pilot)
        assert in_view(app) == 5  # stepping stays inside the filter
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, FilterMenu)
        await pilot.press("escape")
        await settle(pilot)
        assert "starred" in filter_line(app)


async def test_filter_with_no_match_clears_the_view(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("f", "9")
        await settle(pilot)
        assert in_view(app) is None
        assert "–/0" in filter_line(app)


async def test_slash_searches_prompts(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press(*"forest")
        await pilot.press("enter")
        await settle(pilot)
        assert main_screen(app).detail.variant.prompt == "entrance to the forest realm"
        assert "forest" in filter_line(app) and "/3" in filter_line(app)
        await pilot.press("slash", "escape")  # cancel keeps the search
        await settle(pilot)
        assert "forest" in filter_line(app)


async def test_tree_cursor_sets_the_scope_and_a_seed_shows_its_run(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await poll(pilot)
        tree = app.screen.query_one(VariantTree)
        tree.focus()
        await pilot.press("down", "down", "down")  # library, theme, first variant, second
        await settle(pilot)
        detail = main_screen(app).detail
        assert detail.variant.prompt == "entrance to the forest realm"
        assert "entrance to the forest" in filter_line(app)
        await pilot.press("space")  # open it: its seeds are listed
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)
        seed_node = tree.cursor_node
        assert seed_node.data.kind == "seed"
        assert main_screen(app).detail.job.id == seed_node.data.job_id
        assert "seed" in str(seed_node.label)


async def test_tree_counts(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await poll(pilot)
        tree = app.screen.query_one(VariantTree)
        theme = tree.root.children[0]
        # 8 done, 2 starred, 4 untriaged (1, 2, 5, 7, 8 minus triaged 3, 4, 6 -> 1 2 5 7 8)
        assert str(theme.label) == "doors 8✓ 2★ 5?"


async def test_z_opens_the_loupe_where_triage_keys_still_work(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("z")
        await settle(pilot)
        assert isinstance(app.screen, LoupeScreen)
        await pilot.press("7", "n")
        await settle(pilot)
        assert app.library.images.image(1).door_count == 7
        assert "#2" in str(app.screen.query_one("#loupe-caption").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, LoupeScreen)


async def test_c_compares_seeds_of_the_variant_and_triages_the_focused_pane(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        panes = list(app.screen.query(ComparePane))
        assert [p.image.id for p in panes] == [1, 2, 3]  # starred first, rejected last
        await pilot.press("right", "3")
        await settle(pilot)
        assert app.library.images.image(2).door_count == 3
        await pilot.press("right", "s")
        await settle(pilot)
        assert app.library.images.image(3).starred
        await pilot.press("u")
        await settle(pilot)
        assert not app.library.images.image(3).starred
        await pilot.press("escape")
        assert main_screen(app) is app.screen


async def test_help_lists_every_key_with_its_id(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        ids = {k.binding_id for k in app.screen.keys}
        for wanted in (
            "triage.star",
            "triage.doors-3",
            "runs.edit",
            "library.export",
            "nav.next-untriaged",
            "view.compare",
        ):
            assert wanted in ids
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_keymap_from_the_config_remaps_a_key(library, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('[keymap]\n"triage.star" = "space"\n"nope.none" = "f9"\n')
    monkeypatch.setenv("DOORWAYS_CONFIG", str(config))
    app = make_app()
    assert load_settings().keymap["triage.star"] == "space"
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        main_screen(app).set_focus(None)
        await pilot.press("s")
        await settle(pilot)
        assert not app.library.images.image(1).starred  # s no longer stars
        await pilot.press("space")
        await settle(pilot)
        assert app.library.images.image(1).starred
        assert any("nope.none" in str(n.message) for n in app._notifications)


async def test_palette_runs_an_action(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"star (pick)")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.library.images.image(1).starred


async def test_the_queue_panel_rule_does_not_reach_a_dialog_button_called_queue(library):
    from textual.screen import ModalScreen
    from textual.widgets import Button

    class Dialog(ModalScreen):
        def compose(self):
            yield Button("Queue", id="queue")

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert main_screen(app).query_one("#queue-panel").region.height > 3
        app.push_screen(Dialog())
        await pilot.pause()
        button = app.screen.query_one("#queue", Button)
        assert button.region.height == 3  # a button, not a panel stretched to 1fr
        assert button.styles.border_top[0] != "hkey"


async def test_remapped_triage_keys_win_over_the_focused_tree(library, tmp_path, monkeypatch):
    from doorways_tui.tui.app import help_entries

    config = tmp_path / "config.toml"
    config.write_text('[keymap]\n"triage.star" = "space"\n"nav.next-untriaged" = "n,down"\n')
    monkeypatch.setenv("DOORWAYS_CONFIG", str(config))
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert isinstance(screen.focused, VariantTree)  # the help's own example, tree focused
        first = screen.detail.image.id
        await pilot.press("space")
        await settle(pilot)
        assert app.library.images.image(first).starred
        entries = {e.binding_id: e.keys for e in help_entries(app)}
        assert entries["triage.star"] == "space"
        assert entries["nav.next-untriaged"] == "n ↓"
        assert screen.active_bindings["space"].binding.id == "triage.star"
        await pilot.press("down")
        await settle(pilot)
        assert screen.detail.image.id != first  # down went to the next untriaged image
        warned = " ".join(str(n.message) for n in app._notifications)
        assert "space" in warned and "down" in warned  # the tree's keys were taken


async def test_a_failed_seed_in_the_tree_shows_its_error(library):
    with Library.open(library) as lib:
        lib.workers.register("w1", device="cpu")
        lib.queue.queue_jobs(2, [9], {"width": 64}, undoable=False)
        job = lib.claims.claim_job("w1")
        lib.claims.fail_job(job.id, "w1", "CUDA out of memory (tried 2 GiB)")
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        await poll(pilot)
        tree = app.screen.query_one(VariantTree)
        assert "1!" in str(tree._variants[2].label)  # the variant counts its failed run
        tree._variants[2].expand()
        await settle(pilot)
        assert tree.select_job(2, job.id)
        await settle(pilot)
        await poll(pilot)  # a later poll keeps the error on show
        details = str(app.screen.query_one("#details").render())
        assert "CUDA out of memory (tried 2 GiB)" in details and "seed 9" in details
        assert "nothing matches" not in details


async def test_at_80_columns_the_image_gets_the_room_and_help_quit_stay_in_the_footer(library):
    from doorways_tui.tui.compat.textual import FooterKey

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        assert screen.query_one("#image").region.width >= 50
        keys = {k.action: k.region for k in screen.query(FooterKey)}
        for action in ("help", "quit"):
            assert keys[action].width > 0 and keys[action].right <= 80, action
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        screen = main_screen(app)
        for pane in ("#tree", "#image", "#details", "#queue-panel"):
            assert screen.query_one(pane).region.width > 20, pane
