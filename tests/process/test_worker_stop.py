"""Stopping a real worker from the app: the palette's "stop worker" entry sends it SIGTERM,
as ``kill PID`` does; it ends its step, puts its job back with the latent and exits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from doorways_tui.store import Library
from doorways_tui.tui.commands import DoorwaysCommands, commands
from tests.app_fixtures import main_screen, make_app, poll, settle
from tests.fixtures_store import TINY, seed_jobs
from tests.process.test_worker_processes import start_worker, stop, wait_for

pytestmark = pytest.mark.slow  # a real worker process (torch import, model load)


async def test_the_palette_stops_a_running_worker_and_its_job_goes_back(tmp_path):
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    with Library.open(root) as lib:
        (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 500, "preview_every": 0})
    lib = Library.open(root)
    log = tmp_path / "w.log"
    worker = start_worker(lib, log, "--worker-id", "w-real")
    try:
        wait_for(
            lambda: lib.queue.job(job.id).step >= 2, timeout=120, what="progress", procs=[worker]
        )
        app = make_app()
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            await poll(pilot)
            provider = DoorwaysCommands(main_screen(app))
            entry = f"worker: stop worker w-real on cpu (pid {worker.pid})"
            (run,) = [r for name, r, _ in commands(provider) if name == entry]
            run()
            await settle(pilot)
            said = str(main_screen(app).query_one("#status-line").render())
            assert said.startswith(f"asked worker w-real (pid {worker.pid}) to stop")
            assert worker.wait(60) == 0, log.read_text()
            await poll(pilot)
            provider = DoorwaysCommands(main_screen(app))
            names = [name for name, _, _ in commands(provider)]
            assert entry not in names  # a stopped worker is no longer offered
    finally:
        stop(worker)
    back = lib.queue.job(job.id)
    assert (back.status, back.worker_id) == ("queued", None)
    assert back.checkpoint_step is not None and back.checkpoint_step >= 2
    assert lib.workers.get("w-real").state == "stopped"
    assert "put back in the queue" in log.read_text()
    lib.close()
