"""Text from the library or a file never drives the terminal (issue 11).

Rows are planted with SQL, past every check where text enters, as an old library or
another writer would leave them: a prompt, theme name, error, note and worker name that
set the window title (OSC 0/2), write the clipboard (OSC 52), clear the screen (CSI 2J,
also as the 8-bit CSI 0x9b) and reverse the text (U+202E). Whatever shows them (the CLI,
the app, a real terminal) must show escapes instead.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import time

import pytest

from doorways_tui.cli import main
from doorways_tui.store import Library
from tests.escapes_shared import (
    PAYLOAD,
    assert_inert,
    plant,
    plant_app_library,
)
from tests.fixtures_store import CLI, ROOT, subprocess_env


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_queue_list_in_tmux_keeps_the_title_and_the_screen(tmp_path):
    """The check the issue's reporter made: the pane's title and its earlier output
    survive ``doorways queue list`` on a planted library."""
    from tests.process.test_tmux_triage import Tmux

    root = tmp_path / "lib"
    plant(root)
    env = subprocess_env(root)
    env["TERM"] = "xterm-256color"
    env.pop("TMUX", None)
    tmux = Tmux(f"doorways-escapes-{os.getpid()}", env)
    command = f"{sys.executable} -c '{CLI}' --library {root} queue list --all"
    try:
        tmux.start("sh")
        tmux.run("select-pane", "-t", "app", "-T", "before")
        tmux.run(
            "send-keys",
            "-t",
            "app",
            "-l",
            f"clear; echo BEFORE-$((2+3)); {command}; echo AFTER-$((2+3))",
        )
        tmux.run("send-keys", "-t", "app", "Enter")
        tmux.wait_for("AFTER-5")  # computed: the typed command line never shows it
        time.sleep(0.3)  # anything the terminal still had to apply
        title = tmux.run("display-message", "-p", "-t", "app", "#{pane_title}").strip()
        assert title == "before", f"the pane title became {title!r}"
        shown = tmux.screen()
        assert "BEFORE-5" in shown, f"the screen was cleared:\n{shown}"
        assert "PWNED" in shown  # the payload is on the screen, as text
    finally:
        tmux.kill()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_app_in_tmux_keeps_the_title_and_the_screen(tmp_path):
    """The app on a planted library in a real terminal: the pane keeps its title and the
    workstation stays drawn (no clear screen, no stray text from a broken sequence)."""
    from tests.process.test_tmux_triage import Tmux

    root = tmp_path / "library"
    plant_app_library(root)
    env = subprocess_env(root)
    env.update(DOORWAYS_IMAGE_PROTOCOL="halfcell", TERM="xterm-256color")
    env.pop("TMUX", None)
    tmux = Tmux(f"doorways-escapes-app-{os.getpid()}", env)
    try:
        tmux.start(f"cd {ROOT} && {sys.executable} -c '{CLI}' --library {root}")
        tmux.run("select-pane", "-t", "app", "-T", "before")
        tmux.wait_for("to triage")
        tmux.wait_for("PWNED")  # the planted prompt is on the screen, as text
        time.sleep(0.5)
        title = tmux.run("display-message", "-p", "-t", "app", "#{pane_title}").strip()
        assert title == "before", f"the pane title became {title!r}"
        shown = tmux.screen()
        assert "to triage" in shown and "\\x1b]0;PWNED" in shown, shown
        tmux.keys("q")
    finally:
        tmux.kill()


def test_worker_detach_prints_the_device_warning_as_escapes(tmp_path, monkeypatch, capsys):
    import doorways_tui.worker.loop as worker_module

    root = tmp_path / "lib"
    with Library.open(root) as lib:
        lib.workers.register("first", device="cpu")
    db = sqlite3.connect(root / "library.db")
    with db:
        db.execute("UPDATE workers SET id = id || ?", (PAYLOAD,))
    db.close()

    class FakeProcess:
        def poll(self):
            return None

    def fake_start(library, *, device, worker_id, args):
        with Library.open(library) as lib:
            lib.workers.register(worker_id, device="cpu", pid=12345678)
        return worker_module.Detached(4242, worker_id, root / "logs" / "w.log", FakeProcess())

    monkeypatch.setattr(worker_module, "start_detached", fake_start)
    monkeypatch.setattr("doorways_tui.store.workers.pid_running", lambda pid: True)
    code = main(["--library", str(root), "worker", "--detach", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0 and "warning" in err and "first\\x1b]0;PWNED" in err
    assert_inert(out + err)
