"""Live triage in the app: the triage keys on a running run's preview, on the main screen
and in the watch view (``W``). The runs are written through the store as a worker writes
them (a claim, a checkpoint, previews); tests/process/test_live_triage_worker.py does the
same against a real worker process."""

from __future__ import annotations

import json
from pathlib import Path

from doorways_tui.store import Library
from doorways_tui.tui.screens.watch import WatchCellView, WatchScreen
from doorways_tui.workstation.demo import DEMO_CONFIG
from tests.app_fixtures import main_screen, make_app, poll, settle
from tests.app_library_shared import root  # noqa: F401  (fixtures)
from tests.library_fixtures import show_preview

CHECKPOINT = "checkpoints/job-live.pt"


def runs(root: Path, n: int, *, queued: int = 1) -> list[int]:
    """``n`` running runs (worker w<i>, each with a checkpoint and a preview at step 10 of
    40) of their own variants, and ``queued`` more seeds of the first variant."""
    ids = []
    with Library.open(root) as lib:
        theme = lib.tree.add_theme("live")
        config = {**DEMO_CONFIG, "steps": 40}
        variants = [
            lib.tree.root_variant(theme_id=theme.id, prompt=f"door number {i}") for i in range(n)
        ]
        for i, variant in enumerate(variants):
            worker = f"w{i}"
            lib.workers.register(worker, device="cpu")
            (job,) = lib.queue.queue_jobs(variant.id, [i], config, undoable=False)
            job = lib.claims.claim_job(worker)
            lib.claims.set_checkpoint(job.id, worker, path=CHECKPOINT, step=10)
            lib.claims.update_progress(job.id, worker, step=10, total=40, eta_s=30.0)
            show_preview(lib, job, worker, pixels=i, step=10)
            ids.append(job.id)
        lib.queue.queue_jobs(variants[0].id, range(10, 10 + queued), config, undoable=False)
    return ids


def status_line(app) -> str:
    return str(main_screen(app).query_one("#status-line").render())


async def live_in_view(pilot) -> None:
    await settle(pilot)
    await poll(pilot)  # nothing finished: the main screen follows the live run
    await settle(pilot)
    assert main_screen(pilot.app).detail.image.kind == "preview"


async def test_digits_s_m_x_and_u_on_a_live_run_in_the_main_screen(root):
    (job_id,) = runs(root, 1)
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await live_in_view(pilot)
        lib, screen = app.library, main_screen(app)
        preview_id = screen.detail.image.id
        await pilot.press("3")
        await settle(pilot)
        assert lib.images.image(preview_id).door_count == 3
        assert "3 doors, kept for its final image" in status_line(app)
        await pilot.press("s")
        await settle(pilot)
        assert lib.images.image(preview_id).starred
        assert "★ promising" in status_line(app)
        await pilot.press("m")
        await settle(pilot)
        job = lib.queue.job(job_id)
        assert (job.total, json.loads(job.config)["steps"]) == (60, 60)
        assert "40 → 60 steps" in status_line(app)
        await pilot.press("x")
        await settle(pilot)
        job = lib.queue.job(job_id)
        assert (job.status, job.checkpoint) == ("cancelled", CHECKPOINT)
        image = lib.images.image(preview_id)
        assert (image.kind, image.rejected, image.step, image.door_count) == ("final", 1, 10, 3)
        assert screen.detail.image.kind == "final"
        assert "rejected early at step 10" in status_line(app)
        await pilot.press("u")
        await settle(pilot)
        job = lib.queue.job(job_id)
        assert (job.status, job.step, job.checkpoint) == ("queued", 10, CHECKPOINT)
        assert lib.images.image(preview_id).kind == "preview"
        assert "queued again, resuming from its checkpoint" in status_line(app)


async def test_plus_r_and_e_on_a_live_run(root):
    (job_id,) = runs(root, 1)
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await live_in_view(pilot)
        lib, screen = app.library, main_screen(app)
        await pilot.press("plus")
        await settle(pilot)
        assert lib.images.image(screen.detail.image.id).starred
        assert lib.images.image(screen.detail.image.id).rating is None
        queued = len(lib.queue.jobs(status="queued"))
        await pilot.press("r")
        await settle(pilot)
        assert len(lib.queue.jobs(status="queued")) == queued + 1
        await pilot.press("e")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "EditPromptScreen"
        await pilot.press("escape")
        await settle(pilot)


async def test_i_on_a_live_run_copies_its_current_preview(root):
    runs(root, 1)
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await live_in_view(pilot)
        preview = main_screen(app).detail.image
        await pilot.press("i")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "InitImageScreen"
        copy = root / "inits" / f"init-image-{preview.id:06d}-step10.png"
        assert copy.exists()
        await pilot.press("escape")
        await settle(pilot)


async def watch(pilot) -> WatchScreen:
    await pilot.press("W")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, WatchScreen)
    await until_gathered(pilot, screen)
    return screen


async def until_gathered(pilot, screen: WatchScreen) -> None:
    screen.gather()
    for _ in range(200):
        await pilot.pause(0.01)
        if screen.idle:
            break
    await settle(pilot)


async def test_the_watch_view_follows_runs_and_its_keys_judge_the_selected_one(root):
    ids = runs(root, 3)
    app = make_app()
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(pilot)
        screen = await watch(pilot)
        lib = app.library
        cells = list(screen.query(WatchCellView))
        assert [c.job_id for c in cells] == ids
        assert screen.selected == ids[0] and cells[0].has_class("-selected")
        caption = str(cells[0].query_one(".watch-caption").render())
        assert "seed 0 · 10/40" in caption and "ETA 30s" in caption and "door number 0" in caption
        await pilot.press("right")
        await settle(pilot)
        assert screen.selected == ids[1]
        assert main_screen(app).detail.job.id == ids[1]  # the selected run is in view
        await pilot.press("5")
        await settle(pilot)
        preview = next(i for i in lib.images.images_for_job(ids[1]) if i.kind == "preview")
        assert preview.door_count == 5
        assert "5 doors" in str(screen.query_one("#watch-status").render())
        await pilot.press("x")
        await settle(pilot)
        await until_gathered(pilot, screen)
        assert lib.queue.job(ids[1]).status == "cancelled"
        assert [c.job_id for c in screen.query(WatchCellView)] == [ids[0], ids[2]]
        assert "rejected early at step 10" in str(screen.query_one("#watch-status").render())
        await pilot.press("u")  # queued again: not running, so not in the grid
        await settle(pilot)
        assert lib.queue.job(ids[1]).status == "queued"
        assert runs_more(root) == ids[1]  # it runs again (the oldest queued): the grid follows
        await until_gathered(pilot, screen)
        assert [c.job_id for c in screen.query(WatchCellView)] == ids  # by when each started
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is main_screen(app)


def runs_more(root: Path) -> int:
    """A worker claims the next queued job and previews it; its id."""
    with Library.open(root) as lib:
        lib.workers.register("w9", device="cpu")
        job = lib.claims.claim_job("w9")
        show_preview(lib, job, "w9", pixels=9, step=12)
        return job.id


async def test_the_watch_view_says_so_with_no_run(root):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = await watch(pilot)
        assert "no run is running" in str(screen.query_one("#watch-head").render())
        await pilot.press("x")
        await settle(pilot)
        assert "no run is running to judge" in str(screen.query_one("#watch-status").render())
