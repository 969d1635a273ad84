"""Live triage against a real worker process and the tiny demo models: the app's keys on a
running run's preview. ``x`` cancels the run (the worker drops it and takes the next job)
and keeps the preview as a rejected image; ``u`` queues it again, and its finish makes one
image, carrying the marks put on it while it ran; a job given more steps before it starts
finishes at the new count."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from doorways_tui.store import Library
from tests.app_fixtures import main_screen, make_app, poll, settle
from tests.fixtures_store import TINY
from tests.process.test_worker_processes import start_worker, stop, wait_for

pytestmark = pytest.mark.slow  # a real worker process (torch import, model load)


def preview_of(lib: Library, job_id: int):
    return next((i for i in lib.images.images_for_job(job_id) if i.kind == "preview"), None)


async def test_x_on_a_live_run_lets_the_next_job_start_and_u_resumes_it(tmp_path):
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    with Library.open(root) as lib:
        theme = lib.tree.add_theme("live")
        a = lib.tree.root_variant(theme_id=theme.id, prompt="a door in the sea")
        b = lib.tree.root_variant(theme_id=theme.id, prompt="a door in the sky")
        config = {**TINY, "width": 64, "height": 32, "preview_every": 2}
        (run,) = lib.queue.queue_jobs(a.id, [0], {**config, "steps": 150}, undoable=False)
        (nxt,) = lib.queue.queue_jobs(b.id, [0], {**config, "steps": 6}, undoable=False)
    lib = Library.open(root)
    log = tmp_path / "w.log"
    worker = start_worker(lib, log, "--worker-id", "w-live", "--poll", "0.05")
    stopped = False
    try:
        wait_for(lambda: preview_of(lib, run.id) is not None, timeout=180, what="a preview",
                 procs=[worker])  # fmt: skip
        os.kill(worker.pid, signal.SIGSTOP)  # the run waits while the app opens on it
        stopped = True
        lib.queue.extend_job(nxt.id, 9)  # more steps for the next job, before it starts
        app = make_app()
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            await poll(pilot)  # nothing finished: the app shows the live run
            await settle(pilot)
            screen = main_screen(app)
            assert screen.detail.image.kind == "preview" and screen.detail.job.id == run.id
            await pilot.press("3", "s")
            await settle(pilot)
            os.kill(worker.pid, signal.SIGCONT)
            stopped = False
            started = time.monotonic()
            await pilot.press("x")
            await settle(pilot)
            wait_for(lambda: lib.queue.job(nxt.id).status != "queued", timeout=60,
                     what="the next job to start", procs=[worker])  # fmt: skip
            print(f"x to the next job's claim: {time.monotonic() - started:.2f} s")
            cancelled = lib.queue.job(run.id)
            assert cancelled.status == "cancelled" and cancelled.checkpoint is not None
            (kept,) = lib.images.images_for_job(run.id)
            assert (kept.kind, kept.rejected, kept.door_count, kept.starred) == (
                "final", True, 3, True
            )  # fmt: skip
            assert kept.step < 150
            wait_for(lambda: lib.queue.job(nxt.id).status == "done", timeout=120,
                     what="the next job to finish", procs=[worker])  # fmt: skip
            await pilot.press("u")  # the run rejected early goes back in the queue
            await settle(pilot)
            assert "queued again" in str(screen.query_one("#status-line").render())
            wait_for(lambda: lib.queue.job(run.id).status == "done", timeout=180,
                     what="the resumed run to finish", procs=[worker])  # fmt: skip
    finally:
        if stopped:
            os.kill(worker.pid, signal.SIGCONT)
        stop(worker)
    (final,) = lib.images.images_for_job(run.id)  # one image: the early one became the run's
    assert (final.kind, final.rejected, final.step, final.door_count, final.starred) == (
        "final", False, 150, 3, True
    )  # fmt: skip
    (other,) = lib.images.images_for_job(nxt.id)
    assert other.step == 9 and lib.queue.job(nxt.id).total == 9
    lib.close()
