"""The filter menu (``f``): one key picks what the image list shows."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from doorways_tui.core.text import plain
from doorways_tui.workstation.browse import View

CHOICES = (
    ("a", "all", "every image"),
    ("u", "untagged", "no door count yet, not rejected"),
    ("s", "starred", "the picks"),
    ("x", "rejected", "figures, failures"),
)


class FilterMenu(ModalScreen[View | None]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [
        *(
            Binding(
                key,
                f"pick('{view}')",
                view,
                id=f"filter.{view}",
                tooltip=f"show {view} images: {what}",
            )
            for key, view, what in CHOICES
        ),
        *(
            Binding(
                str(n),
                f"doors({n})",
                f"{n} doors",
                show=False,
                id=f"filter.doors-{n}",
                tooltip=f"show images with {n} doors",
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
            text = Text()
            for key, view, what in CHOICES:
                text.append(f" {key} ", style="reverse")
                text.append(f" {view:<10}", style="bold")
                text.append(f"{what}\n", style="dim")
            text.append(" 0-9 ", style="reverse")
            text.append(" doors     ", style="bold")
            text.append("images with that many doors", style="dim")
            yield Static(text)
            yield Static(
                "[b]Esc[/b] keep the current filter · the search (/) stays", classes="dialog-keys"
            )

    def action_pick(self, view: str) -> None:
        self.dismiss(View(view))

    def action_doors(self, n: int) -> None:
        self.dismiss(View("doors", n))

    def action_cancel(self) -> None:
        self.dismiss(None)
