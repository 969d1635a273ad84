"""The main screen's queue and worker actions: cancel the selected run (or every queued job
of its variant or prompt theme), retry failed runs, read a failure whole, stop a worker,
and ``w``'s question when the device already has a worker here.

What they act on is the selection: the run of the image in view, else the seed picked in
the tree (a failed or queued seed has no image to view). The work itself is
``workstation.queue_control``; cancels and retries go through the triage's queue, in key
order, so ``u`` undoes them as it undoes a reroll.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.screen import Screen

from doorways_tui.core.text import printable
from doorways_tui.store import WorkerInfo
from doorways_tui.tui.screens.job_error import JobErrorScreen
from doorways_tui.tui.screens.start_worker import BusyDeviceScreen
from doorways_tui.tui.triage import Triage
from doorways_tui.tui.widgets.variant_tree import NodeData, VariantTree, short
from doorways_tui.tui.workbench import Workbench
from doorways_tui.workstation import queue_control
from doorways_tui.workstation.queue_control import FailedRun
from doorways_tui.workstation.session import Update

Say = Callable[[str, str], None]


@dataclass(frozen=True)
class Selection:
    """The run, variant and prompt theme the queue actions act on (any may be None)."""

    job_id: int | None = None
    variant_id: int | None = None
    theme_id: int | None = None
    variant_label: str = ""
    theme_label: str = ""


class QueueTasks:
    """Owned by the main screen; ``start_worker`` is what ``w`` runs once it may."""

    def __init__(
        self,
        screen: Screen[None],
        triage: Triage,
        bench: Workbench,
        say: Say,
        start_worker: Callable[[], None],
    ) -> None:
        self.screen = screen
        self.triage = triage
        self.bench = bench
        self.say = say
        self._start_worker = start_worker

    # -- what is selected -----------------------------------------------------------------

    def selection(self) -> Selection:
        detail = self.triage.detail
        node = self._tree_node()
        job_id = detail.job.id if detail is not None else None
        if job_id is None and node is not None and node.kind == "seed":
            job_id = node.job_id
        variant_id = detail.variant.id if detail is not None else None
        theme_id = detail.variant.theme_id if detail is not None else None
        variant_label = short(printable(detail.variant.prompt)) if detail is not None else ""
        if variant_id is None and node is not None and node.kind in ("variant", "seed"):
            variant_id, variant_label = node.variant_id, node.label
        if theme_id is None and node is not None:
            theme_id = node.theme_id
        return Selection(job_id, variant_id, theme_id, variant_label, self._theme_label(theme_id))

    def _tree_node(self) -> NodeData | None:
        trees = self.screen.query(VariantTree)
        node = trees.first().cursor_node if trees else None
        return node.data if node is not None and isinstance(node.data, NodeData) else None

    def _theme_label(self, theme_id: int | None) -> str:
        trees = self.screen.query(VariantTree)
        if theme_id is None or not trees:
            return ""
        for node in trees.first().root.children:
            data = node.data
            if isinstance(data, NodeData) and data.kind == "theme" and data.theme_id == theme_id:
                return data.label
        return f"theme {theme_id}"

    def _submit(self, op: Callable[[], str]) -> None:
        """A queue change in key order; its line is the status line, and counts move."""
        self.triage.submit(lambda: Update(message=op(), wrote=True))

    # -- cancel and retry -----------------------------------------------------------------

    def cancel_run(self) -> None:
        job_id, lib = self.selection().job_id, self.triage.session.lib
        if job_id is None:
            self.say("cancel: no run selected (pick a seed in the tree)", "warning")
            return
        self._submit(lambda: queue_control.cancel_run(lib, job_id))

    def cancel_variant(self) -> None:
        sel, lib = self.selection(), self.triage.session.lib
        if sel.variant_id is None:
            self.say("cancel: no variant selected (pick one in the tree)", "warning")
            return
        label = f"variant '{sel.variant_label}'"
        self._submit(
            lambda: queue_control.cancel_queued(lib, variant_id=sel.variant_id, label=label)
        )

    def cancel_theme(self) -> None:
        sel, lib = self.selection(), self.triage.session.lib
        if sel.theme_id is None:
            self.say("cancel: no prompt theme selected (pick one in the tree)", "warning")
            return
        label = f"prompt theme '{sel.theme_label}'"
        self._submit(lambda: queue_control.cancel_queued(lib, theme_id=sel.theme_id, label=label))

    def retry_run(self, job_id: int | None = None) -> None:
        job_id = job_id if job_id is not None else self.selection().job_id
        lib = self.triage.session.lib
        if job_id is None:
            self.say("retry: no run selected (pick a failed seed in the tree)", "warning")
            return
        self._submit(lambda: queue_control.retry_run(lib, job_id))

    def retry_failed(self) -> None:
        lib = self.triage.session.lib
        self._submit(lambda: queue_control.retry_failed(lib))

    # -- a failure, whole -----------------------------------------------------------------

    def show_error(self) -> None:
        """The selected run's whole error (the latest failure when it did not fail)."""
        job_id = self.selection().job_id
        self.screen.run_worker(
            lambda: self._load_error(job_id), group="job-error", thread=True, exit_on_error=False
        )

    def _load_error(self, job_id: int | None) -> None:
        try:
            run = queue_control.failed_run(self.bench.reader, job_id)
        except Exception as exc:  # a StoreError: one line ("no job has failed")
            self.screen.call_later(self.say, f"error: {exc}", "warning")
            return
        self.screen.call_later(self._error_ready, run)

    def _error_ready(self, run: FailedRun) -> None:
        def done(retry: bool | None) -> None:
            if retry:
                self.retry_run(run.job.id)

        self.screen.app.push_screen(JobErrorScreen(run), done)

    # -- workers --------------------------------------------------------------------------

    def workers_here(self, workers: tuple[WorkerInfo, ...]) -> list[WorkerInfo]:
        """The live workers this app can stop (on this machine)."""
        return queue_control.here(workers)

    def stop_worker(self, worker_id: str) -> None:
        lib = self.triage.session.lib
        self.triage.submit(lambda: Update(message=queue_control.stop_worker(lib, worker_id)))

    def start_worker(self) -> None:
        """``w``: ask first when the device already has a live worker on this machine."""
        self.screen.run_worker(self._check_device, group="worker", thread=True, exit_on_error=False)

    def _check_device(self) -> None:
        warning = queue_control.device_clash(self.bench.reader, self.bench.device)
        self.screen.call_later(self._device_checked, warning)

    def _device_checked(self, warning: str | None) -> None:
        if warning is None:
            self._start_worker()
            return

        def done(start: bool | None) -> None:
            if start:
                self._start_worker()
            else:
                self.say("no worker started", "information")

        self.screen.app.push_screen(BusyDeviceScreen(warning), done)
