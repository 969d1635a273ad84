"""CLIP's suggestions in the app: the details' line, ``y`` accepts the suggested door
count (``u`` undoes it), the filter menu's suggestion filters and best-match sort, near-
duplicate seeds folded in the tree (``o`` unfolds), "more like this" (``L``, ``alt+l``),
compare on the nearest (``alt+c``), and the palette's entries. Synthetic judgements
(tests/curation_shared.py) on the app fixtures' library: images 1-3 are the first
variant's seeds, 4-6 the second's, 7-8 a child edit's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from doorways_tui.store import Library
from doorways_tui.tui.screens.compare import CompareScreen
from doorways_tui.tui.screens.filter_menu import FilterMenu
from doorways_tui.tui.widgets.compare_pane import ComparePane
from doorways_tui.tui.widgets.details import Details
from doorways_tui.tui.widgets.variant_tree import VariantTree
from tests.app_fixtures import main_screen, make_app, poll, populate, settle
from tests.curation_shared import judge, unit

VECTORS = {  # 1 ~ 2 ~ 3 near copies; 4 nearest the first variant's; 5, 6 apart
    1: unit(1),
    2: unit(1, 0.1),
    3: unit(1, -0.1),
    4: unit(1, 0.6),
    5: unit(0, 1),
    6: unit(0, 0, 1),
}


@pytest.fixture
def library() -> Path:
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root)
    with Library.open(root) as lib:
        for image_id, vector in VECTORS.items():
            judge(
                lib,
                image_id,
                vector,
                doors=image_id % 3 + 1,  # 1: 2 doors, 2: 3, 3: 1, 4: 2, 5: 3, 6: 1
                figures=image_id in (2, 5),
                match=image_id / 10,  # 6 the best match
                sides=(0.31, 0.27) if image_id == 1 else None,
            )
        lib.images.set_door_count(4, 1)  # CLIP said 2
        lib.images.set_door_count(5, 3)  # CLIP agrees
    return root


def in_view(app) -> int | None:
    detail = main_screen(app).detail
    return None if detail is None else detail.image.id


def filter_line(app) -> str:
    return str(main_screen(app).query_one("#filter-line").render())


def details(app) -> str:
    """The details panel's table as plain text."""
    from rich.console import Console

    panel = main_screen(app).query_one(Details)
    console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(panel._table(panel.detail))
    return console.export_text()


async def stepped(pilot, key: str = "right") -> list[int]:
    """The image in view, then each one ``key`` steps to, until the list ends."""
    app = pilot.app
    seen = [in_view(app)]
    while True:
        await pilot.press(key)
        await settle(pilot)
        if in_view(app) == seen[-1]:
            return seen
        seen.append(in_view(app))


async def test_details_show_the_suggestion_apart_from_the_tags(library):
    app = make_app()
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        assert in_view(app) == 1
        text = details(app)
        assert "looks like 2 doors (0.81) · figures unlikely (0.90)" in text
        assert "left matches 0.31 / right 0.27" in text
        assert "untriaged" in text  # the tag is still the artist's: none
        await pilot.press("6")  # no suggestion line where none was made
        await settle(pilot)
        await pilot.press("G")
        await settle(pilot)
        assert in_view(app) == 8 and "suggests" not in details(app)


async def test_y_accepts_the_suggested_door_count_and_u_undoes_it(library):
    app = make_app()
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert app.library.images.image(1).door_count == 2
        assert "(the suggestion, accepted)" in str(app.screen.query_one("#status-line").render())
        await pilot.press("u")
        await settle(pilot)
        assert app.library.images.image(1).door_count is None
        await pilot.press("G", "y")  # 8: not judged, nothing written
        await settle(pilot)
        assert app.library.images.image(8).door_count is None
        assert "no suggestion to accept" in str(app.screen.query_one("#status-line").render())


async def test_filter_menu_suggestion_filters_and_the_best_match_sort(library):
    app = make_app()
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f", "l")
        await settle(pilot)
        assert "figures likely" in filter_line(app)
        assert await stepped(pilot) == [2, 5]
        await pilot.press("f", "y")
        await settle(pilot)
        assert isinstance(app.screen, FilterMenu)
        await pilot.press("3")
        await settle(pilot)
        assert "suggested 3 doors" in filter_line(app)
        assert await stepped(pilot) == [2, 5]
        await pilot.press("f", "u")  # the view changes, the suggestion filter stays
        await settle(pilot)
        assert await stepped(pilot) == [2]
        await pilot.press("f", "a", "f", "d")
        await settle(pilot)
        assert "suggestion ≠ my doors" in filter_line(app)
        assert await stepped(pilot) == [4]
        await pilot.press("f", "a", "f", "m")
        await settle(pilot)
        assert "best match first" in filter_line(app)
        assert in_view(app) == 6  # the best untriaged match
        await pilot.press("g")
        await settle(pilot)
        assert await stepped(pilot) == [6, 5, 4, 3, 1, 2, 7, 8]  # 1: its sides' mean, 0.29
        assert "8/8" in filter_line(app)


async def test_near_duplicate_seeds_fold_in_the_tree_and_o_unfolds_them(library):
    app = make_app()
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        await poll(pilot)
        tree = main_screen(app).query_one(VariantTree)
        tree.focus()
        await pilot.press("down", "down", "space")  # the first variant, opened
        await settle(pilot)

        def seeds() -> list[str]:
            variant = tree.cursor_node
            return [str(c.label) for c in variant.children if c.data.kind == "seed"]

        assert len(seeds()) == 1 and "+2 alike" in seeds()[0]
        await pilot.press("o")
        await settle(pilot)
        assert len(seeds()) == 3 and not any("alike" in s for s in seeds())
        assert "unfolded" in str(app.screen.query_one("#status-line").render())
        await pilot.press("o")
        await settle(pilot)
        assert len(seeds()) == 1


async def test_more_like_this_steps_through_the_nearest_images(library):
    app = make_app()
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        await pilot.press("L")
        await settle(pilot)
        assert "like #1 · whole library" in filter_line(app)
        assert await stepped(pilot) == [1, 2, 3, 4, 5, 6]
        await pilot.press("f", "a")  # a filter again: the list is gone
        await settle(pilot)
        assert "like" not in filter_line(app)
        await pilot.press("G", "L")  # 8 has no embedding: one line, the view stays
        await settle(pilot)
        assert "no embedding yet" in str(app.screen.query_one("#status-line").render())
        assert in_view(app) == 8 and "like" not in filter_line(app)


async def test_alt_c_compares_the_image_with_its_three_nearest(library):
    app = make_app()
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)
        await pilot.press("alt+c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert [p.image.id for p in app.screen.query(ComparePane)] == [1, 2, 3, 4]
        await pilot.press("right", "y")  # the panes take the accept key too
        await settle(pilot)
        assert app.library.images.image(2).door_count == 3


async def test_the_palette_lists_the_curation_entries(library):
    from doorways_tui.tui.commands import commands

    app = make_app()
    async with app.run_test(size=(150, 40)) as pilot:
        await settle(pilot)

        class Provider:
            def __init__(self, app) -> None:
                self.app = app

        entries = {name: run for name, run, _ in commands(Provider(app))}
        for wanted in (
            "filter: figures likely (CLIP's suggestion)",
            "filter: suggested 2 doors (CLIP's suggestion)",
            "filter: suggestion disagrees with my door tag",
            "sort: best prompt match first",
            "triage: take the door count CLIP suggests (the details' 'suggests' line) as this"
            " image's tag",
            "view: step through this image's nearest neighbours (CLIP) across the library",
            "view: step through this image's nearest neighbours (CLIP) within its prompt theme",
            "view: this image beside its 3 nearest neighbours (CLIP) in the library",
            "view: fold near-duplicate seeds into one row with a count, or list them all",
        ):
            assert wanted in entries, wanted
        entries["filter: figures likely (CLIP's suggestion)"]()
        await settle(pilot)
        assert "figures likely" in filter_line(app) and in_view(app) == 2
