"""The main screen's keys beyond triage: new runs, dialogs, export, the demo, workers.

Slow work (copying files, exporting, starting a worker) runs in thread workers that post
a ``Notice``; a worker that fails is reported by the screen's one worker handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.message import Message
from textual.screen import Screen

from doorways_tui.export.folder import all_images, default_folder, export_images
from doorways_tui.store import Image, ImageFilter
from doorways_tui.tui.screens.edit_prompt import EditPromptScreen, EditRequest
from doorways_tui.tui.screens.export_dialog import ExportDialog, ExportRequest
from doorways_tui.tui.screens.filter_menu import FilterMenu
from doorways_tui.tui.screens.init_image import InitImageScreen
from doorways_tui.tui.screens.start_worker import StartWorkerScreen
from doorways_tui.tui.screens.triage_actions import TriageActions
from doorways_tui.workstation import actions, browse
from doorways_tui.workstation.browse import View

if TYPE_CHECKING:
    from doorways_tui.tui.screens.main import MainScreen
    from doorways_tui.workstation.poll import Snapshot


class MainActions(TriageActions, Screen):
    @dataclass
    class Notice(Message):
        """A background task finished: tell the artist."""

        text: str
        severity: str = "information"

    @dataclass
    class InitReady(Message):
        image: Image
        path: Path

    @dataclass
    class CompareReady(Message):
        images: list[Image]

    @property
    def main_screen(self) -> MainScreen:
        return self  # type: ignore[return-value]

    def _final_in_view(self, what: str) -> Image | None:
        detail = self.main_screen.detail
        if detail is None or detail.image.kind != "final":
            self.main_screen.say(f"{what}: no finished image in view", "warning")
            return None
        return detail.image

    @on(Notice)
    def _notice(self, event: Notice) -> None:
        self.notify(event.text, severity=event.severity)  # type: ignore[arg-type]

    # -- new runs -------------------------------------------------------------------------

    def action_reroll(self, n: int) -> None:
        main = self.main_screen
        main.ops.submit(lambda: main.session.reroll(n))

    def action_edit(self) -> None:
        main = self.main_screen
        image = self._final_in_view("edit")
        if image is None or main.detail is None:
            return
        image_id = image.id

        def done(request: EditRequest | None) -> None:
            if request is not None:
                main.ops.submit(
                    lambda: main.session.edit(
                        image_id,
                        request.prompt,
                        edit_kind=request.edit_kind,
                        edit_text=request.edit_text,
                    )
                )

        self.app.push_screen(
            EditPromptScreen(main.detail.variant.prompt, main.detail.job.seed), done
        )

    def action_init(self) -> None:
        image = self._final_in_view("init image")
        if image is not None:
            self._prepare_init(image)

    @work(thread=True, group="init", exit_on_error=False)
    def _prepare_init(self, image: Image) -> None:
        path = actions.prepare_init(self.main_screen.session.lib, image)
        self.post_message(self.InitReady(image, path))

    @on(InitReady)
    def _init_ready(self, event: InitReady) -> None:
        main, image_id = self.main_screen, event.image.id

        def done(path: str | None) -> None:
            if path:
                main.ops.submit(lambda: main.session.init_run(image_id, path))

        self.app.push_screen(InitImageScreen(event.image.id, event.path), done)

    # -- views ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        main = self.main_screen

        def done(view: View | None) -> None:
            if view is not None:
                main.set_view(View(view.view, view.door_count, main.session.view.text))

        self.app.push_screen(FilterMenu(main.session.view), done)

    def action_search(self) -> None:
        from doorways_tui.tui.widgets.filter_bar import FilterBar

        self.query_one(FilterBar).open_search(self.main_screen.session.view.text)

    def action_auto_advance(self) -> None:
        main = self.main_screen
        main.ops.submit(main.session.toggle_auto_advance)

    def action_loupe(self) -> None:
        from doorways_tui.tui.screens.loupe import LoupeScreen

        if self.main_screen.detail is None:
            self.main_screen.say("loupe: no image in view", "warning")
            return
        self.app.push_screen(LoupeScreen(self.main_screen))

    def action_compare(self) -> None:
        image = self._final_in_view("compare")
        if image is not None:
            self._load_compare(image)

    @work(thread=True, group="compare", exit_on_error=False)
    def _load_compare(self, image: Image) -> None:
        self.post_message(self.CompareReady(browse.siblings(self.main_screen.session.lib, image)))

    @on(CompareReady)
    def _compare_ready(self, event: CompareReady) -> None:
        from doorways_tui.tui.screens.compare import CompareScreen

        if len(event.images) < 2:
            self.main_screen.say(
                "compare: this variant has no other finished seed yet (r rerolls one)", "warning"
            )
            return
        self.app.push_screen(CompareScreen(self.main_screen, event.images))

    # -- the library ----------------------------------------------------------------------

    def action_export(self) -> None:
        main = self.main_screen
        flt = main.session.view.image_filter(main.session.scope)
        label = f"{main.session.view.label()} in {main.session.scope.label}"

        def done(request: ExportRequest | None) -> None:
            if request is not None:
                self._export(request, ImageFilter(view="starred") if request.starred else flt)

        self.app.push_screen(ExportDialog(default_folder(), label), done)

    @work(thread=True, group="export", exit_on_error=False)
    def _export(self, request: ExportRequest, flt: ImageFilter) -> None:
        lib = self.main_screen.dapp.reader
        result = export_images(lib, all_images(lib, flt), request.folder, sheet=True)
        if not result.files and not result.bad:
            self.post_message(self.Notice("export: no image matches", "warning"))
        else:  # the summary counts damaged and missing images; any is worth a warning
            self.post_message(
                self.Notice(result.summary(), "warning" if result.bad else "information")
            )

    def action_new_theme(self) -> None:
        from doorways_tui.tui.screens.new_theme import NewThemeScreen

        self.app.push_screen(NewThemeScreen(), self._queue_theme)

    def _queue_theme(self, request) -> None:
        if request is not None:
            self._queue_theme_worker(request)

    @work(thread=True, group="theme", exit_on_error=False)
    def _queue_theme_worker(self, request) -> None:
        from doorways_tui.themes.library import queue_theme

        report = queue_theme(self.main_screen.session.lib, request.theme, request.variants)
        self.post_message(
            self.Notice(
                f"{request.theme.name}: {report.new_jobs} job(s) queued"
                f" ({report.existing_jobs} already there)"
            )
        )

    def action_demo(self) -> None:
        self.main_screen.worker_offered = True  # the demo starts one itself
        self._demo()

    @work(thread=True, group="demo", exit_on_error=False)
    def _demo(self) -> None:
        from doorways_tui.workstation.demo import queue_demo

        main = self.main_screen
        report = queue_demo(main.session.lib)
        self.post_message(self.Notice(f"demo theme: {report.new_jobs} job(s) queued"))
        self._ensure_worker()

    def action_start_worker(self) -> None:
        self.main_screen.worker_offered = True
        self._start_worker()

    @work(thread=True, group="worker", exit_on_error=False)
    def _start_worker(self) -> None:
        self._ensure_worker(always=True)

    def _ensure_worker(self, always: bool = False) -> None:
        """Start a detached worker unless one is alive (in a worker thread)."""
        dapp = self.main_screen.dapp
        if not always and any(w.alive for w in dapp.reader.workers.all()):
            return
        self.post_message(self.Notice("starting a worker in the background…"))
        launch = dapp.launch_worker(dapp.library.root, dapp.settings.device)
        self.post_message(self.Notice(launch.message, "information" if launch.ok else "error"))

    def offer_worker(self, snap: Snapshot) -> None:
        """Once per session: jobs wait and no worker runs, so offer to start one."""
        main = self.main_screen
        if main.worker_offered or not main.dapp.offer_worker:
            return
        if not snap.counts.queued or snap.alive_workers:
            return
        main.worker_offered = True

        def done(start: bool | None) -> None:
            if start:
                self._start_worker()

        self.app.push_screen(StartWorkerScreen(snap.counts.queued), done)
