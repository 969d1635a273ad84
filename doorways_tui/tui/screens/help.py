"""The help screen (``?``): how a triage pass goes, and every key as it is bound now
(after the config's ``[keymap]``), with the id to remap it by."""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from doorways_tui.core.text import plain
from doorways_tui.tui.keys import key_of

PARAGRAPHS = (
    "[b]Doorways[/b] — make and curate CLIP-guided VQGAN art.",
    "[b]A triage pass[/b]: [b]{next}[/b] jumps to the next image nobody has judged. Type how"
    " many doors it has ([b]{doors}[/b]), [b]{reject}[/b] if it has figures or failed,"
    " [b]{star}[/b] to star a favourite, then [b]{next}[/b] again. Every key saves at once;"
    " [b]{undo}[/b] undoes. [b]a[/b] turns on auto-advance. [b]r[/b] rerolls the variant with"
    " a new seed, [b]e[/b] edits its prompt into a child variant, [b]i[/b] starts a run from"
    " this image. [b]f[/b] filters, [b]/[/b] searches, [b]E[/b] exports.",
    "[b]A live run[/b] (a seed that is running): the same keys judge it while it paints."
    " [b]{reject}[/b] cancels it and keeps its preview as rejected early ([b]{undo}[/b] resumes"
    " it), [b]{star}[/b] marks it promising (its variant's queued seeds go first), a digit is"
    " kept for its final image, [b]{more}[/b] gives it more steps. [b]{watch}[/b] shows every"
    " running run in a grid.",
    "The tree (up/down, enter to open) picks what [b]n[/b]/[b]p[/b]/arrows step through: the"
    " whole library, a theme, or a variant; a seed shows that run, live while it paints.",
    "[b]Remap a key[/b] in ~/.config/doorways/config.toml, by the binding's id:\n"
    '  \\[keymap]\n  "triage.star" = "space"\n  "nav.next-untriaged" = "n,down"\n'
    "A triage or navigation key wins over the tree's own (above, Space no longer opens a node"
    " and Down no longer moves the tree's cursor); the app warns when a remap takes a key.",
)
"""The help's text, a paragraph a string: the screen wraps them to its width (only the
keymap example breaks its lines)."""
INTRO = "\n\n".join(PARAGRAPHS).format(  # the triage keys as bound by default
    next=key_of("nav.next-untriaged"),
    doors=key_of("triage.doors-0"),
    reject=key_of("triage.reject"),
    star=key_of("triage.star"),
    undo=key_of("triage.undo"),
    more=key_of("runs.more-steps"),
    watch=key_of("view.watch"),
)


@dataclass(frozen=True)
class KeyHelp:
    keys: str
    description: str
    binding_id: str
    tooltip: str


def key_table(keys: list[KeyHelp]) -> Table:
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("does")
    table.add_column(Text("id (for [keymap])"), style="dim", no_wrap=True)
    for k in keys:
        does = Text(k.description, style="bold")
        if k.tooltip:
            does.append(f" — {k.tooltip}", style="")
        # the keys come from the user's keymap (a file): plain text, printable
        table.add_row(plain(k.keys), does, plain(k.binding_id))
    return table


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [
        Binding(
            "escape,q,question_mark,f1",
            "close",
            "close",
            id="help.close",
            tooltip="back to the workstation",
        ),
    ]

    def __init__(self, keys: list[KeyHelp]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static(INTRO, id="help-intro")
            yield Static(key_table(self.keys), id="help-keys")

    def action_close(self) -> None:
        self.dismiss(None)
