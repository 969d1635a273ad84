"""The line above the image: which filter and scope, where in the list, how many are left
to triage; and the search box that ``/`` opens."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from doorways_tui.core.text import printable
from doorways_tui.workstation.browse import Position, Scope


class FilterBar(Horizontal):
    """Shows the filter state; ``open_search`` swaps the line for a search box."""

    BINDINGS = [
        Binding("escape", "close_search", "Cancel search", id="search.cancel", show=False),
    ]

    @dataclass
    class SearchSubmitted(Message):
        """The artist typed a search (empty: clear it) and pressed Enter."""

        bar: FilterBar
        text: str

        @property
        def control(self) -> FilterBar:
            return self.bar

    @dataclass
    class SearchClosed(Message):
        """The search box closed without a new search."""

        bar: FilterBar

        @property
        def control(self) -> FilterBar:
            return self.bar

    def compose(self) -> ComposeResult:
        yield Static("", id="filter-line")
        yield Input(
            placeholder="search prompts and notes (Enter: apply, Esc: cancel)", id="filter-search"
        )

    def on_mount(self) -> None:
        self.query_one("#filter-search", Input).display = False

    def show_state(
        self, label: str, scope: Scope, pos: Position | None, *, auto_advance: bool
    ) -> None:
        """``label``: the view's (or a "more like this" list's) name."""
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" filter ", style="reverse")
        text.append(f" {printable(label)} ", style="bold")  # the search text
        text.append(" in ", style="dim")
        where = printable(scope.label) if scope.kind != "all" else "whole library"
        text.append(where if len(where) <= 30 else where[:29] + "…", style="bold")
        if pos is not None:
            where = f"{pos.index}/{pos.total}" if pos.index else f"–/{pos.total}"
            text.append(f"  {where}", style="bold cyan")
            text.append(f" · {pos.untriaged} to triage", style="cyan" if pos.untriaged else "dim")
        if auto_advance:
            text.append("  auto-advance", style="bold yellow")
        self.query_one("#filter-line", Static).update(text, layout=False)

    def open_search(self, current: str) -> None:
        box = self.query_one("#filter-search", Input)
        self.query_one("#filter-line", Static).display = False
        box.display = True
        box.value = current
        box.focus()

    def action_close_search(self) -> None:
        if self._close():
            self.post_message(self.SearchClosed(self))

    def _close(self) -> bool:
        box = self.query_one("#filter-search", Input)
        was_open = bool(box.display)
        box.display = False
        self.query_one("#filter-line", Static).display = True
        return was_open

    @on(Input.Submitted, "#filter-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close()
        self.post_message(self.SearchSubmitted(self, event.value))
