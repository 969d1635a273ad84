"""``JobRow``: one running job in the queue panel, with a live progress bar (step, it/s,
ETA). The prompt comes from the library (any writer): it is shown through ``printable``."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar

from doorways_tui.core.text import duration, printable
from doorways_tui.store import QueueItem


def stats_text(item: QueueItem) -> str:
    """``7/40 · 2.5 it/s · ETA 13s``. The engine reports a rate (and an ETA from it) only
    once it has timed some steps, and 0 before: no rate means no ETA (never "ETA 0s" for a
    job with steps to go), and "starting" only while no step is done."""
    parts = [f"{item.step}/{item.total}"]
    if item.it_per_s:
        parts.append(f"{item.it_per_s:.1f} it/s")
        if item.eta_s is not None:
            parts.append(f"ETA {duration(item.eta_s)}")
    elif item.step <= 0:
        parts.append("starting")
    return " · ".join(parts)


def error_line(error: str | None) -> str:
    """A failure in one line for the queue panel: its last non-blank line, which for a
    traceback is what went wrong ("RuntimeError: CUDA out of memory"), not its start."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return printable(lines[-1]) if lines else "no error was recorded"


class JobRow(Vertical):
    """One running job: prompt and seed, a progress bar, and step / it/s / ETA."""

    def __init__(self, item: QueueItem) -> None:
        super().__init__(classes="job-row")
        self.job_id = item.id
        self._first = item

    def compose(self) -> ComposeResult:
        yield Label("", classes="job-title")
        yield ProgressBar(total=max(1, self._first.total), show_eta=False, show_percentage=True)
        yield Label("", classes="job-stats")

    def on_mount(self) -> None:
        self.set_item(self._first)

    def set_item(self, item: QueueItem) -> None:
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append(f"seed {item.seed} ", style="bold")
        title.append(printable(item.prompt), style="dim")
        self.query_one(".job-title", Label).update(title)
        self.query_one(ProgressBar).update(total=max(1, item.total), progress=item.step)
        self.query_one(".job-stats", Label).update(stats_text(item))
