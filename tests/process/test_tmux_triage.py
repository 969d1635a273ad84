"""The app in a real terminal: tmux runs ``doorways`` on a library of images the tiny demo
models made through a real worker; keys go in with send-keys, the screen comes back with
capture-pane, and the library's rows must show the triage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from doorways_tui.store import ImageFilter, Library
from tests.fixtures_store import CLI, ROOT, subprocess_env

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"
)

TINY = {
    "width": 64,
    "height": 32,
    "steps": 4,
    "cutn": 4,
    "vqgan": "demo",
    "clip": "demo",
    "preview_every": 2,
}


class Tmux:
    """One tmux server of our own (its own socket), one session running the app."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.socket = name
        self.env = env

    def run(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, env=self.env
        )
        return done.stdout

    def start(self, command: str) -> None:
        self.run("new-session", "-d", "-s", "app", "-x", "140", "-y", "40", command)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", "app", key)
            time.sleep(0.15)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")

    def alive(self) -> bool:
        return "app" in self.run("list-sessions")

    def kill(self) -> None:
        self.run("kill-server")


def wait_row(root: Path, image_id: int, field: str, value, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    with Library.open(root) as lib:
        while time.monotonic() < deadline:
            row = lib.db.row(f"SELECT {field} FROM images WHERE id = ?", (image_id,))
            if row is not None and row[0] == value:
                return
            time.sleep(0.1)
        raise AssertionError(f"image {image_id}: {field} never became {value!r}")


@pytest.fixture
def made_library(tmp_path: Path, model_dir: Path) -> Path:
    """Four images from the tiny models, made by a real worker run to the end."""
    root = tmp_path / "library"
    with Library.open(root) as lib:
        theme = lib.tree.add_theme("doors")
        for prompt in ("entrance to heaven | entrance to hell", "a gate in the forest"):
            variant = lib.tree.root_variant(theme_id=theme.id, prompt=prompt)
            lib.queue.queue_jobs(variant.id, [0, 1], TINY, undoable=False)
    env = subprocess_env(root, model_dir)
    done = subprocess.run(
        [sys.executable, "-c", CLI, "--library", str(root), "worker", "--device", "cpu",
         "--exit-when-idle"],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    with Library.open(root) as lib:
        assert lib.images.position(ImageFilter(), None).total == 4
    return root


def image_ids(root: Path) -> list[int]:
    with Library.open(root) as lib:
        return [image.id for image in lib.images.images(limit=10)]


def test_triage_a_handful_of_images_in_a_real_terminal(made_library: Path, model_dir: Path):
    root = made_library
    a, b, c, d = image_ids(root)
    env = subprocess_env(root, model_dir)
    env.update(DOORWAYS_IMAGE_PROTOCOL="halfcell", TERM="xterm-256color")
    env.pop("TMUX", None)
    tmux = Tmux(f"doorways-test-{os.getpid()}", env)
    app = f"{sys.executable} -c '{CLI}' --library {root}"
    try:
        tmux.start(f"cd {ROOT} && {app}")
        first = tmux.wait_for("to triage")
        assert "1/4" in first and "4 to triage" in first and f"#{a} " in first
        tmux.keys("3")
        wait_row(root, a, "door_count", 3)
        assert "3 doors" in tmux.wait_for("3 doors")
        tmux.keys("n", "x")  # the second shows figures
        wait_row(root, b, "rejected", 1)
        tmux.keys("n", "s", "0")  # the third: a favourite with no door
        wait_row(root, c, "starred", 1)
        wait_row(root, c, "door_count", 0)
        tmux.keys("n", "7")  # the fourth: 7 doors, then undone
        wait_row(root, d, "door_count", 7)
        tmux.keys("u")
        wait_row(root, d, "door_count", None)
        screen = tmux.wait_for("undone")
        assert f"#{d} " in screen
        tmux.keys("f", "s")  # the starred filter: only the third
        screen = tmux.wait_for("1/1")
        assert "starred  in" in screen and f"#{c} " in screen
        tmux.keys("q")
        deadline = time.monotonic() + 10
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not tmux.alive(), "q did not quit"
    finally:
        tmux.kill()
    with Library.open(root) as lib:
        rows = [(i.door_count, i.rejected, i.starred) for i in lib.images.images(limit=10)]
    assert rows == [(3, False, False), (None, True, False), (0, False, True), (None, False, False)]


def test_x_on_a_running_job_in_a_real_terminal_lets_the_next_job_start(
    tmp_path: Path, model_dir: Path
):
    """A real worker paints a long run; the app (which follows a live run when nothing is
    finished) rejects it with x: the run is cancelled, its preview kept as rejected early,
    and the worker starts the next job."""
    from tests.process.test_worker_processes import start_worker, stop, wait_for

    root = tmp_path / "library"
    with Library.open(root) as lib:
        theme = lib.tree.add_theme("doors")
        long = lib.tree.root_variant(theme_id=theme.id, prompt="a door at the end of time")
        short = lib.tree.root_variant(theme_id=theme.id, prompt="a gate in the forest")
        (run,) = lib.queue.queue_jobs(long.id, [0], {**TINY, "steps": 3000}, undoable=False)
        (nxt,) = lib.queue.queue_jobs(short.id, [0], TINY, undoable=False)
    env = subprocess_env(root, model_dir)
    env.update(DOORWAYS_IMAGE_PROTOCOL="halfcell", TERM="xterm-256color")
    env.pop("TMUX", None)
    tmux = Tmux(f"doorways-live-{os.getpid()}", env)
    lib = Library.open(root)
    worker = start_worker(lib, tmp_path / "w.log", "--worker-id", "w-tmux", "--poll", "0.05")
    try:
        wait_for(lambda: lib.queue.job(run.id).step > 0, timeout=180, what="the run's steps",
                 procs=[worker])  # fmt: skip  (a worker runs: the app offers none)
        tmux.start(f"cd {ROOT} && {sys.executable} -c '{CLI}' --library {root}")
        tmux.wait_for("live preview at step", timeout=60)
        tmux.keys("x")
        tmux.wait_for("rejected early at step")
        wait_for(lambda: lib.queue.job(nxt.id).status != "queued", timeout=60,
                 what="the next job to start", procs=[worker])  # fmt: skip
        cancelled = lib.queue.job(run.id)
        assert cancelled.status == "cancelled" and cancelled.checkpoint is not None
        (kept,) = lib.images.images_for_job(run.id)
        assert (kept.kind, kept.rejected) == ("final", True) and kept.step < 3000
        wait_for(lambda: lib.queue.job(nxt.id).status == "done", timeout=120,
                 what="the next job to finish", procs=[worker])  # fmt: skip
        tmux.keys("q")
    finally:
        tmux.kill()
        stop(worker)
        lib.close()
