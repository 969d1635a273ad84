"""The filter menu (``f``): one key picks what the image list shows."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from doorways_tui.core.text import plain
from doorways_tui.core.triage import DOORS_VIEW, DOORS_VIEW_WHAT, VIEWS, doors_view_label
from doorways_tui.workstation.browse import View


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
                tooltip=f"show images with {doors_view_label(n)}",
            )
            for n in range(10)
        ),
        Binding("escape,f", "cancel", "close", id="filter.cancel", tooltip="keep the filter"),
    ]

    def __init__(self, current: View) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            # the label quotes the search text: plain, never markup
            yield Label(plain(f"Filter · now: {self.current.label()}"), classes="dialog-title")
            rows = [(view.key, view.name, view.what) for view in VIEWS]
            rows.append(("0-9", DOORS_VIEW, DOORS_VIEW_WHAT))
            width = max(len(key) for key, _, _ in rows)  # one column, however wide a key
            text = Text()
            for key, name, what in rows:
                text.append(f" {key:<{width}} ", style="reverse")
                text.append(f" {name:<10}", style="bold")
                text.append(f"{what}\n", style="dim")
            text.rstrip()
            yield Static(text)
            yield Static(
                "[b]Esc[/b] keep the current filter · the search (/) stays", classes="dialog-keys"
            )

    def action_pick(self, view: str) -> None:
        self.dismiss(View(view))

    def action_doors(self, n: int) -> None:
        self.dismiss(View(DOORS_VIEW, n))

    def action_cancel(self) -> None:
        self.dismiss(None)
