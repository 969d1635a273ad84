"""The compare screen (``c``): two to four images side by side (the image in view and
other seeds of its variant). Left/right pick a pane; the triage keys apply to it. ``u``
undoes as the workstation's does (through the session: a step another process made is
named first and undone at a second ``u``), and says what it did in a notification."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.widgets import Footer

from doorways_tui.core.triage import DOORS, REJECT, STAR, Flag, triage_kind
from doorways_tui.store import Image
from doorways_tui.tui.keys import UNDO_BINDING, mark_binding
from doorways_tui.tui.screens.base import ReportingScreen
from doorways_tui.tui.serial import SerialOps
from doorways_tui.tui.triage import Triage
from doorways_tui.tui.widgets.compare_pane import ComparePane

PANE_MARKS = (DOORS, STAR, REJECT)
"""The marks the panes take (a flag's tooltip names the pane, not the image in view)."""


class CompareScreen(ReportingScreen):
    CSS_PATH = "compare.tcss"
    BINDINGS = [
        *(
            mark_binding(
                key,
                tooltip=f"{mark.verb} this pane's image" if isinstance(mark, Flag) else None,
            )
            for mark in PANE_MARKS
            for key in mark.keys
        ),
        UNDO_BINDING,
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
        said: str = ""  # what an undo did (or asks), to show
        severity: SeverityLevel = "information"

    @dataclass
    class Refused(Message):
        text: str

    def __init__(self, triage: Triage, images: list[Image], protocol: str | None) -> None:
        super().__init__()
        self.triage = triage
        self.images = images
        self._protocol = protocol
        # the panes' own queue: their writes come back here; the image in view is
        # refreshed through the triage's queue once they have
        self.ops = SerialOps(self, self._changed_message, self.Refused)

    @property
    def root(self) -> Path:
        return self.triage.session.lib.root

    def compose(self) -> ComposeResult:
        lib = self.triage.session.lib
        seeds = {image.id: lib.queue.job(image.job_id).seed for image in self.images}
        with Horizontal(id="compare"):
            for image in self.images:
                yield ComparePane(image, seeds[image.id], self._protocol)
        yield Footer()

    def on_mount(self) -> None:
        root = self.root
        for pane in self.query(ComparePane):
            pane.set_image(pane.image, root)
        self.query(ComparePane).first().focus()

    @property
    def pane(self) -> ComparePane:
        focused = self.focused
        return focused if isinstance(focused, ComparePane) else self.query(ComparePane).first()

    def action_mark(self, kind: str, value: int | None = None) -> None:
        image_id, session, mark = self.pane.image.id, self.triage.session, triage_kind(kind)
        self.ops.submit(lambda: [session.triage_image(image_id, mark, value)])

    def action_undo(self) -> None:
        session = self.triage.session
        ids = [p.image.id for p in self.query(ComparePane)]

        def undo() -> CompareScreen.Changed:
            # through the session: a step made elsewhere is named before it is undone
            update = session.undo()
            images = [session.lib.images.image(i) for i in ids]
            return self.Changed(images, update.message or "", update.severity)

        self.ops.submit(undo)

    def action_move(self, delta: int) -> None:
        panes = list(self.query(ComparePane))
        index = panes.index(self.pane) if self.pane in panes else 0
        panes[(index + delta) % len(panes)].focus()

    def _changed_message(self, result: list[Image] | Changed) -> Changed:
        return result if isinstance(result, self.Changed) else self.Changed(result)

    @on(Changed)
    def _changed(self, event: Changed) -> None:
        if event.said:
            self.notify(event.said, severity=event.severity)
        by_id = {image.id: image for image in event.images}
        for pane in self.query(ComparePane):
            if pane.image.id in by_id:
                pane.set_image(by_id[pane.image.id], self.root)
        self.triage.refresh()

    @on(Refused)
    def _refused(self, event: Refused) -> None:
        self.notify(event.text, severity="warning")

    def action_close(self) -> None:
        self.dismiss(None)
