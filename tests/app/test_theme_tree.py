"""Groups in the library tree (theme → group → variant), folded labels, and a typed list
queued from the `T` dialog at 80x24."""

from __future__ import annotations

from textual.widgets import RadioSet, TextArea

from doorways_tui.store import Library
from doorways_tui.themes.library import queue_theme
from doorways_tui.themes.request import build_request
from doorways_tui.tui.screens.new_theme import NewThemeScreen
from doorways_tui.tui.widgets.variant_tree import VariantTree
from tests.app_fixtures import main_screen, make_app, poll, settle
from tests.app_library_shared import root  # noqa: F401  (fixtures)


def outline(tree: VariantTree) -> list[str]:
    """The tree as indented plain labels, counts left out."""
    lines: list[str] = []

    def walk(node, depth: int) -> None:
        for child in node.children:
            data = child.data
            if data is not None and data.kind != "seed":
                text = child.label.plain.split("  ")[0]
                lines.append(f"{'  ' * depth}{data.kind}: {_name(text)}")
                walk(child, depth + 1)

    walk(tree.root, 0)
    return lines


def _name(label: str) -> str:
    """A label without its trailing counts (`2⋯`, `1✓`)."""
    words = label.split(" ")
    while words and words[-1][:1].isdigit():
        words.pop()
    return " ".join(words)


async def counted(pilot, dialog: NewThemeScreen, start: str) -> None:
    """Wait for the dialog's count (a thread worker) to say ``start``."""
    for _ in range(400):
        request = dialog.request
        count = "" if request is None else f"{request.theme.name}: {request.summary}"
        if count.startswith(start) and request.models is not None and request.models.demo:
            return
        await pilot.pause(0.025)
    raise AssertionError(f"the dialog never counted {start!r}")


async def test_groups_sit_between_the_theme_and_its_variants(root):
    with Library.open(root) as lib:
        old = lib.tree.add_theme("Pasted")
        lib.tree.root_variant(  # queued before groups were kept: under the theme itself
            theme_id=old.id, prompt="entrance to Sun | entrance to Moon", style="by James Gurney"
        )
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await poll(pilot)
        tree = main_screen(app).query_one(VariantTree)
        assert outline(tree) == ["theme: Pasted", "  variant: Sun | Moon"]
        request = build_request(
            text="Afterlife\nHeaven / Hell\nValhalla / Fólkvangr\nNature\nSun / Moon\n",
            name="Pasted",
            models="demo",
        )
        with Library.open(root) as lib:
            queue_theme(lib, request.theme, request.variants)
        await poll(pilot)
        assert outline(tree) == [
            "theme: Pasted",
            "  group: Nature",  # filed under its group when queued again; the oldest first
            "    variant: Sun | Moon",
            "  group: Afterlife",
            "    variant: Heaven | Hell",
            "    variant: Valhalla | Fólkvangr",
        ]
        group = tree.root.children[0].children[1]
        assert "2⋯" in group.label.plain  # a group counts its variants' jobs
        tree.move_cursor(group)
        await settle(pilot)
        assert main_screen(app).session.scope.kind == "theme"  # a group steps through its theme


async def test_a_typed_list_queued_from_T_at_80x24_shows_its_groups(root):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("T")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, NewThemeScreen)
        dialog.query_one(RadioSet).focus()
        await pilot.press("right", "right", "enter")  # Typed list
        dialog.query_one("#pairs", TextArea).text = "## Afterlife\n- “Heaven” / “Hell”\n"
        dialog.query_one("#name").value = "Typed"
        dialog.demo_models = True
        await counted(pilot, dialog, "Typed: 1 group, 1 pair")
        await pilot.click("#queue-theme")  # on screen at 80x24
        await settle(pilot)
        await poll(pilot)
        assert outline(main_screen(app).query_one(VariantTree)) == [
            "theme: Typed",
            "  group: Afterlife",
            "    variant: Heaven | Hell",
        ]
    with Library.open(root) as lib:
        theme = lib.tree.theme_by_name("Typed")
        assert theme is not None
        assert [v.group_name for v in lib.tree.variants(theme.id)] == ["Afterlife"]
