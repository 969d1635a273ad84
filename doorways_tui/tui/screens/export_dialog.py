"""The export dialog (``E``): where to, and which images (starred, or the current filter)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from doorways_tui.core.text import printable
from doorways_tui.export.files import ExportError, check_folder, export_folder


@dataclass(frozen=True)
class ExportRequest:
    folder: Path
    starred: bool  # False: the images of the current filter and scope


class ExportDialog(ModalScreen[ExportRequest | None]):
    CSS_PATH = "dialogs.tcss"
    AUTO_FOCUS = ""  # no focus: the one-key choices work at once
    BINDINGS = [
        Binding(
            "s,enter",
            "export(True)",
            "starred",
            id="export.starred",
            tooltip="export the starred images (not those also rejected)",
        ),
        Binding(
            "v",
            "export(False)",
            "this filter",
            id="export.filter",
            tooltip="export the images of the current filter",
        ),
        Binding("escape", "cancel", "cancel", id="export.cancel", tooltip="close"),
    ]

    def __init__(self, folder: Path, filter_label: str) -> None:
        super().__init__()
        self.folder = folder
        self.filter_label = filter_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Export", classes="dialog-title")
            yield Static(
                "PNGs with their parameters, a JSON and CSV sidecar, and a contact "
                "sheet. Images already in the folder are skipped and nothing is "
                "overwritten; damaged images are reported. Tab edits the folder."
            )
            yield Input(str(self.folder), id="export-folder")
            yield Static(
                f"[b]s[/b]/[b]Enter[/b] starred images · [b]v[/b] this filter "
                f"({escape(printable(self.filter_label))}) · [b]Esc[/b] cancel",
                classes="dialog-keys",
            )

    @on(Input.Submitted, "#export-folder")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_export(True)

    def action_export(self, starred: bool) -> None:
        try:
            folder = check_folder(export_folder(self.query_one("#export-folder", Input).value))
        except ExportError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.dismiss(ExportRequest(folder, starred))

    def action_cancel(self) -> None:
        self.dismiss(None)
