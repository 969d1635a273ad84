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
            self._show_all()
            self.call_after_refresh(self._fit)

    async def recompose(self) -> None:
        await super().recompose()
        self.call_after_refresh(self._fit)

    def _keys(self) -> list[FooterKey]:
        return [k for k in self.query_children(FooterKey) if not k.has_class("-command-palette")]

    def _show_all(self) -> None:
        for key in self._keys():
            key.display = True

    def _fit(self) -> None:
        """Leave out, from the first that does not fit, every key that would be cut by the
        footer's edge or hidden under the palette key docked on the right (not while the
        screen is under another: its keys are not laid out then)."""
        every = [k for k in self.query_children(FooterKey) if k.display]
        if not self.region or not all(k.region for k in every):
            return
        palettes = [k for k in every if k.has_class("-command-palette")]
        right = min([self.region.right, *(p.region.x for p in palettes)])
        fits = True
        for key in self._keys():
            fits = fits and key.region.right + key.styles.margin.right <= right
            key.display = fits
