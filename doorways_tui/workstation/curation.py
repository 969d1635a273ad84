"""CLIP's suggestions in the workstation (docs/curation.md): the details' words for them,
the key that accepts a suggested door count, lists the store's filters cannot order by
themselves (best prompt match, "more like this"), compare on the nearest neighbours, and
near-duplicate seeds folded into one row. No Textual, no torch: the neighbours are one
matrix product over the store's cached matrix.

A suggestion is only ever shown as "suggests ..." beside the artist's marks; it becomes a
tag only through ``accepted_doors`` (one key, undoable like any other triage key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from doorways_tui.core.triage import plural
from doorways_tui.store import Image, ImageFilter, Library, Position, StoreError
from doorways_tui.store.curation import Suggestion
from doorways_tui.store.listing import match_order, untriaged_among
from doorways_tui.workstation.browse import SeedRow

LIKE_LIMIT = 24  # neighbours "more like this" lists
COMPARE_NEAREST = 3  # the compare screen: the image and this many nearest
NOT_JUDGED = "not judged yet: doorways index"
_SCAN = 256  # ids read at a time when looking for the next untriaged one


def suggestion_text(s: Suggestion | None) -> str:
    """The details' line: "looks like 2 doors (0.81) · figures unlikely (0.90) · left
    matches 0.31 / right 0.27"; ``NOT_JUDGED`` without one."""
    if s is None:
        return NOT_JUDGED
    parts = []
    if s.doors is not None:
        parts.append(f"looks like {plural(s.doors, 'door')} ({s.doors_confidence or 0:.2f})")
    if s.figures is not None:
        word = "likely" if s.figures else "unlikely"
        parts.append(f"figures {word} ({s.figures_confidence or 0:.2f})")
    if s.match_left is not None and s.match_right is not None:
        parts.append(f"left matches {s.match_left:.2f} / right {s.match_right:.2f}")
    elif s.match_whole is not None:
        parts.append(f"prompt matches {s.match_whole:.2f}")
    return " · ".join(parts) or "no probes to judge by ([curation] in the config)"


def accepted_doors(lib: Library, image: Image) -> int:
    """The door count CLIP suggests for ``image``, for the accept key to set; refused with
    one line when there is none to accept."""
    s = lib.curation.suggestion(image.id)
    if s is None:
        raise StoreError(f"#{image.id} has no suggestion to accept ({NOT_JUDGED})")
    if s.doors is None:
        raise StoreError(f"#{image.id}: CLIP suggested no door count (no door probes)")
    return s.doors


# -- lists in an order of their own ---------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """Images to step through in this order instead of the filter's (by id): ``ids`` as
    they were when the list was made; their marks are read fresh."""

    ids: tuple[int, ...]
    label: str  # the filter bar's name for it

    def index(self, image_id: int | None) -> int | None:
        try:
            return self.ids.index(image_id) if image_id is not None else None
        except ValueError:
            return None


def by_match(lib: Library, flt: ImageFilter, label: str) -> Listing:
    """The filter's images, best prompt match first (the "best prompt match" sort)."""
    return Listing(tuple(match_order(lib, flt)), label)


def more_like_this(lib: Library, image: Image, *, within_theme: bool) -> Listing:
    """``image`` then its nearest neighbours (same CLIP), across the library or within its
    theme; refused with one line when the image has no embedding yet."""
    theme_id = lib.tree.variant(image.variant_id).theme_id if within_theme else None
    near = lib.curation.neighbours(image.id, limit=LIKE_LIMIT, theme_id=theme_id)
    where = "its theme" if within_theme else "whole library"
    return Listing((image.id, *(n.image_id for n in near)), f"like #{image.id} · {where}")


def nearest(lib: Library, image: Image, n: int = COMPARE_NEAREST) -> list[Image]:
    """What compare opens on: ``image`` and its ``n`` nearest neighbours."""
    near = lib.curation.neighbours(image.id, limit=n)
    return [image, *_images(lib, [x.image_id for x in near])]


def _images(lib: Library, ids: Sequence[int]) -> list[Image]:
    found = []
    for image_id in ids:
        try:
            found.append(lib.images.image(image_id))
        except StoreError:  # deleted since the list was made
            continue
    return found


def step(
    lib: Library, listing: Listing, current: int | None, *, forward: bool, untriaged: bool
) -> Image | None:
    """The next (or previous) image of ``listing`` from ``current`` (None: from the
    start, or the end), optionally only an untriaged one."""
    ids = listing.ids if forward else listing.ids[::-1]
    rest = ids[ids.index(current) + 1 :] if listing.index(current) is not None else ids
    for start in range(0, len(rest), _SCAN):
        chunk = rest[start : start + _SCAN]
        wanted = untriaged_among(lib, chunk) if untriaged else set(chunk)
        for image_id in chunk:
            if image_id in wanted and (found := _images(lib, [image_id])):
                return found[0]  # one deleted since the list was made is passed over
    return None


def first(lib: Library, listing: Listing) -> Image | None:
    """Where a list starts: its first untriaged image, else its first."""
    return step(lib, listing, None, forward=True, untriaged=True) or step(
        lib, listing, None, forward=True, untriaged=False
    )


def position(lib: Library, listing: Listing, image_id: int | None) -> Position:
    at = listing.index(image_id)
    left = len(untriaged_among(lib, listing.ids))
    return Position(index=0 if at is None else at + 1, total=len(listing.ids), untriaged=left)


# -- near-duplicates folded -------------------------------------------------------------------


def fold_seeds(lib: Library, rows: Sequence[SeedRow], threshold: float) -> list[SeedRow]:
    """A variant's seed rows with near-duplicates folded: the finished images whose
    embeddings are at least ``threshold`` alike show as their group's first row, with
    ``alike`` the number folded into it. Unfinished runs and unjudged images stay."""
    finished = [r.image.id for r in rows if r.image is not None]
    groups = lib.curation.duplicate_groups(finished, threshold)
    hidden = {i for g in groups for i in g[1:]}
    size = {g[0]: len(g) - 1 for g in groups}
    return [
        replace(r, alike=size.get(r.image.id, 0)) if r.image is not None else r
        for r in rows
        if r.image is None or r.image.id not in hidden
    ]


def fold_words(folded: bool, threshold: float) -> str:
    """What the fold key said."""
    if folded:
        return f"near-duplicate seeds folded into one row (similarity ≥ {threshold:g})"
    return "every seed listed (near-duplicates unfolded)"
