"""What an empty library shows instead of an image: how to start (the demo is one key)."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.widgets import Static

from doorways_tui.core.text import printable
from doorways_tui.tui.keys import key_hints
from doorways_tui.workstation.demo import DEMO_NOTE

TRIAGE_HINTS = key_hints(
    "triage.doors-0", "triage.star", "triage.reject", "nav.next-untriaged", "triage.undo"
)

WELCOME = (
    "[b]Welcome to Doorways.[/b]\n\n"
    "Your library is empty: {root}\n\n"
    "Press [b reverse] d [/] to queue a small demo theme (“entrance to heaven | entrance to"
    " hell”, 3 variants × 3 seeds, 128×64) for the tiny demo models, and to start a worker"
    " in the background. Images appear here as they finish; triage them with {keys}.\n\n"
    "[i]{note}[/i]\n\n"
    "[b reverse] T [/] queues a real theme · [b reverse] ? [/] lists every key ·"
    " [b reverse] ctrl+p [/] finds any action"
)


class Welcome(Static):
    def __init__(self, root: Path, *, id: str | None = None) -> None:
        super().__init__(
            WELCOME.format(
                root=escape(printable(str(root))), note=escape(DEMO_NOTE), keys=TRIAGE_HINTS
            ),
            id=id,
        )
