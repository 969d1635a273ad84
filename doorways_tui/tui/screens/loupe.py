"""The loupe (``z``): the image in view, as large as the terminal allows, with the triage
keys still working (cull full screen, like a photo tool's loupe view)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from doorways_tui.core.text import printable
from doorways_tui.store.files import library_path_or_none
from doorways_tui.tui.screens.base import WorkerErrors
from doorways_tui.tui.screens.keys import TRIAGE_BINDINGS
from doorways_tui.tui.screens.triage_actions import TriageActions
from doorways_tui.tui.widgets.details import tags_text
from doorways_tui.tui.widgets.preview import ImagePreview
from doorways_tui.workstation.browse import ImageDetail

if TYPE_CHECKING:
    from doorways_tui.tui.screens.main import MainScreen


def caption(detail: ImageDetail | None, status: str = "") -> Text:
    if detail is None:
        return Text("no image", style="dim")
    image = detail.image
    text = Text(f" #{image.id} · seed {detail.job.seed} ", style="bold")
    if image.kind == "final":
        text += tags_text(image)
    else:
        text.append(f"live preview, step {image.step}/{detail.job.total}", style="yellow")
    text.append(f"  {printable(detail.variant.prompt)}", style="dim")
    if status:
        text.append(f"  {printable(status)}", style="italic")
    return text


class LoupeScreen(WorkerErrors, TriageActions, Screen):
    CSS_PATH = "loupe.tcss"
    BINDINGS = [
        *TRIAGE_BINDINGS,
        Binding("escape,z,q", "close", "back", id="loupe.close", tooltip="back to the workstation"),
    ]

    def __init__(self, main: MainScreen) -> None:
        super().__init__()
        self._main = main

    @property
    def main_screen(self) -> MainScreen:
        return self._main

    def compose(self) -> ComposeResult:
        yield ImagePreview(id="loupe-image", protocol=self._main.dapp.preview_protocol)
        yield Static("", id="loupe-caption")

    def on_mount(self) -> None:
        self.watch(self._main, "detail", self._show)

    def _show(self, detail: ImageDetail | None) -> None:
        preview = self.query_one("#loupe-image", ImagePreview)
        if detail is None:
            preview.show(None)
        else:
            shown = library_path_or_none(self._main.dapp.library.root, detail.image.path)
            preview.show(shown, version=detail.version)
        self.query_one("#loupe-caption", Static).update(caption(detail))

    def action_close(self) -> None:
        self.dismiss(None)
