"""The queue: workers' state, a live progress bar per running job (step, it/s, ETA) with
its latest preview, what is queued next, and recent failures; or, where the screen has
room for one line only, ``queue_line``. Prompts, errors and worker names come from the
library (any writer): they are shown through ``printable``."""

from __future__ import annotations

import time
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from doorways_tui.core.text import duration, printable
from doorways_tui.store import QueueItem
from doorways_tui.store.files import library_path_or_none
from doorways_tui.tui.keys import key_of
from doorways_tui.tui.widgets.job_row import JobRow, error_line
from doorways_tui.tui.widgets.preview import ImagePreview
from doorways_tui.workstation.poll import Snapshot

NO_WORKER = f"no worker running · {key_of('library.start-worker')} starts one"


def queue_line(snap: Snapshot | None) -> Text:
    """The queue in one line: "queue: 3 queued · 1 running 7/40 · 0 failed", and a warning
    when jobs wait and no worker is alive to run them."""
    text = Text("queue: ", style="bold", no_wrap=True, overflow="ellipsis")
    if snap is None:
        text.append("…", style="dim")
        return text
    c = snap.counts
    text.append(f"{c.queued} queued · {c.running} running")
    for item in snap.running:
        text.append(f" {item.step}/{item.total}", style="cyan")
    text.append(" · ")
    text.append(f"{c.failed} failed", style="bold red" if c.failed else "")
    if c.queued and not snap.alive_workers:
        text.append(f" · {NO_WORKER}", style="bold red")
    return text


class QueuePanel(Vertical):
    """Fed by ``update_snapshot`` from the screen's poll; shows nothing it must ask for."""

    def __init__(
        self, root: Path, *, id: str | None = None, preview_protocol: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.root = root  # the library folder: image paths are relative to it
        self._protocol = preview_protocol
        self.snapshot: Snapshot | None = None
        self._shown: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        yield Static(queue_line(None), id="queue-line")  # the screen's CSS shows one of the two
        with Vertical(id="queue-full"):
            yield Static("", id="queue-workers")
            yield Static("", id="queue-counts")
            yield Vertical(id="queue-running")
            yield ImagePreview(id="queue-preview", protocol=self._protocol)
            yield Static("", id="queue-next")
            yield Static("", id="queue-failed")

    def _set(self, selector: str, text: Text) -> None:
        """Repaint a line only when it changed (the poll comes twice a second, over SSH)."""
        plain = (text.plain, tuple(text.spans))
        if self._shown.get(selector) != plain:
            self._shown[selector] = plain
            self.query_one(selector, Static).update(text)

    def update_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self._set("#queue-line", queue_line(snap))
        self._set("#queue-workers", self._workers_text(snap))
        c = snap.counts
        self._set(
            "#queue-counts",
            Text(f"{c.running} running · {c.queued} queued · {c.done} done · {c.failed} failed"),
        )
        self._sync_rows(snap.running)
        preview = self.query_one("#queue-preview", ImagePreview)
        shown = next((snap.previews[r.id] for r in snap.running if r.id in snap.previews), None)
        preview.display = shown is not None
        if shown is not None:
            path = library_path_or_none(self.root, shown.path)
            preview.show(path, version=f"{shown.sha256}:{shown.step}")
        self._set("#queue-next", self._next_text(snap))
        self._set("#queue-failed", self._failed_text(snap))

    def _sync_rows(self, running: tuple[QueueItem, ...]) -> None:
        box = self.query_one("#queue-running", Vertical)
        rows = {row.job_id: row for row in box.query(JobRow)}
        wanted = {item.id for item in running}
        for job_id, row in rows.items():
            if job_id not in wanted:
                row.remove()
        for item in running:
            row = rows.get(item.id)
            if row is None:
                box.mount(JobRow(item))
            else:
                row.set_item(item)

    @staticmethod
    def _workers_text(snap: Snapshot) -> Text:
        alive = snap.alive_workers
        if not alive:
            if not snap.counts.queued:
                return Text("no worker running (nothing queued)", style="dim")
            return Text(NO_WORKER, style="bold red")
        now = time.time()
        text = Text()
        for w in alive:
            text.append(f"● {printable(w.id)}", style="bold green")
            text.append(f" {w.state} on {printable(w.device)} · {w.jobs_done} done")
            silent = now - w.heartbeat
            if silent > 20:
                text.append(f" · silent {duration(silent)}", style="yellow")
            text.append("\n")
        text.rstrip()
        return text

    @staticmethod
    def _next_text(snap: Snapshot) -> Text:
        queued = snap.queued
        if not queued:
            return Text("queue empty" if not snap.running else "", style="dim")
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("next:\n", style="bold")
        for item in queued:
            text.append(f"  s{item.seed} ", style="dim")
            text.append(f"{printable(item.prompt)}\n")
        more = snap.counts.queued - len(queued)
        if more > 0:
            text.append(f"  … and {more} more", style="dim")
        text.rstrip()
        return text

    @staticmethod
    def _failed_text(snap: Snapshot) -> Text:
        if not snap.failed:
            return Text("")
        last = snap.failed[0]
        text = Text(f"{snap.counts.failed} failed", style="bold red")
        text.append(f" · latest s{last.seed}: {error_line(last.error)[:120]}", style="red")
        text.append(f" · {key_of('runs.error')} whole error", style="dim")
        return text
