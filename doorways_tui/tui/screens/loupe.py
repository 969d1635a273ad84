"""The loupe (``z``): the image in view, as large as the terminal allows, with the triage
keys still working (cull full screen, like a photo tool's loupe view)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from doorways_tui.core.text import printable
from doorways_tui.store.files import library_path_or_none
from doorways_tui.tui.keys import TRIAGE_BINDINGS
from doorways_tui.tui.screens.base import ReportingScreen
from doorways_tui.tui.triage import Triage, TriageKeys
from doorways_tui.tui.widgets.details import tags_text
from doorways_tui.tui.widgets.preview import ImagePreview
from doorways_tui.workstation.browse import ImageDetail


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


class LoupeScreen(TriageKeys, ReportingScreen):
    """Shows the triage's image in view and sends the triage keys to it."""

    CSS_PATH = "loupe.tcss"
    BINDINGS = [
        *TRIAGE_BINDINGS,
        Binding("escape,z,q", "close", "back", id="loupe.close", tooltip="back to the workstation"),
    ]

    def __init__(self, triage: Triage, protocol: str | None) -> None:
        super().__init__()
        self.triage = triage
        self._protocol = protocol

    def compose(self) -> ComposeResult:
        yield ImagePreview(id="loupe-image", protocol=self._protocol)
        yield Static("", id="loupe-caption")

    def on_mount(self) -> None:
        self._show(self.triage.detail)
        self.triage.shown.subscribe(self, self._show, immediate=True)

    def _show(self, detail: ImageDetail | None) -> None:
        preview = self.query_one("#loupe-image", ImagePreview)
        if detail is None:
            preview.show(None)
        else:
            shown = library_path_or_none(self.triage.session.lib.root, detail.image.path)
            preview.show(shown, version=detail.version)
        self.query_one("#loupe-caption", Static).update(caption(detail))

    def on_unmount(self) -> None:
        self.triage.shown.unsubscribe(self)

    def action_close(self) -> None:
        self.dismiss(None)
