"""The command palette (ctrl+p): every action of the workstation, found by name.

Entries are built from the main screen's bindings (so a new key is a new entry), plus
one per filter, one per prompt theme in the tree, and the app's own actions. Running one
runs the same action as the key.

Textual lists its colour themes here too ("Theme", "Change theme"): ours always say
"prompt theme", so a search for "theme" tells the two apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from doorways_tui.core.text import printable
from doorways_tui.core.triage import DOORS_VIEW, VIEWS, doors_view_label
from doorways_tui.tui.keys import MAIN_BINDINGS, key_text
from doorways_tui.tui.screens.main import MainScreen
from doorways_tui.tui.widgets.variant_tree import NodeData, VariantTree
from doorways_tui.workstation import rules as stop_rules
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
        yield from _suggestion_filters(main)
        yield (
            "filter: clear the search",
            partial(main.set_view, main.session.view.with_text("")),
            "keep the filter, drop the search text",
        )
        yield from _prompt_themes(main)
        yield from _queue_commands(main)
        yield from _rules_commands(main)
    yield "app: help — every key and how to remap it", partial(app.run_action, "help"), "key ?"
    yield "app: quit", partial(app.run_action, "quit"), "key q; workers keep running"


def _suggestion_filters(main: MainScreen) -> Iterator[Command]:
    """The filters on CLIP's suggestions and the best-match sort: each keeps the view
    and the search, as the filter menu's keys do."""
    view = main.session.view
    yield (
        "filter: figures likely (CLIP's suggestion)",
        partial(main.set_view, view.with_suggestion(figures=True)),
        "images CLIP suggests have figures in them (key f, then l)",
    )
    for n in range(10):
        yield (
            f"filter: suggested {doors_view_label(n)} (CLIP's suggestion)",
            partial(main.set_view, view.with_suggestion(suggested_doors=n)),
            f"images CLIP suggests have {doors_view_label(n)} (key f, then y, {n})",
        )
    yield (
        "filter: suggestion disagrees with my door tag",
        partial(main.set_view, view.with_suggestion(disagrees=True)),
        "CLIP's door count is not the one you tagged (key f, then d)",
    )
    best = view.sort == "match"
    yield (
        "sort: oldest first" if best else "sort: best prompt match first",
        partial(main.set_view, replace(view, sort="id" if best else "match")),
        "the order n, p and the arrows step in (key f, then m)",
    )


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


def _queue_commands(main: MainScreen) -> Iterator[Command]:
    """Cancel and retry beyond the selected run (whose keys are bindings above), and one
    "stop worker" entry per live worker on this machine (its pid is ours to signal)."""
    tasks = main.queue_tasks
    sel = tasks.selection()
    if sel.variant_id is not None:
        yield (
            f"queue: cancel the queued jobs of variant '{printable(sel.variant_label)}'",
            tasks.cancel_variant,
            "every queued job of the selected variant; u puts them back",
        )
    if sel.theme_id is not None:
        yield (
            f"queue: cancel the queued jobs of prompt theme '{printable(sel.theme_label)}'",
            tasks.cancel_theme,
            "every queued job of the selected prompt theme; u puts them back",
        )
    yield (
        "queue: retry the selected failed run",
        tasks.retry_run,
        "queue it again; u puts it back as it was",
    )
    yield "queue: retry every failed job", tasks.retry_failed, "u puts them back as they were"
    workers = tasks.workers_here(main.snapshot.workers if main.snapshot else ())
    for w in workers:
        yield (
            f"worker: stop worker {printable(w.id)} on {printable(w.device)} (pid {w.pid})",
            partial(tasks.stop_worker, w.id),
            "SIGTERM, as kill PID does: it ends its step, puts its job back and exits",
        )
    if not workers:
        yield (
            "worker: stop worker (none runs on this machine)",
            partial(main.say, "stop worker: no live worker on this machine", "warning"),
            "workers on other machines stop there: kill PID",
        )


def _rules_commands(main: MainScreen) -> Iterator[Command]:
    """The stop rules' two actions that need no numbers (``doorways rules`` sets them)."""
    lib = main.session.lib
    yield (
        "queue: release the seeds a stop rule holds",
        partial(main.triage.submit, partial(stop_rules.release_held, lib)),
        "they run again and the rules leave them alone (doorways rules release)",
    )
    yield (
        "queue: early previews first (turn on or off)",
        partial(main.triage.submit, partial(stop_rules.toggle_early_previews, lib)),
        "every queued variant gets a first run before any gets a second",
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
