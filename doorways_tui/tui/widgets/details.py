"""The details of the image in view: tags, prompt, seed, parameters, lineage, losses."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from doorways_tui.core.text import plain
from doorways_tui.core.triage import DOORS, RATING, REJECT, STAR, UNTRIAGED
from doorways_tui.store import Image
from doorways_tui.workstation.browse import ImageDetail

_PARAMS = (
    ("size", lambda c: f"{c.get('width', '?')}×{c.get('height', '?')}"),
    ("steps", lambda c: c.get("steps")),
    ("cutn", lambda c: c.get("cutn")),
    ("lr", lambda c: c.get("lr")),
    ("panorama", lambda c: c.get("panorama")),
    ("symmetry", lambda c: _symmetry(c)),
    ("models", lambda c: f"{c.get('vqgan', '?')} · {c.get('clip', '?')}"),
    ("init", lambda c: _init(c)),
)


def _symmetry(config: dict[str, Any]) -> str | None:
    parts = [
        f"{name} {config[key]:g}"
        for name, key in (
            ("edge", "edge_symmetry"),
            ("tone", "tone_symmetry"),
            ("semantic", "semantic_symmetry"),
        )
        if isinstance(config.get(key), int | float) and config[key]
    ]
    return ", ".join(parts) or None


def _init(config: dict[str, Any]) -> str | None:
    path = config.get("init_image")
    if not path:
        return None
    return f"{str(path).rsplit('/', 1)[-1]} (weight {config.get('init_weight', 0):g})"


SUMMARY_ORDER = (STAR, DOORS, REJECT, RATING)
"""The details' order of the marks: the pick first."""


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
        for name, get in _PARAMS:
            value = get(config)
            if value is not None:
                table.add_row(name, plain(value))
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
