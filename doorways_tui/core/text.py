"""Text from the library or a file, made safe to show on a terminal.

Prompts, theme names, notes, errors and paths come from rows and files that anyone may
have written. A terminal obeys escape sequences wherever they appear in its output (an
OSC can set the window title or, with OSC 52, the clipboard; a CSI can clear the screen),
and bidi controls such as U+202E reorder what the reader sees. Rich and Textual strip only
BEL, BS, VT, FF and CR, so every place that shows such text passes it through
``printable`` first. Stored text is never changed: escaping is for display only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from doorways_engine.text import hidden_chars

if TYPE_CHECKING:
    from rich.text import Text

_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def printable(text: str, *, newlines: bool = False) -> str:
    r"""``text`` with every control and format character shown as a Python-style escape:
    ESC as ``\x1b``, U+202E as ``\u202e``; letters, accents, CJK and emoji unchanged.

    Which characters: ``doorways_engine.text``'s rule, the one typed text is refused by (controls,
    format characters but the joiners ZWNJ and ZWJ and an emoji flag's tags, lone
    surrogates, line and paragraph separators), so what the library accepted shows as
    itself and what it refused never reaches the terminal raw.

    Escapes rather than control pictures (␛): they name the exact code point (so the
    culprit can be found in the file with ``grep -P``), they cover C1 and format
    characters, which have no pictures, and they are ASCII, which every font and encoding
    shows. Escapes rather than deleting: the reader sees that the text carries something
    odd. (A prompt that really has a backslash and ``x1b`` reads the same: display only.)
    ``newlines=True`` keeps ``\n`` for text shown on several lines (a note, an error);
    a table cell or a one-line label shows it as ``\n``, tabs always as ``\t``."""
    out: list[str] = []
    last = 0
    for index, ch in hidden_chars(text, allow="\n" if newlines else ""):
        out.append(text[last:index])
        out.append(_escape_char(ch))
        last = index + 1
    if not out:  # the common case: nothing to escape
        return text
    out.append(text[last:])
    return "".join(out)


def _escape_char(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def plain(value: object, style: str = "", *, newlines: bool = False) -> Text:
    """Library text for a Rich table or a widget: a ``Text``, so never read as markup
    (``[@click=...]``, a stray ``[/]``), and ``printable``."""
    from rich.text import Text  # here: ``queue list --json`` never needs rich

    return Text(printable(str(value), newlines=newlines), style=style)


def duration(seconds: float | None) -> str:
    """How long, at the precision a glance needs: ``45s``, ``3m20s``, ``2h05m``; ``?`` when
    unknown. The one spelling of a duration or an age, in the app and on the command line."""
    if seconds is None:
        return "?"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class PrintableFormatter(logging.Formatter):
    """A log formatter whose lines are ``printable``: a worker logs prompts and errors,
    and its log is read on a terminal (``tail -f``, or the foreground worker itself)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), newlines=True)


PANORAMA_SEP = " | "  # the engine's panorama syntax: left | (centre |) right


def fold_shared(prompt: str, *, sep: str = PANORAMA_SEP) -> str:
    """The sides of a panorama prompt with the words they all share at the start and the
    end folded away: ``"entrance to Heaven, by X | entrance to Hell, by X"`` ->
    ``"Heaven | Hell"``; a short label that still tells both sides apart. A prompt of one
    side, or sides that differ in nothing, comes back as it was (spaces collapsed)."""
    sides = [side.split() for side in prompt.split(sep)]
    if len(sides) < 2 or all(s == sides[0] for s in sides):
        return " ".join(prompt.split())
    head = _shared_run(sides)
    tail = _shared_run([s[head:][::-1] for s in sides])
    folded = [" ".join(s[head : len(s) - tail]).strip(" ,;:") for s in sides]
    if not all(folded):
        return sep.join(" ".join(s) for s in sides)
    return sep.join(folded)


def _shared_run(sides: list[list[str]]) -> int:
    """How many words every side starts with alike, leaving each side at least one."""
    n, most = 0, min(len(s) for s in sides) - 1
    while n < most and len({s[n] for s in sides}) == 1:
        n += 1
    return n


def human_size(n: float) -> str:
    """``12.3 MB``: a size a person reads (backups, the trash)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
