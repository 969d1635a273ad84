"""The main screen's footer: below ``NARROW`` columns it turns compact and puts the help
and quit keys first, so an 80-column terminal still shows how to get help and leave."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer

from doorways_tui.tui.compat.textual import FooterKey

NARROW = 100  # columns; the main screen hides its side pane below this too
FIRST = ("help", "quit")


class DoorwaysFooter(Footer):
    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        if not self.narrow:
            yield from keys
            return
        first = [k for k in keys if isinstance(k, FooterKey) and k.action in FIRST]
        yield from first + [k for k in keys if k not in first]

    @property
    def narrow(self) -> bool:
        return self.app.size.width < NARROW

    def on_mount(self) -> None:
        self._was_narrow = self.narrow
        self.compact = self.narrow

    def on_resize(self, event: Resize) -> None:
        if self.narrow != self._was_narrow:
            self._was_narrow = self.compact = self.narrow
            self.refresh(recompose=True)
