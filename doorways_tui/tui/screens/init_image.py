"""The init image dialog (``i``): the image is copied for editing; Enter starts a new run
from the copy (as it is then), with the parent's config and seed."""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding

from doorways_tui.tui.screens.field_dialog import FieldDialog


class InitImageScreen(FieldDialog[str]):
    FIELD_ID = "init-path"
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

    def title_text(self) -> str:
        return f"New run from image #{self.image_id}"

    def explanation(self) -> str:
        return (
            "The image was copied here. Edit it first if you like (paint out a figure, "
            "widen a door) with any editor; the run starts from the file as it is when "
            "you press Enter. Tab edits the path to use another file."
        )

    def field_value(self) -> str:
        return str(self.path)

    def keys_text(self) -> str:
        return "[b]Enter[/b] queue (a child variant, same prompt and seed) · [b]Esc[/b] cancel"

    def submit(self) -> None:
        self.action_queue()

    def action_queue(self) -> None:
        path = Path(self.field.strip()).expanduser()
        if not path.is_file():
            self.notify(f"{path} is not a file", severity="warning")
            return
        self.dismiss(str(path))
