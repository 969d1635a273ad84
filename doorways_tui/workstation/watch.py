"""The watch view's data: every running run with its latest preview, its progress, its ETA
and (where the library records a loss per job) the trend of its loss, and the grid's
shape for a terminal size. The screen only draws this. No Textual, no torch.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from doorways_tui.core.text import duration
from doorways_tui.store import Image, Library
from doorways_tui.store.files import library_path_or_none

TREND_POINTS = 8  # the losses a cell remembers (one per look) for its trend
CELL_MIN = (34, 10)  # the smallest cell (columns, rows: caption included) worth drawing
CELL_ASPECT = 2.0  # a cell's width over its height where both are free (two pixels a row)


@dataclass(frozen=True)
class WatchCell:
    """One running run as a cell shows it."""

    job_id: int
    variant_id: int
    seed: int
    prompt: str
    step: int
    total: int
    eta_s: float | None
    preview: Image | None  # its latest preview (None until the first is written)
    path: Path | None  # the preview's file
    losses: tuple[float, ...] = ()  # oldest first, as the looks saw them

    @property
    def version(self) -> str:
        """Changes only when the preview's file does: the screen sends pixels then."""
        return "" if self.preview is None else f"{self.preview.sha256}:{self.preview.step}"

    def trend(self) -> str:
        """ "loss 1.234 ↓" (falling since the first look), "↑" rising, "→" flat; "" with no
        loss recorded."""
        if not self.losses:
            return ""
        last = self.losses[-1]
        first = self.losses[0]
        arrow = (
            "→"
            if abs(last - first) <= 1e-3 * max(abs(first), 1e-9)
            else ("↓" if last < first else "↑")
        )
        return f"loss {last:.3f} {arrow}"

    def caption(self) -> str:
        """ "seed 3 · 40/200 · loss 1.234 ↓ · ETA 2m05s"."""
        parts = [f"seed {self.seed}", f"{self.step}/{self.total}"]
        if trend := self.trend():
            parts.append(trend)
        parts.append(f"ETA {duration(self.eta_s)}")
        return " · ".join(parts)


@dataclass
class Watcher:
    """Looks at the running runs again and again, remembering each one's losses."""

    lib: Library
    _losses: dict[int, deque[float]] = field(default_factory=dict)

    def cells(self) -> list[WatchCell]:
        """Every running run, oldest claim first (the batch on each GPU together)."""
        running = [
            q for q in self.lib.queue.queue_view(queued_limit=0, failed_limit=0)
            if q.status == "running"
        ]  # fmt: skip
        ids = [q.id for q in running]
        losses = self.lib.queue.losses(ids)
        for gone in set(self._losses) - set(ids):
            del self._losses[gone]
        cells = []
        for q in running:
            if (loss := losses.get(q.id)) is not None:
                seen = self._losses.setdefault(q.id, deque(maxlen=TREND_POINTS))
                if not seen or seen[-1] != loss:
                    seen.append(loss)
            preview = next(
                (i for i in self.lib.images.images_for_job(q.id) if i.kind == "preview"), None
            )
            path = None if preview is None else library_path_or_none(self.lib.root, preview.path)
            cells.append(
                WatchCell(
                    job_id=q.id,
                    variant_id=q.variant_id,
                    seed=q.seed,
                    prompt=q.prompt,
                    step=q.step,
                    total=q.total,
                    eta_s=q.eta_s,
                    preview=preview,
                    path=path,
                    losses=tuple(self._losses.get(q.id, ())),
                )
            )
        return cells


def grid_shape(n: int, width: int, height: int) -> tuple[int, int]:
    """Columns and rows of a grid of ``n`` cells in ``width`` x ``height`` cells: the shape
    whose cells are largest (by the smaller side, a cell twice as wide as high counting as
    square), no cell smaller than ``CELL_MIN``. Rows past the height scroll, so a small
    terminal shows fewer, larger cells."""
    if n <= 0:
        return 1, 1
    max_cols = max(1, width // CELL_MIN[0])
    max_rows = max(1, height // CELL_MIN[1])
    best, best_score = (1, 1), None
    for cols in range(1, min(n, max_cols) + 1):
        rows = math.ceil(n / cols)
        shown = min(rows, max_rows)
        side = round(min(width / cols / CELL_ASPECT, height / shown), 1)
        # every cell on screen first, then the largest cells, then the most cells shown,
        # then the fewest columns (no empty slot for nothing)
        score = (rows <= max_rows, side, min(n, cols * shown), -cols)
        if best_score is None or score > best_score:
            best, best_score = (cols, shown), score
    return best
