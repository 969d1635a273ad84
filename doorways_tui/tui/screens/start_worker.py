"""Offered once when jobs wait and no worker runs: start one in the background?"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class StartWorkerScreen(ModalScreen[bool]):
    CSS_PATH = "dialogs.tcss"
    BINDINGS = [
        Binding(
            "y,enter",
            "answer(True)",
            "start",
            id="start-worker.yes",
            tooltip="start a detached worker",
        ),
        Binding(
            "n,escape",
            "answer(False)",
            "not now",
            id="start-worker.no",
            tooltip="leave the jobs queued",
        ),
    ]

    def __init__(self, queued: int) -> None:
        super().__init__()
        self.queued = queued

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("No worker is running", classes="dialog-title")
            yield Static(
                f"{self.queued} job(s) are queued. Start a worker in the background? It runs "
                "on its own (detached), so it keeps going when you quit the app or your SSH "
                "connection drops; `doorways status` shows it, and w starts another later."
            )
            yield Static("[b]y[/b] start it · [b]n[/b] not now", classes="dialog-keys")

    def action_answer(self, start: bool) -> None:
        self.dismiss(start)
