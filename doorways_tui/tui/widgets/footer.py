"""The main screen's footer: the triage keys first (in the order of
``tui.keys.TRIAGE_BINDINGS``, which follows the marks of ``core.triage``), then help and
quit, then the rest; a key that does not fit whole is left out rather than cut. Below
``NARROW`` columns it turns compact."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.events import Resize
from textual.widgets import Footer

from doorways_tui.tui.compat.textual import FooterKey
from doorways_tui.tui.keys import TRIAGE_BINDINGS

NARROW = 100  # columns; the main screen folds its side pane under the image below this
THEN = ("help", "quit")  # after the triage keys: how to get help and leave
_TRIAGE_ORDER = {b.action: n for n, b in enumerate(TRIAGE_BINDINGS)}


def footer_rank(action: str) -> tuple[int, int]:
    """Where a key with ``action`` goes in the footer: triage first, in the triage
    table's order, then help and quit, then the rest (a stable sort keeps their order)."""
    if action in _TRIAGE_ORDER:
        return (0, _TRIAGE_ORDER[action])
    if action in THEN:
        return (1, THEN.index(action))
    return (2, 0)


class DoorwaysFooter(Footer):
    def compose(self) -> ComposeResult:
        keys = super().compose()  # the palette key is docked right: its place is moot
        yield from sorted(keys, key=lambda k: footer_rank(getattr(k, "action", "")))

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
        else:
            self._fit()

    async def recompose(self) -> None:
        await super().recompose()
        self._fit()

    def _fit(self) -> None:
        """Show the keys, in order, while each fits whole between the left edge and the
        palette key docked on the right; leave out every key from the first that does not.
        Widths come from each key's text and styles, not from a layout pass (the footer
        of a screen under a dialog is not laid out, nor one about to be shown)."""
        room = self.size.width
        keys = []
        for key in self.query_children(FooterKey):
            if key.has_class("-command-palette"):
                room -= _width(key)
            else:
                keys.append(key)
        fits = True
        for key in keys:
            room -= _width(key)
            fits = fits and room >= 0
            key.display = fits


def _width(key: FooterKey) -> int:
    """The columns ``key`` takes: its text, padding, border and margins."""
    size = key.app.size
    content = key.get_content_width(size, size)
    return content + key.styles.gutter.width + key.styles.margin.width
