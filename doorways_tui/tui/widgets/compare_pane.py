"""One pane of the compare screen: an image with its seed and tags."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from doorways_tui.store import Image
from doorways_tui.store.files import library_path_or_none
from doorways_tui.tui.widgets.details import tags_text
from doorways_tui.tui.widgets.preview import ImagePreview


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

    def set_image(self, image: Image, root: Path) -> None:
        self.image = image
        shown = library_path_or_none(root, image.path)
        self.query_one(ImagePreview).show(shown, version=image.sha256)
        text = Text(f"#{image.id} · seed {self.seed} ", style="bold") + tags_text(image)
        self.query_one(".compare-caption", Static).update(text)
