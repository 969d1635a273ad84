"""Helpers for the app's tests: the app over a library (``library_fixtures`` makes the
libraries; its helpers are re-exported here) and waiting for the app to settle."""

from __future__ import annotations

import time
from pathlib import Path

from doorways_tui.core.settings import load_settings
from doorways_tui.tui.app import DoorwaysApp
from doorways_tui.workstation.actions import WorkerLaunch
from tests.library_fixtures import CONFIG, PROMPTS, finish_all, populate, write_png

__all__ = [
    "CONFIG",
    "PROMPTS",
    "FakeLauncher",
    "finish_all",
    "main_screen",
    "make_app",
    "poll",
    "populate",
    "settle",
    "write_png",
]


class FakeLauncher:
    """Stands in for starting a detached worker: records the calls."""

    def __init__(self) -> None:
        self.calls: list[Path] = []
        self.devices: list[str] = []

    def __call__(self, root: Path, device: str) -> WorkerLaunch:
        self.calls.append(root)
        self.devices.append(device)
        return WorkerLaunch(True, "worker fake-1 started in the background")


def make_app(**kwargs) -> DoorwaysApp:
    """The app on the test's library (``DOORWAYS_LIBRARY``), half-cell previews, no poll
    timer unless asked, no worker offer, a fake worker launcher."""
    kwargs.setdefault("poll_interval", 0)
    kwargs.setdefault("preview_protocol", "halfcell")
    kwargs.setdefault("offer_worker", False)
    kwargs.setdefault("launch_worker", FakeLauncher())
    return DoorwaysApp(load_settings(), **kwargs)


async def settle(pilot, timeout: float = 10.0) -> None:
    """Wait until the keys' work is done and every thread worker has reported."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause()
        screen = main_screen(app)
        busy = any(w.is_running for w in app.workers if w.group != "image-preview")
        if (screen is None or screen.idle) and not busy:
            await pilot.pause()
            if (screen is None or screen.idle) and not any(
                w.is_running for w in app.workers if w.group != "image-preview"
            ):
                return
        await pilot.pause(0.01)
    raise AssertionError("the app did not settle")


def main_screen(app):
    from doorways_tui.tui.screens.main import MainScreen

    for screen in app.screen_stack:
        if isinstance(screen, MainScreen):
            return screen
    return None


async def poll(pilot) -> None:
    """Take one poll of the library now and let it land."""
    main_screen(pilot.app).poll()
    await settle(pilot)
