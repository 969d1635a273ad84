"""A triage session: where the artist is (scope, filter, the image in view) and what each
key does to the library. No Textual, no torch.

The app calls these methods from one thread, in the order the keys were pressed (so
"3", "n", "u" always mean: three doors on this image, then the next, then undo), and
shows each returned ``Update``. Every triage write is saved at once and undoable.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from doorways_tui.core.triage import (
    MARK_BY_FIELD,
    MARK_BY_KIND,
    RATING,
    TriageKind,
    advancing_words,
    early_words,
    more_steps,
    plural,
    triage_words,
)
from doorways_tui.store import Image, ImageFilter, Library, StoreError, UndoResult
from doorways_tui.store.files import library_path_or_none
from doorways_tui.worker.stopping import after_reject
from doorways_tui.workstation import actions, browse, curation
from doorways_tui.workstation.browse import ImageDetail, Scope, View
from doorways_tui.workstation.curation import Listing

Severity = Literal["information", "warning", "error"]


@dataclass(frozen=True)
class Update:
    """What changed, for the screen: the image in view (``detail``; None with
    ``cleared``), a line to tell the artist, whether counts may have moved."""

    detail: ImageDetail | None = None
    cleared: bool = False
    message: str | None = None
    severity: Severity = "information"
    scope: Scope | None = None
    view: View | None = None
    wrote: bool = False  # the library changed: recount
    upcoming: str | None = None  # the next untriaged image's file, to prepare ahead
    note: str | None = None  # for the details panel when nothing is in view (a failed run)


class Session:
    def __init__(self, lib: Library) -> None:
        self.lib = lib
        self.scope = Scope()
        self.view = View()
        self.auto_advance = False
        self.current: Image | None = None
        self._cache: dict = {}  # losses and lineages already read (see load_detail)
        self._elsewhere: int | None = None  # a step made elsewhere that ``u`` named; see undo
        self.listing: Listing | None = None
        """Steps go through these ids instead of the filter's: the best-match sort, or
        "more like this". A new view or scope ends a "more like this" list."""

    def _key(self) -> None:
        """A key that moves or changes the view: a pending "press u again" lapses."""
        self._elsewhere = None

    @property
    def flt(self) -> ImageFilter:
        return self.view.image_filter(self.scope)

    # -- moving -----------------------------------------------------------------------

    def _show(self, image: Image | None, **extra) -> Update:
        if image is None:
            self.current = None
            return Update(cleared=True, scope=self.scope, view=self.view, **extra)
        self.current = image
        detail = browse.load_detail(self.lib, image, cache=self._cache)
        nxt = self._step(image.id, forward=True, untriaged=True)
        path = library_path_or_none(self.lib.root, nxt.path) if nxt is not None else None
        upcoming = str(path) if path is not None else None
        return Update(detail=detail, scope=self.scope, view=self.view, upcoming=upcoming, **extra)

    def label(self) -> str:
        """The filter bar's name of what the artist steps through."""
        return self.listing.label if self.listing is not None else self.view.label()

    def _step(self, current: int | None, *, forward: bool, untriaged: bool) -> Image | None:
        if self.listing is not None:
            return curation.step(
                self.lib, self.listing, current, forward=forward, untriaged=untriaged
            )
        return browse.step(self.lib, current, self.flt, forward=forward, untriaged=untriaged)

    def _relist(self) -> None:
        """After a new view or scope: the best-match order of its images, or none."""
        sort = self.view.sort == "match"
        self.listing = curation.by_match(self.lib, self.flt, self.view.label()) if sort else None

    def first(self) -> Update:
        if self.listing is not None:
            return self._show(curation.first(self.lib, self.listing))
        return self._show(browse.first_image(self.lib, self.flt))

    def step(self, *, forward: bool, untriaged: bool) -> Update:
        self._key()
        current = self.current.id if self.current else None
        found = self._step(current, forward=forward, untriaged=untriaged)
        if found is None:
            what = "untriaged image" if untriaged else "image"
            where = "after" if forward else "before"
            msg = f"no {what} {where} this one in {self.label()}"
            return Update(message=msg, severity="warning", scope=self.scope, view=self.view)
        return self._show(found)

    def edge(self, *, last: bool) -> Update:
        """Go to the first (or last) image of the filter."""
        self._key()
        if self.listing is not None:
            found = self._step(None, forward=not last, untriaged=False)
        else:
            found = browse.edge_image(self.lib, self.flt, last=last)
        if found is None:
            msg = f"no image in {self.label()}"
            return Update(message=msg, severity="warning", scope=self.scope, view=self.view)
        return self._show(found)

    def show_image(self, image_id: int) -> Update:
        self._key()
        return self._show(self.lib.images.image(image_id))

    def show_job(self, job_id: int, scope: Scope | None = None) -> Update:
        """A run picked in the tree: its final image, or its live preview."""
        self._key()
        if scope is not None and scope != self.scope:
            self.scope = scope
            self._relist()
        image = browse.job_image(self.lib, job_id)
        if image is None:
            job = self.lib.queue.job(job_id)
            self.current = None
            if job.status == "failed":
                note = f"seed {job.seed} failed: {job.error or 'no error was recorded'}"
                message = f"seed {job.seed} failed (the error is in the details)"
            else:
                note = message = f"seed {job.seed} is {job.status}: no image yet"
            return Update(
                cleared=True, message=message, scope=self.scope, view=self.view, note=note
            )
        return self._show(image)

    def follow_job(self, job_id: int) -> Update:
        """The poll's pick: a running job's preview, or what a job in view left when it
        finished, but only if the filter lets it in (an empty filter stays empty)."""
        image = browse.job_image(self.lib, job_id)
        if image is not None and self._in_view(image):
            return self._show(image)
        if self.current is not None and self.current.job_id == job_id:
            return self.first()  # the run in view is gone from the filter
        return Update()

    def set_scope(self, scope: Scope) -> Update:
        self._key()
        self.scope = scope
        self._relist()
        if (
            self.current is not None
            and self.current.kind == "final"
            and self._in_view(self.current)
        ):
            return self._show(self.current)
        return self.first()

    def set_view(self, view: View) -> Update:
        self._key()
        self.view = view
        self._relist()
        return self.first()

    def more_like_this(self, *, within_theme: bool) -> Update:
        """Step through the image in view and its nearest neighbours (same CLIP), across
        the library or within its theme, until a new view or scope."""
        self._key()
        if self.current is None or self.current.kind != "final":
            raise StoreError("more like this: no finished image in view")
        listing = curation.more_like_this(self.lib, self.current, within_theme=within_theme)
        self.listing = listing
        n = len(listing.ids) - 1
        said = f"{listing.label}: {plural(n, 'neighbour')}, most alike first"
        if not n:
            said = f"{listing.label}: no other image has an embedding of its CLIP yet"
        return self._show(self.lib.images.image(listing.ids[0]), message=said)

    def _in_view(self, image: Image) -> bool:
        if self.listing is not None:
            return image.id in self.listing.ids
        return self.lib.images.matches(replace(self.flt, kind=image.kind), image.id)

    def refresh(self) -> Update:
        """Reload the image in view (someone else may have changed it)."""
        if self.current is None:
            return self.first()
        try:
            return self._show(self.lib.images.image(self.current.id))
        except StoreError:
            return self.first()

    # -- triage -----------------------------------------------------------------------

    def _target(self) -> Image:
        if self.current is None or self.current.kind != "final":
            raise StoreError("no finished image in view to triage")
        return self.current

    def _in_view_any(self) -> Image:
        """The image in view, finished or live (the run keys take either)."""
        if self.current is None:
            raise StoreError("no finished image in view to triage (nor a live run)")
        return self.current

    def triage(self, kind: TriageKind, value: int | None = None) -> Update:
        """Triage the image in view (then, with auto-advance, move on). On a live preview
        the same keys judge the run while it runs (see ``_live``)."""
        if self.current is not None and self.current.kind == "preview":
            return self._live(self.current, kind, value)
        new, said = self._write(self._target(), kind, value)
        if self.auto_advance and MARK_BY_KIND[kind].advances:
            nxt = self._step(new.id, forward=True, untriaged=True)
            if nxt is not None:
                return self._show(nxt, message=f"#{new.id}: {said}", wrote=True)
        return self._show(new, message=f"#{new.id}: {said}", wrote=True)

    def triage_image(self, image_id: int, kind: TriageKind, value: int | None = None) -> Image:
        """Triage any image (the compare screen's panes); the view stays where it is."""
        new, _ = self._write(self.lib.images.image(image_id), kind, value)
        if self.current is not None and self.current.id == image_id:
            self.current = new
        return new

    def _write(
        self, image: Image, kind: TriageKind, value: int | None, *, live: bool = False
    ) -> tuple[Image, str]:
        lib = self.lib.images  # the part that marks images
        if image.kind != "final" and not live:
            raise StoreError("a live preview cannot be triaged: wait for the run to finish")
        if kind == "doors":
            new = lib.set_door_count(image.id, value)
        elif kind == "suggested_doors":
            new = lib.set_door_count(image.id, curation.accepted_doors(self.lib, image))
            return new, f"{triage_words(kind, new)} (the suggestion, accepted)"
        elif kind == "star":
            new = lib.toggle_star(image.id)
        elif kind == "reject":
            new = lib.toggle_reject(image.id)
            if held := after_reject(self.lib, new):  # the rejects stop rule (issue 17)
                return new, f"{triage_words(kind, new)}; {held}"
        else:
            rating = value
            if kind == "rating_step":
                rating = max(1, min(RATING.top, (image.rating or 0) + (value or 0)))
            new = lib.set_rating(image.id, rating)
        return new, triage_words(kind, new)

    def _live(self, preview: Image, kind: TriageKind, value: int | None) -> Update:
        """A triage key on a running run: ``x`` cancels it and keeps this preview as a
        rejected image; ``s`` stars it (and its variant's queued seeds go first), ``+``
        marks it promising the same way; a digit or a rating is kept for its final image."""
        job = self.lib.queue.job(preview.job_id)
        where = f"seed {job.seed} (live, step {preview.step}/{job.total})"
        if kind == "reject":
            new = self.lib.queue.reject_early(job.id)
            said = f"seed {job.seed}: {early_words(new.step)}, its run cancelled (u resumes it)"
            return self._show(new, message=said, wrote=True)
        if kind == "star" or (kind == "rating_step" and (value or 0) > 0):
            new = self.lib.queue.star_live(preview.id, on=None if kind == "star" else True)
            said = (
                "★ promising: its variant's queued seeds go first"
                if new.starred
                else "star removed"
            )
            return self._show(new, message=f"{where}: {said}", wrote=True)
        new, said = self._write(preview, kind, value, live=True)
        return self._show(new, message=f"{where}: {said}, kept for its final image", wrote=True)

    def more_steps(self) -> Update:
        """``more steps`` on a live run: its step target +50%, without restarting it."""
        image = self.current
        if image is None or image.kind != "preview":
            raise StoreError("more steps: no live run in view (pick a running seed)")
        job = self.lib.queue.job(image.job_id)
        new = self.lib.queue.extend_job(job.id, more_steps(job.total))
        message = f"seed {job.seed}: {job.total} → {new.total} steps (u undoes)"
        return self._show(self.lib.images.image(image.id), message=message, wrote=True)

    def undo(self) -> Update:
        """Undo the newest step, saying what was undone (the store returns the entry it
        reverted, read and undone in one transaction). A newest step made elsewhere (in
        another window of the app, or before it restarted) is only named at the first
        ``u``: a second ``u`` with no other key between undoes it. The message starts with
        what to do, as a narrow status line keeps only its start."""
        confirmed, self._elsewhere = self._elsewhere, None
        result = self.lib.history.undo(confirmed=confirmed)
        if result is None:
            return Update(message="nothing to undo", severity="warning")
        data = result.entry.payload() if result.entry is not None else {}
        if not result.undone and result.entry is not None:
            self._elsewhere = result.entry.id
            what = elsewhere_text(result.entry.kind, data)
            message = f"press u again to undo a step made elsewhere: {what}"
            return Update(message=message, severity="warning")
        said = "undone: " + undo_text(result, data)
        if result.kind in ("triage", "live") and result.image_id is not None:
            try:
                return self._show(self.lib.images.image(result.image_id), message=said, wrote=True)
            except StoreError:
                pass
        refreshed = self.refresh()
        return Update(
            detail=refreshed.detail,
            cleared=refreshed.cleared,
            scope=self.scope,
            view=self.view,
            message=said,
            wrote=True,
        )

    # -- new runs -----------------------------------------------------------------------

    def reroll(self, n: int) -> Update:
        queued = actions.reroll(self.lib, self._in_view_any().id, n)
        return Update(message=f"reroll: {queued.summary()}", wrote=True)

    def edit(self, image_id: int, prompt: str, *, edit_kind: str, edit_text: str) -> Update:
        image = self.lib.images.image(image_id)
        queued = actions.edit_prompt(
            self.lib, image, prompt, edit_kind=edit_kind, edit_text=edit_text
        )
        return Update(message=f"edit: {queued.summary()}", wrote=True)

    def init_run(self, image_id: int, run: actions.InitRun) -> Update:
        image = self.lib.images.image(image_id)
        queued = actions.queue_init(self.lib, image, run)
        what = f"seed image ({plural(run.doors, 'door')})" if run.doors else "init image"
        return Update(
            message=f"{what}, blur {run.blur:g}, {run.weighting} weighting: {queued.summary()}",
            wrote=True,
        )

    def toggle_auto_advance(self) -> Update:
        self._key()
        self.auto_advance = not self.auto_advance
        state = f"on: {advancing_words()} moves to the next untriaged image"
        return Update(
            message=f"auto-advance {state if self.auto_advance else 'off'}", view=self.view
        )


def elsewhere_text(kind: str, data: dict[str, Any]) -> str:
    """A step another process made, before it is undone: "3 jobs queued", "a change to
    #12 (door count)"."""
    if kind == "triage":
        fields = ", ".join(name.replace("_", " ") for name in data.get("after") or {})
        return f"a change to #{data.get('image_id')} ({fields})"
    if kind in ("jobs", "rules"):  # a cancel or a retry; a stop rule's action
        return str(data.get("what") or "a cancel or retry")
    if kind == "live":  # a run judged while it ran
        return str(data.get("what") or "a step of live triage")
    if kind == "marks":  # many images at once (import-xmp)
        return f"{data.get('what')} ({plural(len(data.get('steps') or ()), 'image')})"
    n = len(data.get("job_ids") or ())
    what = f"{plural(n, 'job')} queued" if n else "a new variant"
    return what + (" in a new variant" if n and data.get("variant_id") is not None else "")


def undo_text(result: UndoResult, data: dict[str, Any]) -> str:
    """What an undo did, in the artist's words: "door count on #12 (back to none)",
    "reject on #12", "reroll (2 queued jobs cancelled)", "theme 'Doors' (40 queued jobs
    cancelled)". ``data`` is the undone entry (for a triage write, the fields as they were
    before it; for queued work, ``what`` names it where the store recorded a name)."""
    if result.kind == "triage":
        where = f"#{result.image_id}"
        parts = []
        for name, was in (data.get("before") or {}).items():
            mark = MARK_BY_FIELD.get(name)
            parts.append(mark.undone(was, where) if mark else f"{name} on {where}")
        return ", ".join(parts) or f"a change to {where}"
    if result.kind in ("jobs", "rules"):  # "cancel job 12 (1 job queued again)"
        return f"{data.get('what') or 'cancel or retry'} ({result.summary})"
    if result.kind in ("marks", "live"):
        return result.summary
    what = data.get("what")
    if not isinstance(what, str) or not what:  # entries written before names were recorded
        what = "reroll" if data.get("variant_id") is None else "edit"
    n = len(result.job_ids)
    jobs = f"{plural(n, 'queued job')} cancelled" if n else "no queued jobs left to cancel"
    if result.variant_id is not None:
        jobs += ", its variant removed"
    return f"{what} ({jobs})"
