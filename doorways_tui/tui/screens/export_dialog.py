"""The export dialog (``E``): where to, and which images (starred, or the current filter)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from textual.binding import Binding

from doorways_tui.core.text import printable
from doorways_tui.export.files import ExportError, check_folder, export_folder
from doorways_tui.tui.screens.field_dialog import FieldDialog


@dataclass(frozen=True)
class ExportRequest:
    folder: Path
    starred: bool  # False: the images of the current filter and scope


class ExportDialog(FieldDialog[ExportRequest]):
    FIELD_ID = "export-folder"
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

    def title_text(self) -> str:
        return "Export"

    def explanation(self) -> str:
        return (
            "PNGs with their parameters, a JSON and CSV sidecar, and a contact "
            "sheet. Images already in the folder are skipped and nothing is "
            "overwritten; damaged images are reported. Tab edits the folder."
        )

    def field_value(self) -> str:
        return str(self.folder)

    def keys_text(self) -> str:
        return (
            f"[b]s[/b]/[b]Enter[/b] starred images · [b]v[/b] this filter "
            f"({escape(printable(self.filter_label))}) · [b]Esc[/b] cancel"
        )

    def submit(self) -> None:
        self.action_export(True)

    def action_export(self, starred: bool) -> None:
        try:
            folder = check_folder(export_folder(self.field))
        except ExportError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.dismiss(ExportRequest(folder, starred))
