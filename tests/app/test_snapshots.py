"""Snapshots of the main screens (pytest-textual-snapshot), at a fixed size, with
deterministic libraries and the half-cell renderer (Kitty/Sixel output is not text).

Update after a deliberate change with ``pytest tests/app/test_snapshots.py --snapshot-update``
and look at the SVGs in ``tests/__snapshots__/`` before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from doorways_tui.store import Library
from doorways_tui.tui.screens import main
from doorways_tui.tui.widgets.welcome import Welcome
from doorways_tui.workstation.demo import DEMO_CONFIG
from tests.app_fixtures import make_app, poll, populate, settle
from tests.library_fixtures import show_preview

SIZE = (150, 40)
# The welcome screen prints the library's path: it shows this one, whatever the test's
# temporary library is called, so the snapshot is the same on every run.
SHOWN_ROOT = Path("/tmp/doorways-snapshot-library")


@pytest.fixture
def library(monkeypatch, tmp_path) -> Path:
    root = tmp_path / "library"
    monkeypatch.setenv("DOORWAYS_LIBRARY", str(root))
    return root


@pytest.fixture
def triaged(library) -> Path:
    populate(library)
    with Library.open(library) as lib:
        lib.images.toggle_star(1)
        lib.images.set_door_count(1, 2)
        lib.images.toggle_reject(3)
        lib.images.set_rating(1, 4)
    return library


async def ready(pilot) -> None:
    await settle(pilot)
    await poll(pilot)
    await settle(pilot)


def test_main_screen(snap_compare, triaged):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_main_screen_at_80x24(snap_compare, triaged):
    """The smallest terminal still triages: the card, the queue line, triage keys first."""
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=ready)


def test_main_screen_tree_open_on_seeds(snap_compare, triaged):
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("down", "down", "space", "down", "down", "down", "down")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_welcome_on_an_empty_library(snap_compare, library, monkeypatch):
    class ShownRoot(Welcome):
        def __init__(self, root: Path, *, id: str | None = None) -> None:
            super().__init__(SHOWN_ROOT, id=id)

    monkeypatch.setattr(main, "Welcome", ShownRoot)
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_running_job_with_live_preview(snap_compare, library):
    with Library.open(library) as lib:
        theme = lib.tree.add_theme("t")
        variant = lib.tree.root_variant(theme_id=theme.id, prompt="entrance to heaven")
        lib.queue.queue_jobs(variant.id, [5, 6, 7], DEMO_CONFIG, undoable=False)
        job = lib.claims.claim_job("w1")  # no worker row: the panel says none is running
        show_preview(lib, job, "w1", pixels=5, step=10)
        lib.claims.update_progress(job.id, "w1", step=10, total=40, it_per_s=2.0, eta_s=15)
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=ready)


def test_loupe(snap_compare, triaged):
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("z")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_compare(snap_compare, triaged):
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("c")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_edit_prompt_dialog(snap_compare, triaged):
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("e", "u", "d")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, triaged):
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def _running_runs(library: Path, n: int) -> None:
    """``n`` runs on their own workers, previews at different steps; the second is marked
    promising with three doors seen so far."""
    with Library.open(library) as lib:
        theme = lib.tree.add_theme("t")
        for i in range(n):
            variant = lib.tree.root_variant(theme_id=theme.id, prompt=f"entrance number {i}")
            lib.queue.queue_jobs(variant.id, [i], DEMO_CONFIG, undoable=False)
            job = lib.claims.claim_job(f"w{i}")
            preview = show_preview(lib, job, f"w{i}", pixels=5 + 20 * i, step=8 * (i + 1))
            lib.claims.update_progress(
                job.id, f"w{i}", step=8 * (i + 1), total=40, it_per_s=2.0, eta_s=15 * (4 - i)
            )
            if i == 1:
                image = lib.db.row("SELECT id FROM images WHERE path = ?", (preview,))[0]
                lib.queue.star_live(image, on=True)
                lib.images.set_door_count(image, 3)


def _open_watch(pilot) -> object:
    async def run_before(pilot) -> None:
        await ready(pilot)
        await pilot.press("W")
        await settle(pilot)
        screen = pilot.app.screen
        screen.gather()
        for _ in range(300):
            await pilot.pause(0.01)
            if screen.idle:
                break
        await settle(pilot)
        await pilot.press("right")
        await settle(pilot)
        await pilot.pause(0.3)  # the cells' images

    return run_before(pilot)


def test_watch_view(snap_compare, library):
    _running_runs(library, 4)
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_open_watch)


def test_watch_view_at_80x24(snap_compare, library):
    """Fewer, larger cells: the rest scroll into view as the selection moves."""
    _running_runs(library, 5)
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_open_watch)
