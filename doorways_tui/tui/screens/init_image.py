"""The init image dialog (``i``): the image is copied for editing; Enter starts a new run
from the copy (as it is then), with the parent's config and seed."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class InitImageScreen(ModalScreen[str | None]):
    CSS_PATH = "dialogs.tcss"
    AUTO_FOCUS = ""  # no focus: the one-key choices work at once
    BINDINGS = [
        Binding(
            "enter",
            "queue",
            "queue",
            id="init.queue",
            tooltip="queue a run that starts from the file",
        ),
        Binding("escape", "cancel", "cancel", id="init.cancel", tooltip="close without queueing"),
    ]

    def __init__(self, image_id: int, path: Path) -> None:
        super().__init__()
        self.image_id = image_id
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"New run from image #{self.image_id}", classes="dialog-title")
            yield Static(
                "The image was copied here. Edit it first if you like (paint out a figure, "
                "widen a door) with any editor; the run starts from the file as it is when "
                "you press Enter. Tab edits the path to use another file."
            )
            yield Input(str(self.path), id="init-path")
            yield Static(
                "[b]Enter[/b] queue (a child variant, same prompt and seed) · [b]Esc[/b] cancel",
                classes="dialog-keys",
            )

    @on(Input.Submitted, "#init-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_queue()

    def action_queue(self) -> None:
        path = Path(self.query_one("#init-path", Input).value.strip()).expanduser()
        if not path.is_file():
            self.notify(f"{path} is not a file", severity="warning")
            return
        self.dismiss(str(path))

    def action_cancel(self) -> None:
        self.dismiss(None)
