"""What the workstation browses: a scope in the tree, a filter, the image in view and its
details. Plain functions over the Library, called from the app's thread workers (and the
benchmark); no Textual, no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from doorways_tui.core.png import png_metadata
from doorways_tui.core.triage import DOORS_VIEW, plural, view_label
from doorways_tui.store import (
    Image,
    ImageFilter,
    Job,
    Library,
    Position,
    Theme,
    Variant,
)
from doorways_tui.store.curation import Suggestion
from doorways_tui.store.files import library_path_or_none

ScopeKind = Literal["all", "theme", "variant"]
Sort = Literal["id", "match"]
"""The order a view steps in: oldest first, or best prompt match first (CLIP's scores)."""
SORTS: tuple[Sort, ...] = get_args(Sort)


@dataclass(frozen=True)
class Scope:
    """The part of the library the artist steps through: everything, a theme, or a
    variant (with its images only, not its children's)."""

    kind: ScopeKind = "all"
    theme_id: int | None = None
    variant_id: int | None = None
    label: str = "library"


@dataclass(frozen=True)
class View:
    """The filter on top of the scope: all | starred | untagged | rejected | doors (n),
    an optional prompt search, at most one filter on CLIP's suggestion (suggested door
    count, figures likely, suggestion disagrees with the door tag), and the order."""

    view: str = "all"
    door_count: int | None = None
    text: str = ""
    suggested_doors: int | None = None
    figures: bool | None = None
    disagrees: bool = False
    sort: Sort = "id"

    def label(self) -> str:
        parts = [view_label(self.view, self.door_count)]
        if (suggested := self.suggestion_label()) is not None:
            parts.append(suggested)
        if self.sort == "match":
            parts.append("best match first")
        name = " · ".join(parts)
        return f"{name}, “{self.text}”" if self.text else name

    def suggestion_label(self) -> str | None:
        """The suggestion filter in words ("figures likely"); None without one."""
        if self.suggested_doors is not None:
            return f"suggested {plural(self.suggested_doors, 'door')}"
        if self.figures is not None:
            return "figures likely" if self.figures else "figures unlikely"
        if self.disagrees:
            return "suggestion ≠ my doors"
        return None

    def with_suggestion(
        self, *, suggested_doors: int | None = None, figures: bool | None = None,
        disagrees: bool = False,
    ) -> View:  # fmt: skip
        """This view with one filter on the suggestion instead of the one it had (the
        same one again: none)."""
        new = replace(self, suggested_doors=suggested_doors, figures=figures, disagrees=disagrees)
        if new.suggestion_label() == self.suggestion_label():
            return replace(self, suggested_doors=None, figures=None, disagrees=False)
        return new

    def image_filter(self, scope: Scope) -> ImageFilter:
        return ImageFilter(
            view=self.view,
            door_count=self.door_count if self.view == DOORS_VIEW else None,
            text=self.text or None,
            theme_id=scope.theme_id if scope.kind == "theme" else None,
            variant_id=scope.variant_id if scope.kind == "variant" else None,
            suggested_doors=self.suggested_doors,
            figures=self.figures,
            disagrees=self.disagrees,
        )

    def with_text(self, text: str) -> View:
        return replace(self, text=text.strip())


@dataclass(frozen=True)
class ImageDetail:
    """One image with everything the details panel shows."""

    image: Image
    job: Job
    variant: Variant
    theme: Theme
    config: dict[str, Any]
    losses: dict[str, float] = field(default_factory=dict)
    lineage: tuple[str, ...] = ()  # how the variant was made, root first
    suggestion: Suggestion | None = None  # CLIP's, beside (never in) the artist's marks

    @property
    def path(self) -> Path:
        return Path(self.image.path)

    @property
    def version(self) -> str:
        """Changes when the file does (a preview is rewritten as the job improves it)."""
        return f"{self.image.sha256}:{self.image.step}"




def lineage(lib: Library, variant: Variant, limit: int = 8) -> tuple[str, ...]:
    """The edits from the root variant down to this one, e.g. ("root", "+underwater")."""
    steps: list[str] = []
    node: Variant | None = variant
    while node is not None and len(steps) < limit:
        steps.append("root" if node.edit_kind == "root" else (node.edit_text or node.edit_kind))
        node = lib.tree.variant(node.parent_id) if node.parent_id is not None else None
    return tuple(reversed(steps))


def load_detail(
    lib: Library, image: Image | int, *, read_png: bool = True, cache: dict | None = None
) -> ImageDetail:
    """An image (or its id) with its job, variant, theme, parameters and losses. ``cache``
    (a dict the caller keeps) saves re-reading a PNG's losses and a variant's lineage
    when the same image is shown again after a triage key."""
    if isinstance(image, int):
        image = lib.images.image(image)
    cache = {} if cache is None else cache
    if len(cache) > 4096:
        cache.clear()
    job = lib.queue.job(image.job_id)
    variant = lib.tree.variant(image.variant_id)
    theme = lib.tree.theme(variant.theme_id)
    losses: dict[str, float] = {}
    if read_png and image.kind == "final":
        key = ("losses", image.id, image.sha256)
        if key not in cache:
            path = library_path_or_none(lib.root, image.path)
            meta = png_metadata(path) if path is not None else {}
            raw = meta.get("losses")
            cache[key] = (
                {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}
                if isinstance(raw, dict)
                else {}
            )
        losses = cache[key]
    key = ("lineage", variant.id)
    if key not in cache:
        cache[key] = lineage(lib, variant)
    return ImageDetail(
        image=image,
        job=job,
        variant=variant,
        theme=theme,
        config=job.config_dict(),
        losses=losses,
        lineage=cache[key],
        # re-read each time: the worker or ``doorways index`` may have judged it since
        suggestion=lib.curation.suggestion(image.id) if image.kind == "final" else None,
    )


def first_image(lib: Library, flt: ImageFilter) -> Image | None:
    """Where a pass starts: the first untriaged image, else the first image."""
    return lib.images.next_untriaged(0, flt) or next(iter(lib.images.images(flt, limit=1)), None)


def edge_image(lib: Library, flt: ImageFilter, *, last: bool) -> Image | None:
    """The first (or last) image of the filter, triaged or not (``g``/``G``)."""
    return lib.images.neighbour(None, forward=not last, flt=flt)


def step(
    lib: Library, current: int | None, flt: ImageFilter, *, forward: bool, untriaged: bool
) -> Image | None:
    """The next/previous image (optionally only untriaged ones) from ``current``."""
    if current is None and forward:
        return first_image(lib, flt)
    return lib.images.neighbour(current, forward=forward, flt=flt, untriaged=untriaged)


def position(lib: Library, flt: ImageFilter, image_id: int | None) -> Position:
    """Where ``image_id`` stands in the filtered list, how long it is, how many untriaged."""
    return lib.images.position(flt, image_id)


def job_image(lib: Library, job_id: int) -> Image | None:
    """A job's final image, else its live preview, else None."""
    found = lib.images.images_for_job(job_id)
    finals = [i for i in found if i.kind == "final"]
    return (finals or found or [None])[0]


def siblings(lib: Library, image: Image, limit: int = 4) -> list[Image]:
    """Images to compare with ``image``: it, then other seeds of its variant (starred
    first, then untriaged, then the rest), ``limit`` in all."""
    return lib.images.siblings(image, limit)


@dataclass(frozen=True)
class SeedRow:
    """A run of a variant, as the tree lists it under the variant."""

    job_id: int
    seed: int
    status: str
    step: int
    total: int
    image: Image | None  # the final image, if done
    alike: int = 0  # near-duplicates folded into this row (workstation.curation)


def seed_rows(lib: Library, variant_id: int, limit: int = 2000) -> list[SeedRow]:
    """The variant's runs by seed, with their final images (not cancelled runs, but
    those rejected early: they left an image)."""
    finals = {i.job_id: i for i in lib.images.images_for_variant(variant_id)}
    jobs = [
        j
        for j in lib.queue.jobs(variant_id=variant_id, limit=limit)
        if j.status != "cancelled" or j.id in finals
    ]
    rows = [SeedRow(j.id, j.seed, j.status, j.step, j.total, finals.get(j.id)) for j in jobs]
    return sorted(rows, key=lambda r: (r.seed, r.job_id))
