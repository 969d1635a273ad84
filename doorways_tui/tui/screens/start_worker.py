"""Asked before a worker starts from the app: once when jobs wait and no worker runs, and
when `w` would put a second worker on a device that already has one here."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from doorways_tui.core.text import plain


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


class BusyDeviceScreen(StartWorkerScreen):
    """``w`` on a device that already has a live worker on this machine: the CLI's
    same-device warning, and a question (two workers share one GPU's memory and time)."""

    def __init__(self, warning: str) -> None:
        super().__init__(0)
        self.warning = warning

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("This device already has a worker", classes="dialog-title")
            yield Static(plain(self.warning))  # worker ids and devices: rows anyone wrote
            yield Static(
                "Start another worker on it anyway? One worker per GPU is usually fastest; "
                "for another GPU set device (DOORWAYS_DEVICE=cuda:1, or the config file), or "
                "run `doorways worker --detach --device cuda:1`.",
                classes="dim",
            )
            yield Static("[b]y[/b] start it anyway · [b]n[/b] not now", classes="dialog-keys")
