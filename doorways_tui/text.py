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
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# Invisible characters that scripts and emoji need: ZWNJ (Persian, Indic) and ZWJ
# (emoji sequences such as 👩‍🔬). They cannot move the cursor or reorder text.
_KEPT_FORMAT = frozenset("\u200c\u200d")
# Categories shown as escapes: controls (C0, DEL, C1), format characters (bidi overrides
# and isolates, LRM/RLM, zero-width space, BOM, tags), lone surrogates (filenames read
# with surrogateescape; they cannot even be encoded for output), line/paragraph separators.
_ESCAPED = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
# A subdivision flag (🏴 + tag letters + cancel tag, e.g. Scotland) is an emoji; its tag
# characters are kept there and escaped anywhere else (hidden "tag" text).
_FLAG = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{1,8}\U000e007f")


def printable(text: str, *, newlines: bool = False) -> str:
    r"""``text`` with every control and format character shown as a Python-style escape:
    ESC as ``\x1b``, U+202E as ``\u202e``; letters, accents, CJK and emoji unchanged.

    Escapes rather than control pictures (␛): they name the exact code point (so the
    culprit can be found in the file with ``grep -P``), they cover C1 and format
    characters, which have no pictures, and they are ASCII, which every font and encoding
    shows. Escapes rather than deleting: the reader sees that the text carries something
    odd. (A prompt that really has a backslash and ``x1b`` reads the same: display only.)
    ``newlines=True`` keeps ``\n`` for text shown on several lines (a note, an error);
    a table cell or a one-line label shows it as ``\n``, tabs always as ``\t``."""
    if text.isprintable():  # the common case: nothing to do (spaces are printable)
        return text
    out: list[str] = []
    last = 0
    for flag in _FLAG.finditer(text):
        out.append(_escape_run(text[last : flag.start()], newlines))
        out.append(flag.group())
        last = flag.end()
    out.append(_escape_run(text[last:], newlines))
    return "".join(out)


def _escape_run(text: str, newlines: bool) -> str:
    return "".join(_escape_char(ch, newlines) for ch in text)


def _escape_char(ch: str, newlines: bool) -> str:
    if ch == "\n" and newlines:
        return ch
    if ch in _KEPT_FORMAT or unicodedata.category(ch) not in _ESCAPED:
        return ch
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


class PrintableFormatter(logging.Formatter):
    """A log formatter whose lines are ``printable``: a worker logs prompts and errors,
    and its log is read on a terminal (``tail -f``, or the foreground worker itself)."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record), newlines=True)
