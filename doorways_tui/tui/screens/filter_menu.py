"""The filter menu (``f``): one key picks what the image list shows. A view (starred, 3
doors...) combines with at most one filter on CLIP's suggestion and with the order; ``a``
(every image) clears them all."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from doorways_tui.core.text import plain
from doorways_tui.core.triage import DOORS_VIEW, DOORS_VIEW_WHAT, VIEWS, doors_view_label
from doorways_tui.workstation.browse import View

ALL = VIEWS[0].name  # the view that clears every other filter
# (key, action, name, what) of the suggestion filters and the sort
SUGGESTED = (
    ("l", "figures", "figures likely", "CLIP suggests figures (people, a crowd)"),
    ("y", "suggested", "suggested N", "then 0-9: CLIP suggests that many doors"),
    ("d", "disagrees", "disagrees", "CLIP's door count is not your door tag"),
    ("m", "sort", "best match", "sort: best prompt match first (again: oldest first)"),
)


class FilterMenu(ModalScreen[View | None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [
        *(
            Binding(
                view.key,
                f"pick({view.name!r})",
                view.name,
                id=f"filter.{view.name}",
                tooltip=f"show {view.name} images: {view.what}",
            )
            for view in VIEWS
        ),
        *(
            Binding(
                str(n),
                f"doors({n})",
                doors_view_label(n),
                show=False,
                id=f"filter.doors-{n}",
                tooltip=f"show images with {doors_view_label(n)} (after y: suggested)",
            )
            for n in range(10)
        ),
        *(
            Binding(key, action, name, id=f"filter.{action}", tooltip=what)
            for key, action, name, what in SUGGESTED
        ),
        Binding("escape,f", "cancel", "close", id="filter.cancel", tooltip="keep the filter"),
    ]

    def __init__(self, current: View) -> None:
        super().__init__()
        self.current = current
        self.suggesting = False  # "y" was pressed: a digit is a suggested door count

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # the label quotes the search text: plain, never markup
            yield Label(plain(f"Filter · now: {self.current.label()}"), classes="dialog-title")
            rows = [(view.key, view.name, view.what) for view in VIEWS]
            rows.append(("0-9", DOORS_VIEW, DOORS_VIEW_WHAT))
            rows += [(key, name, what) for key, _, name, what in SUGGESTED]
            width = max(len(key) for key, _, _ in rows)  # one column, however wide a key
            text = Text()
            for n, (key, name, what) in enumerate(rows):
                if n == len(VIEWS) + 1:
                    text.append("CLIP's suggestions (not your tags)\n", style="italic")
                text.append(f" {key:<{width}} ", style="reverse")
                text.append(f" {name:<14}", style="bold")
                text.append(f"{what}\n", style="dim")
            text.rstrip()
            yield Static(text, id="filter-rows")
            yield Static(
                "[b]Esc[/b] keep the current filter · the search (/) stays",
                classes="dialog-keys",
                id="filter-keys",
            )

    def action_pick(self, view: str) -> None:
        if view == ALL:
            self.dismiss(View(view))
        else:
            self.dismiss(replace(self.current, view=view, door_count=None))

    def action_doors(self, n: int) -> None:
        if self.suggesting:
            self.dismiss(self.current.with_suggestion(suggested_doors=n))
        else:
            self.dismiss(replace(self.current, view=DOORS_VIEW, door_count=n))

    def action_figures(self) -> None:
        self.dismiss(self.current.with_suggestion(figures=True))

    def action_disagrees(self) -> None:
        self.dismiss(self.current.with_suggestion(disagrees=True))

    def action_suggested(self) -> None:
        self.suggesting = True
        self.query_one("#filter-keys", Static).update(
            "[b]0-9[/b] CLIP suggests that many doors · [b]Esc[/b] keep the current filter"
        )

    def action_sort(self) -> None:
        self.dismiss(replace(self.current, sort="id" if self.current.sort == "match" else "match"))

    def action_cancel(self) -> None:
        self.dismiss(None)
