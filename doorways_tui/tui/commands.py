"""The command palette (ctrl+p): every action of the workstation, found by name.

Entries are built from the main screen's bindings (so a new key is a new entry), plus
one per filter, one per prompt theme in the tree, and the app's own actions. Running one
runs the same action as the key.

Textual lists its colour themes here too ("Theme", "Change theme"): ours always say
"prompt theme", so a search for "theme" tells the two apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from doorways_tui.core.triage import DOORS_VIEW, VIEWS, doors_view_label
from doorways_tui.tui.keys import MAIN_BINDINGS, key_text
from doorways_tui.tui.screens.main import MainScreen
from doorways_tui.tui.widgets.variant_tree import NodeData, VariantTree
from doorways_tui.workstation.browse import View

Command = tuple[str, Callable[[], object], str]

_SECTIONS = {
    "triage": "triage",
    "nav": "go",
    "runs": "run",
    "view": "view",
    "library": "library",
}


def _main_screen(provider: Provider) -> MainScreen | None:
    for screen in reversed(provider.app.screen_stack):
        if isinstance(screen, MainScreen):
            return screen
    return None


def commands(provider: Provider) -> Iterator[Command]:
    main = _main_screen(provider)
    app = provider.app
    if main is not None:
        for binding in MAIN_BINDINGS:
            section = _SECTIONS.get((binding.id or "").split(".")[0], "do")
            name = f"{section}: {binding.tooltip or binding.description}"
            key = key_text(binding)
            yield name, partial(main.run_action, binding.action), f"key {key} · {binding.id}"
        for view in VIEWS:
            yield (
                f"filter: {view.name}",
                partial(main.set_view, View(view.name)),
                f"show {view.name} images (key f, then {view.key})",
            )
        for n in range(10):
            yield (
                f"filter: {doors_view_label(n)}",
                partial(main.set_view, View(DOORS_VIEW, n)),
                f"show images with {doors_view_label(n)} (key f, then {n})",
            )
        yield (
            "filter: clear the search",
            partial(main.set_view, main.session.view.with_text("")),
            "keep the filter, drop the search text",
        )
        yield from _prompt_themes(main)
    yield "app: help — every key and how to remap it", partial(app.run_action, "help"), "key ?"
    yield "app: quit", partial(app.run_action, "quit"), "key q; workers keep running"


def _prompt_themes(main: MainScreen) -> Iterator[Command]:
    """One entry per theme row of the tree, "go: prompt theme 'NAME'": running it moves
    the tree's cursor there, which steps through that theme as a click on it does."""
    trees = main.query(VariantTree)
    if not trees:
        return
    tree = trees.first()
    for node in tree.root.children:
        data = node.data
        if isinstance(data, NodeData) and data.kind == "theme":
            yield (
                f"go: prompt theme '{data.label}'",
                partial(tree.move_cursor, node),
                "step through this prompt theme's images (its row in the tree)",
            )


class DoorwaysCommands(Provider):
    async def discover(self) -> Hits:
        for name, run, help_text in commands(self):
            yield DiscoveryHit(name, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, run, help_text in commands(self):
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=help_text)
