"""The watch view's data (``workstation.watch``): the running runs with their previews,
progress, ETA and loss trend, and the grid's shape for a terminal size."""

from __future__ import annotations

import pytest

from doorways_tui.store import Library
from doorways_tui.workstation.watch import CELL_MIN, WatchCell, Watcher, grid_shape
from tests.library_fixtures import show_preview


def start(lib: Library, image_id: int, worker: str, *, step: int, pixels: int):
    job = lib.queue.reroll(image_id=image_id, n=1)[0]
    claimed = lib.claims.claim_job(worker)
    assert claimed.id == job.id
    lib.claims.update_progress(job.id, worker, step=step, total=claimed.total, eta_s=125.0)
    show_preview(lib, claimed, worker, pixels=pixels, step=step)
    return claimed


def test_the_watcher_follows_runs_as_they_start_and_end(populated):
    watcher = Watcher(populated)
    assert watcher.cells() == []
    a = start(populated, 1, "w1", step=4, pixels=1)
    b = start(populated, 4, "w2", step=8, pixels=2)
    cells = watcher.cells()
    assert [c.job_id for c in cells] == [a.id, b.id]
    first = cells[0]
    assert (first.seed, first.step, first.total, first.prompt) == (
        3, 4, 12, "entrance to heaven | entrance to hell"
    )  # fmt: skip
    assert first.path == populated.abspath(first.preview.path) and first.path.exists()
    assert first.caption() == "seed 3 · 4/12 · ETA 2m05s"  # no loss column: no trend
    version = first.version
    show_preview(populated, a, "w1", pixels=3, step=8)  # a new preview: a new version
    again = watcher.cells()[0]
    assert again.version != version and again.step == 4  # progress is written on its own
    populated.queue.cancel_job(a.id)
    assert [c.job_id for c in watcher.cells()] == [b.id]


def test_the_loss_trend_comes_from_the_jobs_loss_where_the_library_has_it(populated):
    """``jobs.loss`` is another part's column: added here by hand where it is missing."""
    columns = {r[1] for r in populated.db.rows("PRAGMA table_info(jobs)")}
    if "loss" not in columns:
        populated.db.execute("ALTER TABLE jobs ADD COLUMN loss REAL")
    job = start(populated, 1, "w1", step=4, pixels=1)
    watcher = Watcher(populated)
    for loss in (1.5, 1.4, 1.2):
        populated.db.execute("UPDATE jobs SET loss = ? WHERE id = ?", (loss, job.id))
        cell = watcher.cells()[0]
    assert cell.losses == (1.5, 1.4, 1.2)
    assert cell.caption() == "seed 3 · 4/12 · loss 1.200 ↓ · ETA 2m05s"


@pytest.mark.parametrize(
    ("losses", "said"),
    [((), ""), ((2.0, 2.5), "loss 2.500 ↑"), ((2.0, 2.0), "loss 2.000 →"), ((2.0,), "loss 2.000 →")],
)
def test_the_trend_says_which_way_the_loss_went(losses, said):
    cell = WatchCell(1, 1, 0, "p", 1, 2, None, None, None, losses)
    assert cell.trend() == said


def test_the_grid_has_fewer_larger_cells_in_a_small_terminal():
    assert grid_shape(0, 80, 22) == (1, 1)
    assert grid_shape(1, 80, 22) == (1, 1)
    assert grid_shape(4, 150, 38) == (2, 2)
    assert grid_shape(6, 150, 38) == (3, 2)
    cols, rows = grid_shape(8, 80, 22)  # 80x24 less the head and the status line
    assert cols * CELL_MIN[0] <= 80 and rows * CELL_MIN[1] <= 22 and cols * rows < 8
    assert grid_shape(3, 80, 22) == (2, 2) and grid_shape(8, 80, 22) == (2, 2)
