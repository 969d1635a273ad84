"""The queue and the workers from the app: the palette finds cancel, retry and stop
worker; C cancels the selected run and u puts it back; ! shows a failure's whole error
(and r there retries it); w on a device that has a worker here asks first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette

from doorways_tui.store import Library
from doorways_tui.tui.commands import DoorwaysCommands, commands
from doorways_tui.tui.screens.job_error import JobErrorScreen
from doorways_tui.tui.screens.start_worker import BusyDeviceScreen
from doorways_tui.tui.widgets.variant_tree import VariantTree
from tests.app_fixtures import FakeLauncher, main_screen, make_app, poll, populate, settle

LONG_ERROR = (
    "Traceback (most recent call last):\n"
    + "\n".join(f'  File "engine/step.py", line {i}, in step' for i in range(60))
    + "\nRuntimeError: CUDA out of memory (the last line)"
)


@pytest.fixture
def library() -> Path:
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root)
    return root


def failed_and_queued(root: Path) -> tuple[int, list[int]]:
    """A failed run (seed 9, ``LONG_ERROR``) and two queued ones (seeds 10, 11), all of
    variant 2; returns their ids."""
    with Library.open(root) as lib:
        lib.workers.register("w1", device="cpu", pid=999_999_999)
        lib.queue.queue_jobs(2, [9], {"width": 64}, undoable=False)
        job = lib.claims.claim_job("w1")
        lib.claims.fail_job(job.id, "w1", LONG_ERROR)
        queued = lib.queue.queue_jobs(2, [10, 11], {"width": 64}, undoable=False)
        lib.db.execute("UPDATE workers SET state = 'stopped'")
        return job.id, [j.id for j in queued]


def status(app) -> str:
    return str(main_screen(app).query_one("#status-line").render())


async def pick_seed(pilot, variant_id: int, job_id: int) -> None:
    tree = main_screen(pilot.app).query_one(VariantTree)
    tree._variants[variant_id].expand()
    await settle(pilot)
    assert tree.select_job(variant_id, job_id)
    await settle(pilot)


async def palette(pilot, query: str, wanted: str) -> list[str]:
    """What the palette lists for ``query`` once an entry containing ``wanted`` shows."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    assert isinstance(pilot.app.screen, CommandPalette)
    await pilot.press(*query)
    shown: list[str] = []
    for _ in range(60):  # the palette searches in a worker
        await pilot.pause(0.05)
        options = pilot.app.screen.query_one(CommandList).options
        shown = [str(option.prompt).split("\n")[0] for option in options]
        if any(wanted in text for text in shown):
            break
    await pilot.press("escape")
    await pilot.pause()
    return shown


async def test_the_palette_finds_cancel_retry_and_stop_worker(library):
    failed_and_queued(library)
    with Library.open(library) as lib:
        lib.workers.register("w-here", device="cpu", pid=os.getpid())
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await poll(pilot)
        shown = await palette(pilot, "cancel", "queue: cancel")
        assert any(t.startswith("run: cancel the selected run") for t in shown), shown
        assert any(t.startswith("queue: cancel the queued jobs of variant") for t in shown)
        assert "queue: cancel the queued jobs of prompt theme 'doors'" in shown, shown
        shown = await palette(pilot, "retry", "retry every")
        assert "queue: retry the selected failed run" in shown, shown
        assert "queue: retry every failed job" in shown, shown
        shown = await palette(pilot, "stop worker", "w-here")
        assert f"worker: stop worker w-here on cpu (pid {os.getpid()})" in shown, shown
        assert not any("w1" in t for t in shown)  # a stopped worker is not offered
        # the palette's retry-all runs as the key would, and u undoes it
        provider = DoorwaysCommands(main_screen(app))
        (run,) = [r for name, r, _ in commands(provider) if name == "queue: retry every failed job"]
        run()
        await settle(pilot)
        assert status(app) == "1 failed job queued again; u puts them back"
        assert app.library.queue.counts().failed == 0
        await pilot.press("u")
        await settle(pilot)
        assert status(app) == "undone: retry the failed jobs (1 job back as they were)"
        assert app.library.queue.counts().failed == 1


async def test_C_cancels_the_selected_seed_and_u_puts_it_back(library):
    _, queued = failed_and_queued(library)
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await poll(pilot)
        await pick_seed(pilot, 2, queued[0])
        await pilot.press("C")
        await settle(pilot)
        assert status(app).startswith(f"cancelled job {queued[0]} (seed 10, was queued)")
        assert app.library.queue.job(queued[0]).status == "cancelled"
        assert app.library.queue.job(queued[1]).status == "queued"
        await pilot.press("u")
        await settle(pilot)
        assert status(app) == f"undone: cancel job {queued[0]} (1 job queued again)"
        assert app.library.queue.job(queued[0]).status == "queued"
        # the image in view is a finished run: nothing to cancel, one line
        main_screen(app).triage.submit(main_screen(app).session.first)  # an image again
        await settle(pilot)
        await pilot.press("C")
        await settle(pilot)
        assert "is done: nothing to cancel" in status(app)


async def test_bang_shows_the_whole_error_and_r_retries(library):
    failed, _ = failed_and_queued(library)
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await poll(pilot)
        # the queue panel's line says what went wrong (the traceback's end), and the key
        line = str(main_screen(app).query_one("#queue-failed").render())
        assert "latest s9: RuntimeError: CUDA out of memory (the last line)" in line
        assert line.endswith("! whole error") and "Traceback" not in line
        await pick_seed(pilot, 2, failed)
        await pilot.press("exclamation_mark")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, JobErrorScreen)
        text = str(screen.query_one("#job-error-text").render())
        assert text.splitlines()[0] == "Traceback (most recent call last):"
        assert "line 59, in step" in text and text.endswith("CUDA out of memory (the last line)")
        title = str(screen.query_one(".dialog-title").render())
        assert title == f"job {failed} · seed 9 failed after 1 attempt"
        scroll = screen.query_one("#job-error-scroll")
        assert scroll.max_scroll_y > 0  # longer than the dialog: it scrolls
        assert scroll.scroll_y == scroll.max_scroll_y  # opened at the end, what went wrong
        await pilot.press("home")
        for _ in range(40):  # the scroll is animated
            await pilot.pause(0.05)
            if scroll.scroll_y == 0:
                break
        assert scroll.scroll_y == 0
        await pilot.press("r")
        await settle(pilot)
        assert main_screen(app) is app.screen
        assert app.library.queue.job(failed).status == "queued"
        assert status(app) == f"job {failed} (seed 9) queued again; u puts it back"


async def test_bang_with_no_failure_says_so(library):
    app = make_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("exclamation_mark")
        await settle(pilot)
        assert main_screen(app) is app.screen
        assert "no job has failed" in status(app)


async def test_w_on_a_device_with_a_worker_here_asks_and_n_starts_nothing(library, monkeypatch):
    monkeypatch.setenv("DOORWAYS_DEVICE", "cpu")
    with Library.open(library) as lib:
        lib.workers.register("w-busy", device="cpu", pid=os.getpid())
    launcher = FakeLauncher()
    app = make_app(launch_worker=launcher)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert isinstance(app.screen, BusyDeviceScreen)
        shown = " ".join(str(s.render()) for s in app.screen.query("Static"))
        assert "cpu already has 1 live worker on this host: w-busy on cpu" in shown
        await pilot.press("n")
        await settle(pilot)
        assert launcher.calls == []
        assert status(app) == "no worker started"
        await pilot.press("w")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert launcher.devices == ["cpu"]


async def test_w_on_a_free_device_starts_at_once(library, monkeypatch):
    monkeypatch.setenv("DOORWAYS_DEVICE", "cpu")
    with Library.open(library) as lib:
        lib.workers.register("w-gpu1", device="cuda:1", pid=os.getpid())
    launcher = FakeLauncher()
    app = make_app(launch_worker=launcher)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert launcher.devices == ["cpu"]
