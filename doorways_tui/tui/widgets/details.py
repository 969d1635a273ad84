"""The details of the image in view: tags, prompt, seed, parameters, lineage, losses; or,
where the screen has three lines for them, a card of what triage needs (seed and marks,
the prompt with every side of a panorama, the settings if room is left)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from textual.events import Resize
from textual.widgets import Static

from doorways_engine.config import shown_settings
from doorways_tui.core.text import plain, printable
from doorways_tui.core.triage import REJECT, SUMMARY_ORDER, UNTRIAGED, early_words, rejected_early
from doorways_tui.store import Image
from doorways_tui.workstation.browse import ImageDetail
from doorways_tui.workstation.curation import suggestion_text

# Rows the panel shows elsewhere: the seed is in its first line.
_IN_HEAD = frozenset({"seed"})
CARD_LINES = 3  # the card: its head, then the prompt on up to two lines
SIDES = " | "  # how a panorama's (or any several-prompt) sides are joined


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


def head_text(d: ImageDetail) -> Text:
    """The first line: "#12 · seed 3", or a running job's "seed 3 · live preview at step 7/40"."""
    image, job = d.image, d.job
    if image.kind == "preview":
        head = Text(
            f"seed {job.seed} · live preview at step {image.step}/{job.total}", style="bold yellow"
        )
        if image.starred or image.door_count is not None or image.rating is not None:
            head.append(" · ")  # marks put on the run while it runs
            head.append_text(tags_text(image))
        return head
    head = Text(f"#{image.id} · seed {job.seed}", style="bold")
    if rejected_early(image.kind, image.rejected, job.status):
        head.append(f" · {early_words(image.step)}", style=REJECT.style)
    return head


def fit_sides(prompt: str, room: int) -> str:
    """``prompt`` in at most ``room`` cells with every side of "left | right" still there:
    the sides too long for an even share of the room are cut with "…", the short ones
    leave their unused share to the others."""
    sides = [side.strip() for side in prompt.split("|") if side.strip()] or [prompt.strip()]
    joined = SIDES.join(sides)
    if cell_len(joined) <= room:
        return joined
    left = max(room - cell_len(SIDES) * (len(sides) - 1), len(sides))
    shares: dict[int, int] = {}
    shortest_first = sorted(range(len(sides)), key=lambda i: cell_len(sides[i]))
    for done, i in enumerate(shortest_first):
        shares[i] = min(cell_len(sides[i]), left // (len(sides) - done))
        left -= shares[i]
    cut = []
    for i, side in enumerate(sides):
        text = Text(side)
        text.truncate(max(shares[i], 1), overflow="ellipsis")
        cut.append(text.plain)
    return SIDES.join(cut)


def _lines(text: Text, console: Console, width: int) -> int:
    return len(text.wrap(console, width))


class Details(Static):
    """Everything about one image, as a two-column table; with ``compact``, the card.
    Every string from the library goes through ``plain``."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.detail: ImageDetail | None = None
        self.note = ""
        self.compact = False

    def show(self, detail: ImageDetail | None, note: str = "") -> None:
        self.detail, self.note = detail, note
        # A fixed-size panel: no layout pass per key (that would reflow the whole screen).
        # With no image the card's band may take only the note's lines (the screen's CSS):
        # a layout pass then, which is not per key.
        self.set_class(detail is None, "-none")
        if detail is None:
            # the note can be a failed run's error, from the library
            self.update(plain(note or "no image", "dim", newlines=True), layout=self.compact)
            return
        self.update(self._card(detail) if self.compact else self._table(detail), layout=False)

    def set_compact(self, compact: bool) -> None:
        """The card (``True``) or the table; the screen says which fits."""
        if compact != self.compact:
            self.compact = compact
            self.show(self.detail, self.note)

    def on_resize(self, event: Resize) -> None:
        if self.compact:  # the card fits the prompt to the width
            self.show(self.detail, self.note)

    def _card(self, d: ImageDetail) -> Group:
        """Three lines: seed and marks (and the theme), the prompt with every side showing
        (its style after it where there is room), the settings if the prompt left a line."""
        image = d.image
        width = max(self.content_size.width, 20)
        head = head_text(d)
        head.no_wrap, head.overflow = True, "ellipsis"
        if image.kind == "final":
            head.append(" · ")
            head.append_text(tags_text(image))
        head.append("  ")
        head.append_text(plain(d.theme.name, "dim"))
        prompt = self._fitted_prompt(d, width)
        lines: list[Text] = [head, prompt]
        if _lines(prompt, self.app.console, width) < CARD_LINES - 1:
            settings = " · ".join(
                f"{label} {value}"
                for label, value in shown_settings(d.config)
                if label not in _IN_HEAD
            )
            lines.append(plain(settings, "dim"))
            lines[-1].no_wrap, lines[-1].overflow = True, "ellipsis"
        return Group(*lines)

    def _fitted_prompt(self, d: ImageDetail, width: int) -> Text:
        """The prompt on at most two lines: with its style, else without, else each side
        shortened until it fits."""
        console = self.app.console
        prompt = printable(d.variant.prompt)
        styled = Text(prompt, style="bold")
        if d.variant.style:
            styled.append(f" · {printable(d.variant.style)}", style="dim")
            if _lines(styled, console, width) <= CARD_LINES - 1:
                return styled
        room = cell_len(prompt)
        while True:
            text = Text(fit_sides(prompt, room), style="bold")
            if room <= width or _lines(text, console, width) <= CARD_LINES - 1:
                return text
            room -= 4

    def _table(self, d: ImageDetail) -> Table:
        image, job, config = d.image, d.job, d.config
        table = Table.grid(padding=(0, 1))
        table.add_column(style="dim", no_wrap=True)
        table.add_column(overflow="fold")
        table.add_row("image", head_text(d))
        if image.kind == "final":
            table.add_row("tags", tags_text(image))
        if d.suggestion is not None:  # CLIP's guess: worded and styled apart from the tags
            table.add_row("suggests", plain(suggestion_text(d.suggestion), "italic"))
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
