"""The one rule for characters a reader cannot see: refused where text comes in, escaped
where it goes out.

Typed text (a prompt, a style, a theme name) is refused at the door if it carries such a
character (``doorways_engine.config.check_text``), and everything shown on a terminal escapes the
same characters (``doorways_tui.core.text.printable``), so what was accepted is exactly what
shows as itself. The rule is by Unicode category: controls (Cc: C0, DEL, C1, which drive a
terminal), format characters (Cf: bidi overrides and isolates, zero-width space, BOM,
word joiner, tag characters, which reorder or hide text), lone surrogates (Cs: bytes that
were not UTF-8, which cannot even be written back out), and the line and paragraph
separators (Zl, Zp). Private-use and unassigned code points stay: they are drawn as a
glyph or a box, never hidden, and icon fonts and newer emoji use them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Invisible characters that scripts and emoji need: ZWNJ (Persian, Indic) and ZWJ
# (emoji sequences such as 👩‍🔬). They cannot move the cursor or reorder text.
KEPT_FORMAT = frozenset("\u200c\u200d")
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# The characters with the Unicode Bidi_Control property: named "control" in messages.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# A subdivision flag (🏴 + tag letters + cancel tag, e.g. Scotland) is an emoji; its tag
# characters are kept there and count as hidden anywhere else (hidden "tag" text).
FLAG_RE = re.compile("\U0001f3f4[\U000e0030-\U000e0039\U000e0061-\U000e007a]{1,8}\U000e007f")


def hidden_char(ch: str) -> bool:
    """True for one character a reader cannot see or that drives the terminal (by itself:
    the tag characters of a flag are hidden here; ``hidden_chars`` keeps them)."""
    return ch not in KEPT_FORMAT and unicodedata.category(ch) in HIDDEN_CATEGORIES


def hidden_chars(text: str, *, allow: str = "") -> Iterator[tuple[int, str]]:
    """Each (0-based index, character) of ``text`` that is hidden, outside an emoji flag
    and not in ``allow`` (a caller that takes several lines allows ``"\\n"``)."""
    if text.isprintable():  # the common case; every hidden character is unprintable
        return
    flags = [m.span() for m in FLAG_RE.finditer(text)] if "\U0001f3f4" in text else []
    for index, ch in enumerate(text):
        if ch in allow or not hidden_char(ch):
            continue
        if any(start <= index < end for start, end in flags):
            continue
        yield index, ch


def first_hidden(text: str, *, allow: str = "\t\n") -> tuple[int, str] | None:
    """The first hidden character in ``text`` and its 1-based position, or None. Typed
    text may hold tabs and newlines (a note, a prompt pasted over lines)."""
    found = next(hidden_chars(text, allow=allow), None)
    return None if found is None else (found[0] + 1, found[1])


def describe_hidden(label: str, text: str, *, allow: str = "\t\n") -> str | None:
    """``prompt contains a control character (U+001B ESCAPE) at position 5``,
    ``... a hidden character (U+200B ZERO WIDTH SPACE) ...``, ``... is not valid UTF-8
    (byte \\xff at position 4)``; or None if ``text`` is clean."""
    found = first_hidden(text, allow=allow)
    if found is None:
        return None
    position, char = found
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"{label} is not valid UTF-8 (byte \\x{code - 0xDC00:02x} at position {position})"
    if unicodedata.category(char) == "Cs":
        return f"{label} is not valid UTF-8 (a lone surrogate U+{code:04X} at position {position})"
    name = unicodedata.name(char, "")
    what = f"U+{code:04X}{f' {name}' if name else ''}"
    kind = "control" if unicodedata.category(char) == "Cc" or char in BIDI_CONTROLS else "hidden"
    return f"{label} contains a {kind} character ({what}) at position {position}"
