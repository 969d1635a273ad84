"""A failed run's whole error (a traceback, a CUDA message), scrollable and opened at its
end (where a traceback says what went wrong): the queue panel shows only its start. ``r``
queues the run again from here."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from doorways_tui.core.text import plain
from doorways_tui.workstation.queue_control import FailedRun


class JobErrorScreen(ModalScreen[bool]):
    """Dismissed with True when the artist asks to retry the run."""

    CSS_PATH = "job_error.tcss"
    BINDINGS = [
        Binding(
            "escape,q,enter",
            "dismiss(False)",
            "close",
            id="job-error.close",
            tooltip="back to the workstation",
        ),
        Binding(
            "r", "dismiss(True)", "retry", id="job-error.retry", tooltip="queue this run again"
        ),
    ]

    def __init__(self, run: FailedRun) -> None:
        super().__init__()
        self.run = run

    def compose(self) -> ComposeResult:
        # Error and prompt come from the library (any writer): plain text, escapes shown.
        with Vertical(classes="dialog", id="job-error"):
            yield Label(plain(self.run.title()), classes="dialog-title")
            yield Static(plain(self.run.prompt), id="job-error-prompt")
            with VerticalScroll(id="job-error-scroll"):
                yield Static(plain(self.run.error, newlines=True), id="job-error-text")
            yield Static(
                "[b]↑↓ PgUp PgDn Home End[/b] scroll · [b]r[/b] retry · [b]esc[/b] close",
                classes="dialog-keys",
            )

    def on_mount(self) -> None:
        scroll = self.query_one("#job-error-scroll", VerticalScroll)
        scroll.focus()
        # a traceback ends with what went wrong: open at its end (Home goes to the top)
        self.call_after_refresh(scroll.scroll_end, animate=False)
