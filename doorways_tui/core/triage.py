"""The triage vocabulary, said once: the marks an artist puts on an image (its column, keys,
binding ids, words, glyph, style, undo words, export tag, contact-sheet caption, and whether
auto-advance moves on after it) and the views that list images by them. The key bindings,
the details panel, the tree, the session's messages and auto-advance, undo's words, the
export's tags, the contact sheet, the filter menu and the palette all derive from these
tables.

Plain data and words: no Textual, no store (every layer above ``core`` may read it).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

TriageKind = Literal["doors", "star", "reject", "rating", "rating_step", "suggested_doors"]
"""What a triage key asks of the session: set a mark, step the rating up or down, or take
the door count CLIP suggests (docs/curation.md) as the artist's own."""
TRIAGE_KINDS: tuple[TriageKind, ...] = get_args(TriageKind)


def triage_kind(name: str) -> TriageKind:
    """``name`` as a ``TriageKind`` (a key's action names one as plain text)."""
    for kind in TRIAGE_KINDS:
        if kind == name:
            return kind
    raise ValueError(f"no triage mark is called {name!r}")


def plural(n: int | None, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class Marked(Protocol):
    """An image's marks, as the store's ``Image`` has them."""

    @property
    def door_count(self) -> int | None: ...
    @property
    def starred(self) -> bool: ...
    @property
    def rejected(self) -> bool: ...
    @property
    def rating(self) -> int | None: ...


@dataclass(frozen=True)
class MarkKey:
    """One key that marks the image in view: the session's ``kind`` with ``value``."""

    key: str  # Textual key names, comma separated
    kind: TriageKind
    value: int | None
    id: str  # the binding id a ``[keymap]`` moves it by (the same on every screen)
    label: str  # the footer's and the help's word
    tooltip: str
    show: bool = True  # in the footer
    key_display: str | None = None


@dataclass(frozen=True, kw_only=True)
class Mark(ABC):
    """One way to judge an image, stored in the images column ``field``."""

    kind: TriageKind
    field: str
    keys: tuple[MarkKey, ...]
    style: str  # its badge in the details panel
    tree_style: str  # its brief mark beside a seed in the tree
    advances: bool = False
    """Setting it judges the image (it is no longer untriaged): with auto-advance on, the
    session then moves on to the next untriaged image."""

    def value(self, image: Marked) -> bool | int | None:
        return getattr(image, self.field)

    @property
    def noun(self) -> str:
        """The mark as a thing one sets: "door count", "reject"."""
        return self.field.replace("_", " ")

    @abstractmethod
    def badge(self, value: bool | int | None) -> str | None:
        """The details panel's word ("★ starred"); None when the mark is not set."""

    def brief(self, value: bool | int | None) -> str | None:
        """The tree's short form beside a seed ("★"); None: not shown there."""
        return self.badge(value)

    @abstractmethod
    def said(self, value: bool | int | None) -> str:
        """What a key that left ``value`` did, for the status line."""

    def undone(self, was: bool | int | None, where: str) -> str:
        """What an undo that put ``was`` back did, in the artist's words."""
        back = "none" if was is None else str(was)
        return f"{self.noun} on {where} (back to {back})"

    @abstractmethod
    def caption(self, value: bool | int | None) -> str | None:
        """The contact sheet's word ("*", "3 doors"); None when not set or not on the sheet."""

    @abstractmethod
    def tag(self, value: bool | int | None) -> str | None:
        """The export's tag ("doors:3"); None when the mark is not set."""


@dataclass(frozen=True, kw_only=True)
class Flag(Mark):
    """A mark one key toggles (star, reject)."""

    verb: str  # "star"
    unverb: str  # "unstar": what undoing a star did
    glyph: str
    adjective: str  # "starred": the badge's word and the export's tag
    cleared: str  # "star removed": what the key said when it took the mark off
    sheet_word: str  # the contact sheet's word: plain ASCII, its font may lack the glyph

    @property
    def noun(self) -> str:
        return self.verb

    def badge(self, value: bool | int | None) -> str | None:
        return f"{self.glyph} {self.adjective}" if value else None

    def brief(self, value: bool | int | None) -> str | None:
        return self.glyph if value else None

    def said(self, value: bool | int | None) -> str:
        return self.badge(value) or self.cleared

    def undone(self, was: bool | int | None, where: str) -> str:
        return f"{self.unverb if was else self.verb} on {where}"

    def tag(self, value: bool | int | None) -> str | None:
        return self.adjective if value else None

    def caption(self, value: bool | int | None) -> str | None:
        return self.sheet_word if value else None


@dataclass(frozen=True, kw_only=True)
class Count(Mark):
    """How many of something the image shows (doors), one digit key each."""

    unit: str  # "door"
    tag_name: str  # "doors"

    def badge(self, value: bool | int | None) -> str | None:
        return None if value is None else plural(value, self.unit)

    def said(self, value: bool | int | None) -> str:
        return plural(value, self.unit)

    def tag(self, value: bool | int | None) -> str | None:
        return None if value is None else f"{self.tag_name}:{value}"

    def label(self, n: int | None) -> str:
        """The count as the filter bar and the contact sheet say it: "3 doors"."""
        return f"{n} {self.tag_name}"

    def caption(self, value: bool | int | None) -> str | None:
        return None if value is None else self.label(value)


@dataclass(frozen=True, kw_only=True)
class Scale(Mark):
    """A rating from 1 to ``top``, stepped up and down; shown as filled and empty dots."""

    top: int
    glyph: str  # a point of the rating
    empty: str  # a point short of the top

    def badge(self, value: bool | int | None) -> str | None:
        return None if value is None else self.glyph * value + self.empty * (self.top - value)

    def brief(self, value: bool | int | None) -> str | None:
        return None  # the tree's seed labels leave the rating to the details

    def said(self, value: bool | int | None) -> str:
        return f"{self.field} {value}" if value else f"{self.field} cleared"

    def tag(self, value: bool | int | None) -> str | None:
        return None if value is None else f"{self.field}:{value}"

    def caption(self, value: bool | int | None) -> str | None:
        return None  # the contact sheet leaves the rating to the sidecar


def _door_key(n: int) -> MarkKey:
    return MarkKey(
        str(n),
        "doors",
        n,
        f"triage.doors-{n}",
        "doors" if n == 0 else plural(n, "door"),
        f"this image has {plural(n, 'door')}",
        show=n == 0,  # one footer entry, "0-9 doors", stands for the ten
        key_display="0-9" if n == 0 else None,
    )


ACCEPT_SUGGESTION = MarkKey(
    "y",
    "suggested_doors",
    None,
    "triage.accept-suggestion",
    "accept suggestion",
    "take the door count CLIP suggests (the details' 'suggests' line) as this image's tag",
    show=False,
)
"""The one key that turns a suggestion into a tag: until it is pressed, a suggestion is
shown beside the artist's marks, never as one."""
DOORS = Count(
    kind="doors",
    field="door_count",
    keys=(*(_door_key(n) for n in range(10)), ACCEPT_SUGGESTION),
    style="bold green",
    tree_style="green",
    advances=True,
    unit="door",
    tag_name="doors",
)
STAR = Flag(
    kind="star",
    field="starred",
    keys=(
        MarkKey("s", "star", None, "triage.star", "star", "star (pick) this image, or unstar it"),
    ),
    style="bold magenta",
    tree_style="bold magenta",
    verb="star",
    unverb="unstar",
    glyph="★",
    adjective="starred",
    cleared="star removed",
    sheet_word="*",
)
REJECT = Flag(
    kind="reject",
    field="rejected",
    keys=(
        MarkKey(
            "x", "reject", None, "triage.reject", "reject", "reject (figures, failed), or undo it"
        ),
    ),
    style="bold red",
    tree_style="red",
    advances=True,
    verb="reject",
    unverb="un-reject",
    glyph="✗",
    adjective="rejected",
    cleared="no longer rejected",
    sheet_word="rejected",
)
def _rating_key(n: int) -> MarkKey:
    """A direct rating key: ``alt+1``..``alt+5`` (Lightroom's and darktable's 1-5, with
    alt: the bare digits are the door counts), ``alt+0`` clears the rating."""
    return MarkKey(
        f"alt+{n}",
        "rating",
        n or None,
        f"triage.rating-{n}",
        f"rating {n}" if n else "no rating",
        f"rate this image {n} of 5" if n else "clear the rating",
        show=False,
        key_display="alt+0-5" if n == 0 else None,
    )


RATING = Scale(
    kind="rating",
    field="rating",
    keys=(
        *(_rating_key(n) for n in range(6)),
        MarkKey(
            "plus",
            "rating_step",
            1,
            "triage.rating-up",
            "rating +",
            "raise the rating (1-5)",
            show=False,
        ),
        MarkKey(
            "minus",
            "rating_step",
            -1,
            "triage.rating-down",
            "rating -",
            "lower the rating (1-5)",
            show=False,
        ),
    ),  # fmt: skip
    style="yellow",
    tree_style="yellow",
    top=5,
    glyph="●",
    empty="○",
)

MARKS: tuple[Mark, ...] = (DOORS, STAR, REJECT, RATING)
"""Every mark, in the order of their keys and the export's tags."""
MARK_BY_KIND: dict[str, Mark] = {m.kind: m for m in MARKS} | {
    "rating_step": RATING,
    "suggested_doors": DOORS,
}
MARK_BY_FIELD: dict[str, Mark] = {m.field: m for m in MARKS}
SUMMARY_ORDER: tuple[Mark, ...] = (STAR, DOORS, REJECT, RATING)
"""How a summary of an image's marks lists them (the details panel, the contact sheet's
caption): the pick first."""
ADVANCING: tuple[Mark, ...] = tuple(m for m in MARKS if m.advances)
"""The marks that judge an image: what the store's "untriaged" predicate tests, and what
auto-advance moves on after."""


MORE_STEPS = 1.5
"""``more steps`` on a live run: its step target times this (rounded up)."""


def more_steps(total: int) -> int:
    """The step target ``more steps`` gives a run of ``total`` steps (+50%, at least one)."""
    return max(total + 1, math.ceil(total * MORE_STEPS))


def rejected_early(kind: str, rejected: bool, status: str) -> bool:
    """Whether a finished image is what a run rejected while it ran kept (its job was
    cancelled, its image is the preview it had reached)."""
    return kind == "final" and bool(rejected) and status == "cancelled"


def early_words(step: int) -> str:
    """How the tree and the details name a run rejected while it ran."""
    return f"rejected early at step {step}"


def advancing_words() -> str:
    """What auto-advance moves on after: "a door count or a reject"."""
    return " or ".join(f"a {mark.noun}" for mark in ADVANCING)


@dataclass(frozen=True)
class Unmarked:
    """How an image with no door count that is not rejected is shown: still to triage."""

    word: str = "untriaged"
    glyph: str = "?"
    style: str = "cyan"


UNTRIAGED = Unmarked()


def triage_words(kind: TriageKind, image: Marked) -> str:
    """What a triage key did to ``image`` (as it is after the write): "3 doors"."""
    mark = MARK_BY_KIND[kind]
    return mark.said(mark.value(image))


def export_tags(image: Marked) -> list[str]:
    """The export's tags of ``image``: ["doors:3", "starred", "rating:4"]."""
    return [tag for mark in MARKS if (tag := mark.tag(mark.value(image))) is not None]


def sheet_marks(record: Mapping[str, Any]) -> list[str]:
    """The contact sheet's caption marks of an exported record (its marks by field, as the
    sidecar has them): ["*", "3 doors", "rejected"]."""
    return [
        word for mark in SUMMARY_ORDER if (word := mark.caption(record.get(mark.field))) is not None
    ]


# -- views -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewKind:
    """A filter on the images, by their marks: the store's ``ImageFilter.view``."""

    name: str  # also its label
    key: str  # in the filter menu
    what: str  # what it lists


STARRED_VIEW = "starred"
"""The view of the picks (what the export's "starred" choice exports)."""
VIEWS: tuple[ViewKind, ...] = (
    ViewKind("all", "a", "every image"),
    ViewKind(STARRED_VIEW, "s", "the picks"),
    ViewKind("untagged", "u", "no door count yet, not rejected"),
    ViewKind("rejected", "x", "figures, failures"),
)
DOORS_VIEW = "doors"
"""The view of the images with one door count (its digit is the filter menu's key)."""
DOORS_VIEW_WHAT = "images with that many doors"
VIEW_NAMES = frozenset(v.name for v in VIEWS)


def doors_view_label(n: int | None) -> str:
    return DOORS.label(n)


def view_label(view: str, door_count: int | None = None) -> str:
    """The filter bar's name of a view: "starred", "3 doors"."""
    if view == DOORS_VIEW:
        return doors_view_label(door_count)
    if view not in VIEW_NAMES:
        raise ValueError(f"no view is called {view!r}")
    return view


def views_summary() -> str:
    """The filter key's tooltip: "all / starred / untagged / rejected / by door count"."""
    return " / ".join([*(v.name for v in VIEWS), "by door count"])
