"""Themes from a plain list: group headings and ``Left / Right`` lines, as people paste them.

An artist's series often starts as a list in notes or a blog post. The rules, one per line:

- a line with ``/`` (or ``|``) between two or three sides is a set: ``Heaven / Hell``,
  ``Sea / Dreams / Sky`` (left, centre, right);
- any other non-blank line is a group heading; Markdown marks around it (``## Nature``,
  ``**Nature**``) and a trailing ``:`` are dropped. Sets before the first heading form the
  group ``Pairs``; a heading with no set under it is an error (a pair typed with another
  separator, ``Heaven - Hell``, would otherwise pass for a heading);
- bullets and numbering (``-``, ``*``, ``•``, ``1.``, ``2)``) and quotes around a side
  (``“Heaven”``, ``'Hell'``) are dropped; blank lines are skipped; a heading that comes
  twice adds to its group; lines of punctuation only (``---``) are skipped. Apostrophes
  inside names (``Grimm’s``) stay as typed.

Text is NFC-normalised; zero-width spaces and byte-order marks, which web pages hide in
pasted text, are removed; any other control or hidden character is an error. Every error
names the line. The list says only what to explore: everything else (template, doorway
words, settings, seeds) comes from a base theme, a settings pack (``DEFAULT_PACK``).
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from pathlib import Path

from doorways_engine.text import describe_hidden
from doorways_tui.themes.model import Group, Subject, Theme, ThemeError
from doorways_tui.themes.parse import _Locator, check_prompts

DEFAULT_PACK = "quick"  # settings for a list: small, few steps, no realm list
UNGROUPED = "Pairs"  # the group of sets listed before any heading
LIST_SOURCE = "<typed list>"
SEPARATORS = re.compile(r"[/|]")
DROPPED = dict.fromkeys(map(ord, "\u200b\ufeff\u2060"))  # ZWSP, BOM, word joiner
_BULLET = re.compile(r"^(?:[-*+•·▪◦‣–—]|\(?\d{1,3}[.)]|\[[ xX]?\])\s+")
_HEADING_MARKS = re.compile(r"^#+\s*|\s*#*$")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "„": "“", "«": "»", "‹": "›", "”": "”"}


def is_list_file(path: Path | str) -> bool:
    """A file that is not ``.toml`` is read as a list."""
    return Path(path).suffix.lower() != ".toml"


def parse_list(text: str, *, source: str = LIST_SOURCE) -> tuple[Group, ...]:
    """The groups of a plain list (the rules above); ThemeError names the line."""
    text = unicodedata.normalize("NFC", text.translate(DROPPED))
    order: list[str] = []
    sets: dict[str, list[tuple[str, ...]]] = {}
    heading: tuple[str, int] | None = None  # the open heading and its line, until a set
    current = UNGROUPED  # the group the next set goes to
    for number, raw in enumerate(text.splitlines(), start=1):
        if (problem := describe_hidden(f"line {number}", raw, allow="\t")) is not None:
            raise ThemeError(problem, source=source, line=number)
        line = _BULLET.sub("", " ".join(raw.split())).strip()
        line = _unwrap(line, "**", "__")
        if SEPARATORS.search(line) is None:
            if not any(ch.isalnum() for ch in line):  # blank, or a rule: ---, ***, ===
                continue
            if heading is not None:
                raise _empty(heading, source)
            heading = (_heading(line), number)
            continue
        parts = tuple(_side(p) for p in SEPARATORS.split(line))
        if len(parts) not in (2, 3) or not all(parts):
            raise ThemeError(
                f"{raw.strip()!r} is not 'left / right' or 'left / centre / right'",
                source=source,
                line=number,
            )
        if heading is not None:
            current, heading = heading[0], None
        if current not in sets:
            order.append(current)
            sets[current] = []
        sets[current].append(parts)
    if heading is not None:
        raise _empty(heading, source)
    if not order:
        raise ThemeError("no pairs given: one 'left / right' per line", source=source)
    return tuple(Group(name, tuple(sets[name])) for name in order)


def theme_from_list(
    text: str, *, base: Theme | None = None, name: str = "", source: str = LIST_SOURCE
) -> Theme:
    """A theme from a list, borrowing everything else from ``base``: its settings, words
    and templates, and its notes (describe, realm) for the subjects it names itself.
    A subject ``base`` does not name is a plain subject: its realm list is not applied."""
    groups = parse_list(text, source=source)
    base = base or Theme(name=name or "List", groups=())
    names = {n for g in groups for s in g.sets for n in s}
    theme = dataclasses.replace(
        base,
        name=name.strip() or _name_from(source),
        description="",
        groups=groups,
        subjects=_known_subjects(base, names),
        source=source,
    )
    normal = unicodedata.normalize("NFC", text.translate(DROPPED))
    check_prompts(theme, _Locator(normal, source))
    return theme


def _name_from(source: str) -> str:
    return "Typed list" if source.startswith("<") else Path(source).stem


def _known_subjects(base: Theme, names: set[str]) -> dict[str, Subject]:
    """The base theme's notes for the listed names, matched regardless of case ("bodhi")."""
    known = {key.casefold(): subject for key, subject in base.subjects.items()}
    subjects = {}
    for name in names:
        subject = base.subjects.get(name) or known.get(name.casefold())
        if subject is not None:
            text = name if subject.text == subject.name else subject.text
            subjects[name] = dataclasses.replace(subject, name=name, text=text)
    return subjects


def _unwrap(text: str, *marks: str) -> str:
    for mark in marks:
        if len(text) > 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
            text = text[len(mark) : -len(mark)].strip()
    return text


def _heading(line: str) -> str:
    line = _HEADING_MARKS.sub("", line).strip()
    return _unwrap(line.rstrip(":").strip(), "**", "__", "*", "_") or line


def _side(text: str) -> str:
    """One side of a set, without the quotes around it and a list's trailing comma."""
    text = text.strip().rstrip(",;").strip()
    while len(text) > 1 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return _unwrap(text, "**", "__")


def _empty(heading: tuple[str, int], source: str) -> ThemeError:
    return ThemeError(
        f"heading {heading[0]!r} has no pairs under it (a pair is 'left / right')",
        source=source,
        line=heading[1],
    )
