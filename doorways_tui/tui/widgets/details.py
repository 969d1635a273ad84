"""The details of the image in view: tags, prompt, seed, parameters, lineage, losses."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from doorways_tui.core.text import plain
from doorways_tui.core.triage import SUMMARY_ORDER, UNTRIAGED
from doorways_tui.store import Image
from doorways_tui.workstation.browse import ImageDetail
from engine.config import shown_settings

# Rows the panel shows elsewhere: the seed is in its first line.
_IN_HEAD = frozenset({"seed"})


def tags_text(image: Image) -> Text:
    """★ starred · 3 doors · ✗ rejected · ●●●○○ — or "untriaged"."""
    parts = [
        Text(badge, style=mark.style)
        for mark in SUMMARY_ORDER
        if (badge := mark.badge(mark.value(image))) is not None
    ]
    if not parts:
        return Text(UNTRIAGED.word, style=UNTRIAGED.style)
    return Text(" · ").join(parts)


class Details(Static):
    """Everything about one image, as a two-column table. Every string from the library
    goes through ``plain``."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.detail: ImageDetail | None = None

    def show(self, detail: ImageDetail | None, note: str = "") -> None:
        self.detail = detail
        # A fixed-size panel: no layout pass per key (that would reflow the whole screen).
        if detail is None:
            # the note can be a failed run's error, from the library
            self.update(plain(note or "no image", "dim", newlines=True), layout=False)
            return
        self.update(self._table(detail), layout=False)

    def _table(self, d: ImageDetail) -> Table:
        image, job, config = d.image, d.job, d.config
        table = Table.grid(padding=(0, 1))
        table.add_column(style="dim", no_wrap=True)
        table.add_column(overflow="fold")
        if image.kind == "preview":
            head = Text(
                f"seed {job.seed} · live preview at step {image.step}/{job.total}",
                style="bold yellow",
            )
        else:
            head = Text(f"#{image.id} · seed {job.seed}", style="bold")
        table.add_row("image", head)
        if image.kind == "final":
            table.add_row("tags", tags_text(image))
        table.add_row("theme", plain(d.theme.name))
        table.add_row("prompt", plain(d.variant.prompt, "bold"))
        if d.variant.style:
            table.add_row("style", plain(d.variant.style))
        if len(d.lineage) > 1:
            table.add_row("edits", plain(" › ".join(d.lineage), "italic"))
        for label, text in shown_settings(config):  # each field says how it shows
            if label not in _IN_HEAD:
                table.add_row(label, plain(text))
        if config.get("vqgan") == "demo" or config.get("clip") == "demo":
            table.add_row("", Text("demo models: random weights, abstract output", style="yellow"))
        if d.losses:
            loss = " · ".join(f"{k} {v:.3f}" for k, v in sorted(d.losses.items()))
            table.add_row("loss", plain(loss))
        if job.seconds:
            table.add_row("time", Text(f"{job.seconds:.1f} s"))
        if image.note:
            table.add_row("note", plain(image.note, newlines=True))
        return table
