"""The main screen's keys that open a dialog or another screen, or start slow work: new
runs from the image in view, the filter menu, the loupe and compare screens, export, new
themes, the demo and workers.

Slow work (copying files, reading siblings, exporting, starting a worker) runs in thread
workers of the screen, which hand their result back to the UI thread with
``call_later``; a worker that fails is reported by the screen's one worker handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from textual.notifications import SeverityLevel
from textual.screen import Screen

from doorways_tui.core.triage import STARRED_VIEW
from doorways_tui.export.folder import all_images, default_folder, export_images
from doorways_tui.store import Image, ImageFilter, StoreError
from doorways_tui.themes.request import ThemeRequest
from doorways_tui.tui.screens.compare import CompareScreen
from doorways_tui.tui.screens.edit_prompt import EditPromptScreen, EditRequest
from doorways_tui.tui.screens.export_dialog import ExportDialog, ExportRequest
from doorways_tui.tui.screens.filter_menu import FilterMenu
from doorways_tui.tui.screens.init_image import InitImageScreen
from doorways_tui.tui.screens.loupe import LoupeScreen
from doorways_tui.tui.screens.new_theme import NewThemeScreen
from doorways_tui.tui.screens.start_worker import StartWorkerScreen
from doorways_tui.tui.triage import Triage
from doorways_tui.tui.workbench import Workbench
from doorways_tui.workstation import actions, browse, curation
from doorways_tui.workstation.browse import View
from doorways_tui.workstation.poll import Snapshot

Say = Callable[[str, str], None]


class MainTasks:
    """Owned by the main screen (``screen``); ``say`` writes its status line."""

    def __init__(self, screen: Screen[None], triage: Triage, bench: Workbench, say: Say) -> None:
        self.screen = screen
        self.triage = triage
        self.bench = bench
        self.say = say
        self.worker_offered = False  # the offer to start a worker is made once

    def _in_thread(self, work: Callable[[], object], group: str) -> None:
        self.screen.run_worker(work, group=group, thread=True, exit_on_error=False)

    def _notify(self, text: str, severity: SeverityLevel = "information") -> None:
        """A background task finished: tell the artist (from a worker thread)."""
        self.screen.call_later(self.screen.notify, text, severity=severity)

    def _final_in_view(self, what: str) -> Image | None:
        detail = self.triage.detail
        if detail is None or detail.image.kind != "final":
            self.say(f"{what}: no finished image in view", "warning")
            return None
        return detail.image

    def _image_in_view(self, what: str) -> Image | None:
        """The image in view, finished or a live preview (the run keys take either)."""
        detail = self.triage.detail
        if detail is None:
            self.say(f"{what}: no image in view", "warning")
            return None
        return detail.image

    # -- new runs -------------------------------------------------------------------------

    def edit(self) -> None:
        image, detail = self._image_in_view("edit"), self.triage.detail
        if image is None or detail is None:
            return
        image_id, session = image.id, self.triage.session

        def done(request: EditRequest | None) -> None:
            if request is not None:
                self.triage.submit(
                    lambda: session.edit(
                        image_id,
                        request.prompt,
                        edit_kind=request.edit_kind,
                        edit_text=request.edit_text,
                    )
                )

        self.screen.app.push_screen(EditPromptScreen(detail.variant.prompt, detail.job.seed), done)

    def init(self) -> None:
        image = self._image_in_view("init image")
        if image is not None:
            self._in_thread(lambda: self._prepare_init(image), "init")

    def _prepare_init(self, image: Image) -> None:
        path = actions.prepare_init(self.triage.session.lib, image)
        self.screen.call_later(self._init_ready, image, path)

    def _init_ready(self, image: Image, path: Path) -> None:
        image_id, session = image.id, self.triage.session

        def done(chosen: actions.InitRun | None) -> None:
            if chosen is not None:
                self.triage.submit(lambda: session.init_run(image_id, chosen))

        def make_seed(doors: int, on_image: bool) -> Path:
            return actions.prepare_seed(session.lib, image, doors, on_image=on_image)

        screen = InitImageScreen(
            image.id, path, make_seed=make_seed, protocol=self.bench.preview_protocol
        )
        self.screen.app.push_screen(screen, done)

    # -- views ----------------------------------------------------------------------------

    def filter(self) -> None:
        session = self.triage.session

        def done(view: View | None) -> None:
            if view is not None:
                self.triage.set_view(replace(view, text=session.view.text))

        self.screen.app.push_screen(FilterMenu(session.view), done)

    def loupe(self) -> None:
        if self.triage.detail is None:
            self.say("loupe: no image in view", "warning")
            return
        self.screen.app.push_screen(LoupeScreen(self.triage, self.bench.preview_protocol))

    def compare(self) -> None:
        image = self._final_in_view("compare")
        if image is not None:
            self._in_thread(lambda: self._load_compare(image), "compare")

    def _load_compare(self, image: Image) -> None:
        images = browse.siblings(self.triage.session.lib, image)
        self.screen.call_later(self._compare_ready, images)

    def compare_nearest(self) -> None:
        """Compare opened on the image in view and its nearest neighbours (CLIP)."""
        image = self._final_in_view("compare nearest")
        if image is not None:
            self._in_thread(lambda: self._load_nearest(image), "compare")

    def _load_nearest(self, image: Image) -> None:
        try:
            images = curation.nearest(self.triage.session.lib, image)
        except StoreError as exc:
            self.screen.call_later(self.say, f"compare nearest: {exc}", "warning")
            return
        self.screen.call_later(self._compare_ready, images, "no other image has an embedding")

    def _compare_ready(
        self,
        images: list[Image],
        none: str = "this variant has no other finished seed yet (r rerolls one)",
    ) -> None:
        if len(images) < 2:
            self.say(f"compare: {none}", "warning")
            return
        protocol = self.bench.preview_protocol
        self.screen.app.push_screen(CompareScreen(self.triage, images, protocol))

    # -- the library ----------------------------------------------------------------------

    def export(self) -> None:
        session = self.triage.session
        flt = session.view.image_filter(session.scope)
        label = f"{session.view.label()} in {session.scope.label}"

        def done(request: ExportRequest | None) -> None:
            if request is not None:
                self.export_to(request, ImageFilter(view=STARRED_VIEW) if request.starred else flt)

        self.screen.app.push_screen(ExportDialog(default_folder(), label), done)

    def export_to(self, request: ExportRequest, flt: ImageFilter) -> None:
        self._in_thread(lambda: self._export(request, flt), "export")

    def _export(self, request: ExportRequest, flt: ImageFilter) -> None:
        lib = self.bench.reader
        result = export_images(lib, all_images(lib, flt), request.folder, sheet=True)
        if not result.files and not result.bad:
            self._notify("export: no image matches", "warning")
        else:  # the summary counts damaged and missing images; any is worth a warning
            self._notify(result.summary(), "warning" if result.bad else "information")

    def new_theme(self) -> None:
        def done(request: ThemeRequest | None) -> None:
            if request is not None:
                self._in_thread(lambda: self._queue_theme(request), "theme")

        self.screen.app.push_screen(NewThemeScreen(), done)

    def _queue_theme(self, request: ThemeRequest) -> None:
        from doorways_tui.themes.library import queue_theme

        report = queue_theme(self.triage.session.lib, request.theme, request.variants)
        self._notify(
            f"{request.theme.name}: {report.new_jobs} job(s) queued"
            f" ({report.existing_jobs} already there)"
        )

    def demo(self) -> None:
        self.worker_offered = True  # the demo starts one itself
        self._in_thread(self._demo, "demo")

    def _demo(self) -> None:
        from doorways_tui.workstation.demo import queue_demo

        report = queue_demo(self.triage.session.lib)
        self._notify(f"demo theme: {report.new_jobs} job(s) queued")
        self._ensure_worker()

    def start_worker(self) -> None:
        self.worker_offered = True
        self._start_worker()

    def _start_worker(self) -> None:
        self._in_thread(lambda: self._ensure_worker(always=True), "worker")

    def _ensure_worker(self, always: bool = False) -> None:
        """Start a detached worker unless one is alive (in a worker thread)."""
        bench = self.bench
        if not always and any(w.alive for w in bench.reader.workers.all()):
            return
        self._notify("starting a worker in the background…")
        launch = bench.launch_worker(bench.root, bench.device)
        self._notify(launch.message, "information" if launch.ok else "error")

    def offer_worker(self, snap: Snapshot) -> None:
        """Once per session: jobs wait and no worker runs, so offer to start one."""
        if self.worker_offered or not self.bench.offer_worker:
            return
        if not snap.counts.queued or snap.alive_workers:
            return
        self.worker_offered = True

        def done(start: bool | None) -> None:
            if start:
                self._start_worker()

        self.screen.app.push_screen(StartWorkerScreen(snap.counts.queued), done)
