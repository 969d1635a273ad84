"""The workstation: the tree on the left, the image in view in the middle, its details and
the queue on the right (below ``NARROW`` columns: a card of the details and the queue in
one line, under the tree and the image).

The screen is composed of parts it owns: ``Triage`` (the session and the ordered queue its
operations run in; the loupe and compare screens are handed the same one) and
``MainTasks`` (the keys that open dialogs or start slow work). Every library call runs off
the UI thread: key actions through the triage's queue, one at a time, in order; the poll,
the counts and the tree's seeds through thread workers on a second connection.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.message import Message
from textual.widgets import Static

from doorways_tui.core.text import plain
from doorways_tui.store import ImageFilter
from doorways_tui.store.files import library_path_or_none
from doorways_tui.tui.compat.textual import app_keymap
from doorways_tui.tui.keys import MAIN_BINDINGS, triage_keys
from doorways_tui.tui.screens.base import ReportingScreen
from doorways_tui.tui.screens.main_tasks import MainTasks
from doorways_tui.tui.screens.queue_tasks import QueueTasks
from doorways_tui.tui.triage import Triage, TriageKeys
from doorways_tui.tui.widgets import prefetch
from doorways_tui.tui.widgets.details import Details
from doorways_tui.tui.widgets.filter_bar import FilterBar
from doorways_tui.tui.widgets.footer import NARROW, DoorwaysFooter
from doorways_tui.tui.widgets.preview import ImagePreview
from doorways_tui.tui.widgets.queue_panel import QueuePanel
from doorways_tui.tui.widgets.variant_tree import VariantTree
from doorways_tui.tui.widgets.welcome import Welcome
from doorways_tui.tui.workbench import Workbench
from doorways_tui.workstation import browse, curation
from doorways_tui.workstation.browse import ImageDetail, Position, View
from doorways_tui.workstation.curation import Listing
from doorways_tui.workstation.poll import Poller, Snapshot
from doorways_tui.workstation.session import Session

if TYPE_CHECKING:
    from textual.timer import Timer

    from doorways_tui.tui.imaging import ImageCache, Request

RECOUNT_AFTER = 0.15  # seconds of no keys before the filter is recounted


class MainScreen(TriageKeys, ReportingScreen):
    BINDINGS = MAIN_BINDINGS
    AUTO_FOCUS = "#tree"
    # below NARROW columns the side pane (details, queue) folds under the image (the CSS)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW, "-wide")]

    @dataclass
    class Polled(Message):
        """A fresh look at the queue; a newer one replaces one not yet handled."""

        snapshot: Snapshot

        def can_replace(self, message: Message) -> bool:
            # Textual asks the older message: a progress-only snapshot gives way to a newer
            # one; one that says something changed is always handled.
            return (
                isinstance(message, MainScreen.Polled)
                and self.snapshot.tree is None
                and not self.snapshot.kinds
            )

    @dataclass
    class Counted(Message):
        position: Position
        generation: int

    @dataclass
    class SeedsLoaded(Message):
        variant_id: int
        rows: list[browse.SeedRow]

    def __init__(self, bench: Workbench, *, poll_interval: float = 0.5) -> None:
        super().__init__()
        self.bench = bench
        self.triage = Triage(self, Session(bench.library))
        self.tasks = MainTasks(self, self.triage, bench, self.say)
        self.queue_tasks = QueueTasks(self, self.triage, bench, self.say, self.tasks.start_worker)
        self.poller = Poller(bench.reader)
        self.poll_interval = poll_interval
        self.snapshot: Snapshot | None = None
        self._empty_note: str | None = None  # the details' text with nothing in view
        self.position: Position | None = None
        self._count_generation = 0
        self._recount_timer: Timer | None = None
        self._counted_for: tuple = (None, None, None)
        self.fold_alike = True  # near-duplicate seeds show as one row in the tree

    @property
    def session(self) -> Session:
        return self.triage.session

    @property
    def detail(self) -> ImageDetail | None:
        """The image in view."""
        return self.triage.detail

    def compose(self) -> ComposeResult:
        protocol = self.bench.preview_protocol
        with Horizontal(id="body"):
            yield VariantTree(id="tree")
            with Vertical(id="center"):
                yield FilterBar(id="filter-bar")
                yield ImagePreview(id="image", protocol=protocol)
                yield Welcome(self.bench.root, id="welcome")
                yield Static("", id="status-line")
            with Vertical(id="side"):
                yield Details(id="details")
                yield QueuePanel(self.bench.root, id="queue-panel", preview_protocol=protocol)
        yield DoorwaysFooter()

    def on_resize(self, event: Resize) -> None:
        self.query_one(Details).set_compact(event.size.width < NARROW)

    def on_mount(self) -> None:
        self.query_one(Details).set_compact(self.size.width < NARROW)
        # the app's keymap is normalised ("?" -> "question_mark") like the bindings' keys
        self.query_one(VariantTree).give_way(triage_keys(app_keymap(self.app)))
        self.query_one(Welcome).display = False
        self._show_filter()
        self.triage.submit(self.session.first, key="scope")
        self.poll()
        if self.poll_interval > 0:
            self.set_interval(self.poll_interval, self.poll)

    @property
    def idle(self) -> bool:
        """No key's work is pending, nor a recount (tests wait for this)."""
        return self.triage.idle and self._recount_timer is None

    # -- the keys -----------------------------------------------------------------------------

    def action_reroll(self, n: int) -> None:
        self.triage.submit(lambda: self.session.reroll(n))

    def action_auto_advance(self) -> None:
        self.triage.submit(self.session.toggle_auto_advance)

    def action_search(self) -> None:
        self.query_one(FilterBar).open_search(self.session.view.text)

    def action_edit(self) -> None:
        self.tasks.edit()

    def action_init(self) -> None:
        self.tasks.init()

    def action_filter(self) -> None:
        self.tasks.filter()

    def action_loupe(self) -> None:
        self.tasks.loupe()

    def action_compare(self) -> None:
        self.tasks.compare()

    def action_compare_nearest(self) -> None:
        self.tasks.compare_nearest()

    def action_more_like_this(self, within_theme: bool) -> None:
        self.triage.submit(lambda: self.session.more_like_this(within_theme=within_theme))

    def action_fold(self) -> None:
        """Fold near-duplicate seeds into one row (or list them all again)."""
        self.fold_alike = not self.fold_alike
        self.say(curation.fold_words(self.fold_alike, self.bench.duplicates))
        for variant_id in self.query_one(VariantTree).expanded_variants():
            self._load_seeds(variant_id)

    def action_export(self) -> None:
        self.tasks.export()

    def action_new_theme(self) -> None:
        self.tasks.new_theme()

    def action_demo(self) -> None:
        self.tasks.demo()

    def action_start_worker(self) -> None:
        self.queue_tasks.start_worker()  # asks first when the device has a worker here

    def action_more_steps(self) -> None:
        self.triage.more_steps()

    def action_watch(self) -> None:
        from doorways_tui.tui.screens.watch import WatchScreen

        self.app.push_screen(
            WatchScreen(
                self.triage,
                self.bench,
                run_main_action=self.run_action,
                poll_interval=self.poll_interval,
            )
        )

    def action_cancel_run(self) -> None:
        self.queue_tasks.cancel_run()

    def action_job_error(self) -> None:
        self.queue_tasks.show_error()

    def set_view(self, view: View) -> None:
        """Show ``view`` (the palette's filters)."""
        self.triage.set_view(view)

    # -- the session ------------------------------------------------------------------------

    @on(Triage.Updated)
    def _updated(self, event: Triage.Updated) -> None:
        update = event.update
        if update.detail is not None or update.cleared:
            self._show_detail(update.detail, update.note)
        if update.upcoming:  # after this frame is out: never slow the key being answered
            self.call_after_refresh(self._prefetch, update.upcoming)
        if update.message:
            self.say(update.message, update.severity)
            self.triage.said.publish(update)
        listing = self.session.listing
        if update.view is not None and (update.view, update.scope, listing) != self._counted_for:
            self._counted_for = (update.view, update.scope, listing)
            self.position = None  # the old counts belong to another list
        if update.detail is not None or update.cleared or update.wrote or update.view:
            self._show_filter()
            self.recount()

    def _show_detail(self, detail: ImageDetail | None, note: str | None = None) -> None:
        self.triage.show(detail)
        self._empty_note = note
        preview = self.query_one("#image", ImagePreview)
        if detail is None:
            preview.show(None)
            self.query_one(Details).show(None, self._empty_text())
            return
        shown = library_path_or_none(self.bench.root, detail.image.path)
        preview.show(shown, version=detail.version)
        self.query_one(Details).show(detail)

    def _prefetch(self, path: str) -> None:
        preview = self.query_one("#image", ImagePreview)
        request = preview.request_for(Path(path))
        if request is not None:
            self._warm(request, preview.cache)

    @work(thread=True, exclusive=True, group="prefetch", exit_on_error=False)
    def _warm(self, request: Request, cache: ImageCache) -> None:
        prefetch.warm(request, cache)

    def _empty_text(self) -> str:
        """What the details panel says with no image in view (a failed run's error)."""
        return self._empty_note or "no image in view: " + self._empty_hint()

    def _empty_hint(self) -> str:
        if self.snapshot and self.snapshot.images_total == 0:
            return "nothing finished yet"
        return "nothing matches this filter (f changes it)"

    def say(self, text: str, severity: str = "information") -> None:
        """One line under the image. Messages quote prompts, names and searches: plain
        text (not markup) through ``printable``."""
        line = self.query_one("#status-line", Static)
        line.update(plain(text), layout=False)
        line.set_class(severity == "warning", "-warning")
        line.set_class(severity == "error", "-error")

    def _show_filter(self) -> None:
        self.query_one(FilterBar).show_state(
            self.session.label(),
            self.session.scope,
            self.position,
            auto_advance=self.session.auto_advance,
        )

    def recount(self) -> None:
        """Recount the filter (position, total, left to triage) once keys pause: at 100k
        images a count is tens of milliseconds of work, not worth doing per key."""
        if self._recount_timer is not None:
            self._recount_timer.stop()
        self._recount_timer = self.set_timer(RECOUNT_AFTER, self._recount_now)

    def _recount_now(self) -> None:
        self._recount_timer = None
        self._count_generation += 1
        image = self.detail.image.id if self.detail and self.detail.image.kind == "final" else None
        flt = self.session.view.image_filter(self.session.scope)
        self._count(flt, self.session.listing, image, self._count_generation)

    @work(thread=True, exclusive=True, group="count", exit_on_error=False)
    def _count(
        self, flt: ImageFilter, listing: Listing | None, image_id: int | None, generation: int
    ) -> None:
        reader = self.bench.reader
        if listing is not None:
            position = curation.position(reader, listing, image_id)
        else:
            position = browse.position(reader, flt, image_id)
        self.post_message(self.Counted(position, generation))

    @on(Counted)
    def _counted(self, event: Counted) -> None:
        if event.generation == self._count_generation:
            self.position = event.position
            self._show_filter()

    # -- the tree and the search box --------------------------------------------------------

    @on(VariantTree.ScopeHighlighted)
    def _scope(self, event: VariantTree.ScopeHighlighted) -> None:
        scope = event.scope
        self.triage.submit(lambda: self.session.set_scope(scope), key="scope")

    @on(VariantTree.SeedHighlighted)
    def _seed(self, event: VariantTree.SeedHighlighted) -> None:
        job_id, scope = event.job_id, event.scope
        self.triage.submit(lambda: self.session.show_job(job_id, scope), key="scope")

    @on(VariantTree.SeedsWanted)
    def _seeds_wanted(self, event: VariantTree.SeedsWanted) -> None:
        self._load_seeds(event.variant_id)

    @work(thread=True, group="seeds", exit_on_error=False)
    def _load_seeds(self, variant_id: int) -> None:
        rows = browse.seed_rows(self.bench.reader, variant_id)
        if self.fold_alike:
            rows = curation.fold_seeds(self.bench.reader, rows, self.bench.duplicates)
        self.post_message(self.SeedsLoaded(variant_id, rows))

    @on(SeedsLoaded)
    def _seeds_loaded(self, event: SeedsLoaded) -> None:
        self.query_one(VariantTree).set_seeds(event.variant_id, event.rows)

    @on(FilterBar.SearchSubmitted)
    def _search(self, event: FilterBar.SearchSubmitted) -> None:
        self.set_view(self.session.view.with_text(event.text))
        self.query_one(VariantTree).focus()

    @on(FilterBar.SearchClosed)
    def _search_closed(self) -> None:
        self.query_one(VariantTree).focus()

    # -- the poll -----------------------------------------------------------------------------

    def poll(self) -> None:
        if not any(w.group == "poll" and w.is_running for w in self.workers):
            self._poll()

    @work(thread=True, group="poll", exit_on_error=False)
    def _poll(self) -> None:
        self.post_message(self.Polled(self.poller.snapshot()))

    @on(Polled)
    def _polled(self, event: Polled) -> None:
        snap = event.snapshot
        first = self.snapshot is None
        self.snapshot = snap
        self.query_one(QueuePanel).update_snapshot(snap)
        tree = self.query_one(VariantTree)
        if snap.tree is not None:
            tree.update_tree(snap.tree, snap.images_total)
            self._welcome(snap.tree.empty)
        else:  # progress only: keep the percentages of open variants' running seeds moving
            for variant_id in {q.variant_id for q in snap.running} & set(tree.expanded_variants()):
                self._load_seeds(variant_id)
        self._follow_live(snap)
        if self.detail is None:  # the hint depends on whether anything is finished
            self.query_one(Details).show(None, self._empty_text())
        if not first and self.detail is None and "job_done" in snap.kinds and self.triage.idle:
            self.triage.submit(self.session.first, key="scope")
        elif self.detail is not None and self.detail.image.id in snap.touched and self.triage.idle:
            self.triage.refresh()
        if snap.kinds & {"job_done", "jobs_queued", "undo"}:
            self.recount()
        self.tasks.offer_worker(snap)

    def _follow_live(self, snap: Snapshot) -> None:
        """A running job's preview in view keeps up with the job."""
        detail = self.detail
        if detail is None or detail.image.kind != "preview":
            if detail is None and snap.previews and self.triage.idle:
                job_id = next(iter(snap.previews))
                self.triage.submit(lambda: self.session.follow_job(job_id), key="live")
            return
        fresh = snap.previews.get(detail.job.id)
        if fresh is None:  # finished (or stopped): show what it left
            self.triage.submit(lambda: self.session.follow_job(detail.job.id), key="live")
        elif fresh.step != detail.image.step or fresh.sha256 != detail.image.sha256:
            self._show_detail(replace(detail, image=fresh))

    def _welcome(self, empty: bool) -> None:
        self.query_one(Welcome).display = empty
        self.query_one("#image", ImagePreview).display = not empty
