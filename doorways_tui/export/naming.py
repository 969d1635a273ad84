"""File names from prompts and subjects, keeping their letters (Fólkvangr, A’aru) intact.

Export names files after what is in them; mangling "Fólkvangr" to "F_lkvangr" loses the
point, so only what a file system cannot hold is replaced: path separators, characters
Windows reserves, control characters, and names Windows reserves for devices.
"""

from __future__ import annotations

import re
import unicodedata

from doorways_engine.text import hidden_char

RESERVED_CHARS = '<>:"/\\|?*'
WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
MAX_BYTES = 240  # under the common 255-byte limit, leaving room for a suffix


def safe_filename(text: str, max_len: int = 80) -> str:
    """A single path component made from ``text``: NFC, no separators or control
    characters, at most ``max_len`` characters (and ``MAX_BYTES`` bytes of UTF-8)."""
    text = unicodedata.normalize("NFC", text)
    chars = [_replacement(ch) for ch in text]
    name = re.sub(r"\s+", " ", "".join(chars))
    name = re.sub(r"_+-[-_]*", "-", re.sub(r"-_+", "-", name))  # "_-_" from '"|' reads "-"
    name = re.sub(r"_{2,}", "_", name).strip(" ._-")
    name = _truncate(name, max(1, max_len))
    if not name:
        return "untitled"
    stem = name.split(".", 1)[0].strip().upper()
    if stem in WINDOWS_DEVICES:
        name = f"_{name}"
    return name


def _replacement(ch: str) -> str:
    """Separators (path, or a prompt's ``|``) read as a dash, "Heaven - Hell"; other
    whitespace as a space."""
    if ch in "/\\|":
        return "-"
    if ch.isspace():
        return " "
    return "_" if _unsafe(ch) else ch


def _unsafe(ch: str) -> bool:
    if ch in RESERVED_CHARS:
        return True
    # What the terminal escapes (doorways_engine.text: controls, zero-width and bidi format
    # characters, surrogates, line separators), and private-use or unassigned code points,
    # which a file system or archive tool elsewhere may show differently or refuse.
    # Ordinary spaces (Zs) and the joiners of emoji and scripts are kept.
    return hidden_char(ch) or unicodedata.category(ch) in ("Co", "Cn")


def _truncate(name: str, max_len: int) -> str:
    """Cut to ``max_len`` characters and ``MAX_BYTES`` bytes without splitting a letter
    from its combining marks, then tidy the new end."""
    cut = name[:max_len]
    while len(cut.encode("utf-8")) > MAX_BYTES:
        cut = cut[:-1]
    if len(cut) < len(name):
        while cut and unicodedata.combining(name[len(cut)]):
            cut = cut[:-1]  # the next character belongs to the last letter: drop both
        cut = cut.rstrip(" ._-")
    return cut
