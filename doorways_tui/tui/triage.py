"""The artist's triage, shared by the main, loupe and compare screens: the ``Session`` (where
the artist is and what each key does to the library) and the one queue its operations run
in, in key order, off the UI thread.

The main screen owns it and hands it to the loupe and the compare screen, so a key pressed
there is saved in the same order as one pressed on the main screen, and its result comes
back to the main screen as ``Triage.Updated``. The image in view lives here too: a screen
that shows it subscribes to ``shown``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.dom import DOMNode
from textual.message import Message
from textual.signal import Signal

from doorways_tui.core.triage import TriageKind, triage_kind
from doorways_tui.tui.serial import SerialOps
from doorways_tui.workstation.browse import ImageDetail, View
from doorways_tui.workstation.session import Session, Update


class Triage:
    @dataclass
    class Updated(Message):
        """A session operation finished (posted to the screen that owns the triage)."""

        update: Update

    def __init__(self, owner: DOMNode, session: Session) -> None:
        self.session = session
        self.ops = SerialOps(
            owner, self.Updated, lambda text: self.Updated(Update(message=text, severity="warning"))
        )
        self.detail: ImageDetail | None = None
        self.shown: Signal[ImageDetail | None] = Signal(owner, "shown")
        """Published when the image in view changes (the loupe follows it)."""
        self.said: Signal[Update] = Signal(owner, "said")
        """Published with each update that says something (the watch view shows it)."""

    @property
    def idle(self) -> bool:
        return self.ops.idle

    def show(self, detail: ImageDetail | None) -> None:
        """The image in view is now ``detail``: tell the screens that show it."""
        if detail != self.detail:
            self.detail = detail
            self.shown.publish(detail)

    def submit(self, op: Callable[[], Update], *, key: str | None = None) -> None:
        """Run ``op`` after every operation asked for before it (see ``SerialOps``)."""
        self.ops.submit(op, key=key)

    # -- the keys every screen with the image in view shares ------------------------------------

    def mark(self, kind: TriageKind, value: int | None = None) -> None:
        self.submit(lambda: self.session.triage(kind, value))

    def undo(self) -> None:
        self.submit(self.session.undo)

    def more_steps(self) -> None:
        self.submit(self.session.more_steps)

    def show_job(self, job_id: int) -> None:
        """Put a run in view (the watch view's selection), its preview if it runs."""
        self.submit(lambda: self.session.show_job(job_id), key="scope")

    def step(self, *, forward: bool, untriaged: bool) -> None:
        self.submit(lambda: self.session.step(forward=forward, untriaged=untriaged))

    def edge(self, *, last: bool) -> None:
        self.submit(lambda: self.session.edge(last=last))

    def refresh(self) -> None:
        """Reload the image in view (another screen or process changed it)."""
        self.submit(self.session.refresh, key="refresh")

    def set_view(self, view: View) -> None:
        self.submit(lambda: self.session.set_view(view), key="scope")


class TriageKeys:
    """The key actions of a screen that shows the image in view (the main screen, the
    loupe): each hands its key to the screen's ``Triage``. The bindings come from
    ``tui.keys.TRIAGE_BINDINGS``."""

    triage: Triage

    def action_mark(self, kind: str, value: int | None = None) -> None:
        self.triage.mark(triage_kind(kind), value)

    def action_undo(self) -> None:
        self.triage.undo()

    def action_step(self, forward: bool, untriaged: bool) -> None:
        self.triage.step(forward=forward, untriaged=untriaged)

    def action_edge(self, last: bool) -> None:
        self.triage.edge(last=last)
