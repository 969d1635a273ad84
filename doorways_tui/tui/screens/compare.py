"""The compare screen (``c``): two to four images side by side (the image in view and
other seeds of its variant). Left/right pick a pane; the triage keys apply to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from doorways_tui.store import Image
from doorways_tui.store.files import library_path_or_none
from doorways_tui.tui.screens.base import WorkerErrors
from doorways_tui.tui.screens.keys import DOOR_BINDINGS
from doorways_tui.tui.screens.serial import SerialOps
from doorways_tui.tui.widgets.details import tags_text
from doorways_tui.tui.widgets.preview import ImagePreview

if TYPE_CHECKING:
    from doorways_tui.tui.screens.main import MainScreen


class ComparePane(Vertical, can_focus=True):
    """One image with its seed and tags; the focused pane is the one the keys change."""

    def __init__(self, image: Image, seed: int, protocol: str | None) -> None:
        super().__init__(classes="compare-pane")
        self.image = image
        self.seed = seed
        self._protocol = protocol

    def compose(self) -> ComposeResult:
        yield ImagePreview(protocol=self._protocol)
        yield Static("", classes="compare-caption")

    def set_image(self, image: Image, root) -> None:
        self.image = image
        shown = library_path_or_none(root, image.path)
        self.query_one(ImagePreview).show(shown, version=image.sha256)
        text = Text(f"#{image.id} · seed {self.seed} ", style="bold") + tags_text(image)
        self.query_one(".compare-caption", Static).update(text)


class CompareScreen(WorkerErrors, Screen):
    CSS_PATH = "compare.tcss"
    BINDINGS = [
        *DOOR_BINDINGS,
        Binding("s", "triage('star')", "star", id="triage.star", tooltip="star this pane's image"),
        Binding(
            "x",
            "triage('reject')",
            "reject",
            id="triage.reject",
            tooltip="reject this pane's image",
        ),
        Binding("u,ctrl+z", "undo", "undo", id="triage.undo", tooltip="undo the last change"),
        Binding(
            "right,l,tab",
            "move(1)",
            "next pane",
            id="compare.next",
            tooltip="the pane to the right",
        ),
        Binding(
            "left,h,shift+tab",
            "move(-1)",
            "previous pane",
            id="compare.prev",
            tooltip="the pane to the left",
        ),
        Binding(
            "escape,c,q", "close", "back", id="compare.close", tooltip="back to the workstation"
        ),
    ]

    @dataclass
    class Changed(Message):
        """Images changed by a key (or an undo): repaint their panes."""

        images: list[Image]

    @dataclass
    class Refused(Message):
        text: str

    def __init__(self, main: MainScreen, images: list[Image]) -> None:
        super().__init__()
        self.main = main
        self.images = images
        self.ops = SerialOps(self, self.Changed, self.Refused)

    def compose(self) -> ComposeResult:
        lib = self.main.session.lib
        seeds = {image.id: lib.queue.job(image.job_id).seed for image in self.images}
        with Horizontal(id="compare"):
            for image in self.images:
                yield ComparePane(image, seeds[image.id], self.main.dapp.preview_protocol)
        yield Footer()

    def on_mount(self) -> None:
        root = self.main.dapp.library.root
        for pane in self.query(ComparePane):
            pane.set_image(pane.image, root)
        self.query(ComparePane).first().focus()

    @property
    def pane(self) -> ComparePane:
        focused = self.focused
        return focused if isinstance(focused, ComparePane) else self.query(ComparePane).first()

    def action_doors(self, n: int) -> None:
        image_id = self.pane.image.id
        self.ops.submit(lambda: [self.main.session.triage_image(image_id, "doors", n)])

    def action_triage(self, kind: str) -> None:
        image_id = self.pane.image.id
        self.ops.submit(lambda: [self.main.session.triage_image(image_id, kind)])  # type: ignore[arg-type]

    def action_undo(self) -> None:
        lib = self.main.session.lib

        def undo() -> list[Image]:
            lib.history.undo()
            return [lib.triage.image(p.image.id) for p in self.query(ComparePane)]

        self.ops.submit(undo)

    def action_move(self, delta: int) -> None:
        panes = list(self.query(ComparePane))
        index = panes.index(self.pane) if self.pane in panes else 0
        panes[(index + delta) % len(panes)].focus()

    @on(Changed)
    def _changed(self, event: Changed) -> None:
        root = self.main.dapp.library.root
        by_id = {image.id: image for image in event.images}
        for pane in self.query(ComparePane):
            if pane.image.id in by_id:
                pane.set_image(by_id[pane.image.id], root)
        self.main.ops.submit(self.main.session.refresh, key="refresh")

    @on(Refused)
    def _refused(self, event: Refused) -> None:
        self.notify(event.text, severity="warning")

    def action_close(self) -> None:
        self.dismiss(None)
