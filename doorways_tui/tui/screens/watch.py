"""The watch view (``W``): every running run in a grid, each cell its latest preview with
step, loss trend and ETA under it. Arrows move the selection; the triage keys judge the
selected run as they judge a live preview on the main screen (``x`` rejects it early,
``s``/``+`` mark it promising, a digit counts its doors, ``m`` gives it more steps, ``r``
``e`` ``i`` start runs from it). The grid follows runs as they start and end.

The data comes from ``workstation.watch`` in a thread worker; this screen only draws. A
cell's pixels are sent again only when its preview's file changes (its version), so Sixel
and Kitty terminals stay steady between steps.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.events import Resize
from textual.message import Message
from textual.widgets import Static

from doorways_tui.core.text import printable
from doorways_tui.core.triage import SUMMARY_ORDER, triage_kind
from doorways_tui.tui.keys import MARK_BINDINGS, UNDO_BINDING, key_of
from doorways_tui.tui.screens.base import ReportingScreen
from doorways_tui.tui.triage import Triage
from doorways_tui.tui.widgets.preview import ImagePreview
from doorways_tui.tui.workbench import Workbench
from doorways_tui.workstation.session import Update
from doorways_tui.workstation.watch import WatchCell, Watcher, grid_shape

CAPTION_LINES = 2  # under each image: progress, then the prompt


class WatchCellView(Vertical):
    """One running run: its preview, then its progress and its prompt."""

    def __init__(self, job_id: int, protocol: str | None) -> None:
        super().__init__(classes="watch-cell")
        self.job_id = job_id
        self._protocol = protocol
        self.cell: WatchCell | None = None

    def compose(self) -> ComposeResult:
        yield ImagePreview(protocol=self._protocol, classes="watch-image")
        yield Static("", classes="watch-caption")

    def set_cell(self, cell: WatchCell) -> None:
        """Show ``cell``; the image is sent again only when its version changed."""
        self.cell = cell
        self.query_one(ImagePreview).show(cell.path, version=cell.version)
        head = Text(cell.caption(), style="bold")
        if (preview := cell.preview) is not None:  # marks put on it while it runs, briefly
            for mark in SUMMARY_ORDER:
                if (brief := mark.brief(mark.value(preview))) is not None:
                    head.append(f" {brief}", style=mark.style)
        caption = Text("\n").join([head, Text(printable(cell.prompt), style="dim")])
        caption.no_wrap, caption.overflow = True, "ellipsis"
        self.query_one(".watch-caption", Static).update(caption)


class WatchScreen(ReportingScreen):
    CSS_PATH = "watch.tcss"
    BINDINGS = [
        *MARK_BINDINGS,
        UNDO_BINDING,
        Binding("left", "move(-1, 0)", "left", show=False, id="watch.left"),
        Binding("right", "move(1, 0)", "right", show=False, id="watch.right"),
        Binding("up", "move(0, -1)", "up", show=False, id="watch.up"),
        Binding("down", "move(0, 1)", "down", show=False, id="watch.down"),
        Binding("m", "main('more_steps')", "more steps", id="watch.more-steps",
                tooltip="the selected run: 50% more steps"),
        Binding("r", "main('reroll(1)')", "reroll", id="watch.reroll",
                tooltip="queue the selected run's variant again with a new seed"),
        Binding("e", "main('edit')", "edit", show=False, id="watch.edit",
                tooltip="a child variant of the selected run's prompt"),
        Binding("i", "main('init')", "init", show=False, id="watch.init",
                tooltip="a new run from the selected run's current preview"),
        Binding("escape,W,q", "close", "back", id="watch.close",
                tooltip="back to the workstation"),
    ]  # fmt: skip

    @dataclass
    class Gathered(Message):
        cells: list[WatchCell]

    def __init__(
        self,
        triage: Triage,
        bench: Workbench,
        *,
        run_main_action: Callable[[str], object],
        poll_interval: float = 0.5,
    ) -> None:
        super().__init__()
        self.triage = triage
        self.bench = bench
        self.run_main_action = run_main_action
        self.poll_interval = poll_interval
        self.watcher = Watcher(bench.reader)
        self.cells: list[WatchCell] = []
        self.selected: int | None = None  # the selected run's job id
        self.columns = 1

    def compose(self) -> ComposeResult:
        yield Static("", id="watch-head")
        with VerticalScroll(id="watch-scroll"):
            yield Grid(id="watch-grid")
        yield Static("", id="watch-status")

    def on_mount(self) -> None:
        self.triage.said.subscribe(self, self._said)
        self.gather()
        if self.poll_interval > 0:
            self.set_interval(self.poll_interval, self.gather)

    def on_unmount(self) -> None:
        self.triage.said.unsubscribe(self)

    def _said(self, update: Update) -> None:
        if update.message:
            status = self.query_one("#watch-status", Static)
            status.update(printable(update.message))
            status.set_class(update.severity == "warning", "-warning")
            status.set_class(update.severity == "error", "-error")

    # -- the data -------------------------------------------------------------------------------

    def gather(self) -> None:
        if not any(w.group == "watch" and w.is_running for w in self.workers):
            self._gather()

    @work(thread=True, group="watch", exit_on_error=False)
    def _gather(self) -> None:
        self.post_message(self.Gathered(self.watcher.cells()))

    @property
    def idle(self) -> bool:
        """No look is in flight (tests wait for this)."""
        return not any(w.group == "watch" and w.is_running for w in self.workers)

    @on(Gathered)
    async def _gathered(self, event: Gathered) -> None:
        """Follow the running runs: new ones get a cell, ended ones lose theirs."""
        self.cells = event.cells
        grid = self.query_one("#watch-grid", Grid)
        views = {v.job_id: v for v in grid.query(WatchCellView)}
        wanted = [c.job_id for c in self.cells]
        for job_id, view in views.items():
            if job_id not in wanted:
                await view.remove()
        new = [
            WatchCellView(c.job_id, self.bench.preview_protocol)
            for c in self.cells
            if c.job_id not in views
        ]
        if new:
            await grid.mount_all(new)
        views = {v.job_id: v for v in grid.query(WatchCellView)}
        for n, cell in enumerate(self.cells):  # the grid's order is the runs' order
            view = views[cell.job_id]
            view.set_cell(cell)
            if grid.children.index(view) != n:
                grid.move_child(view, before=n)
        if self.selected not in wanted:
            self._select(wanted[0] if wanted else None)
        self._layout()
        self._head()

    def _head(self) -> None:
        n = len(self.cells)
        if not n:
            text = "watch: no run is running (they appear here as they start)"
        else:
            text = (
                f"watch: {n} running run{'s' * (n != 1)} · arrows select ·"
                f" {key_of('triage.reject')} reject early · {key_of('triage.star')} promising ·"
                f" 0-9 doors · m more steps · {key_of('triage.undo')} undo · esc back"
            )
        self.query_one("#watch-head", Static).update(text)

    # -- the grid -------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        self._layout()

    def _layout(self) -> None:
        scroll = self.query_one("#watch-scroll", VerticalScroll)
        width, height = scroll.size.width or self.size.width, scroll.size.height
        height = height or max(self.size.height - 2, 1)
        cols, rows = grid_shape(len(self.cells), width, height)
        self.columns = cols
        grid = self.query_one("#watch-grid", Grid)
        grid.styles.grid_size_columns = cols
        cell_height = max(height // rows, CAPTION_LINES + 3)
        grid.styles.grid_rows = (cell_height,)
        grid.styles.height = cell_height * -(-max(len(self.cells), 1) // cols)

    def _select(self, job_id: int | None) -> None:
        self.selected = job_id
        for view in self.query(WatchCellView):
            view.set_class(view.job_id == job_id, "-selected")
            if view.job_id == job_id:
                view.scroll_visible(animate=False)
        if job_id is not None:
            self.triage.show_job(job_id)

    def action_move(self, dx: int, dy: int) -> None:
        ids = [c.job_id for c in self.cells]
        if not ids:
            return
        at = ids.index(self.selected) if self.selected in ids else 0
        self._select(ids[max(0, min(len(ids) - 1, at + dx + dy * self.columns))])

    # -- the keys -------------------------------------------------------------------------------

    def _has_selection(self) -> bool:
        if self.selected is None:
            self._said(Update(message="no run is running to judge", severity="warning"))
            return False
        return True

    def action_mark(self, kind: str, value: int | None = None) -> None:
        if self._has_selection():
            self.triage.mark(triage_kind(kind), value)
            self.gather()

    def action_undo(self) -> None:
        self.triage.undo()
        self.gather()

    async def action_main(self, action: str) -> None:
        """A run key of the main screen, on the selected run (now the image in view)."""
        if self._has_selection():
            result = self.run_main_action(action)
            if inspect.isawaitable(result):
                await result

    def action_close(self) -> None:
        self.dismiss(None)
