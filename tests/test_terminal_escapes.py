"""Text from the library or a file never drives the terminal (issue 11).

Rows are planted with SQL, past every check where text enters, as an old library or
another writer would leave them: a prompt, theme name, error, note and worker name that
set the window title (OSC 0/2), write the clipboard (OSC 52), clear the screen (CSI 2J,
also as the 8-bit CSI 0x9b) and reverse the text (U+202E). Whatever shows them (the CLI,
the app, a real terminal) must show escapes instead.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from textual.widgets import Input

from doorways_tui.cli import main
from doorways_tui.core.text import PrintableFormatter, printable
from doorways_tui.store import Library
from doorways_tui.tui.screens.compare import CompareScreen
from doorways_tui.tui.screens.loupe import LoupeScreen
from doorways_tui.tui.widgets.variant_tree import VariantTree
from tests.app_fixtures import CONFIG, main_screen, make_app, poll, populate, settle
from tests.fixtures_store import CLI, ROOT, seed_jobs, subprocess_env

PAYLOAD = (
    "\x1b]0;PWNED\x07"  # window title, BEL-terminated
    "\x1b[2J\x1b[H"  # clear the screen, cursor home
    "\x1b]52;c;cHduZWQ=\x07"  # write "pwned" to the clipboard
    "\x9b31m"  # 8-bit CSI
    "\u202eevil"  # right-to-left override
    "\x1b]2;PWNED\x1b\\"  # window title, ST-terminated (survives BEL stripping)
)
UNSAFE = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def unsafe_chars(text: str) -> list[str]:
    """Every control or format character in ``text`` but the newline, as U+XXXX."""
    return sorted(
        {f"U+{ord(c):04X}" for c in text if c != "\n" and unicodedata.category(c) in UNSAFE}
    )


def assert_inert(text: str) -> None:
    assert not unsafe_chars(text), f"raw control characters reach the terminal: {text!r}"


def plant(root: Path) -> None:
    """A library with one queued, one running and one failed job, a live worker, and the
    payload in every text column that is shown: written with SQL, as a writer that skips
    the entry checks would."""
    with Library.open(root) as lib:
        seed_jobs(lib, 3, prompt="entrance to heaven")
        lib.register_worker("w1", device="cpu", pid=os.getpid(), host="elsewhere")
        lib.claim_job("w1")
        failed = lib.claim_job("w1")
        assert failed is not None
        lib.fail_job(failed.id, "w1", "boom")
    db = sqlite3.connect(root / "library.db")
    with db:
        db.execute("UPDATE themes SET name = name || ?", (PAYLOAD,))
        db.execute("UPDATE variants SET prompt = prompt || ?, style = ?", (PAYLOAD, PAYLOAD))
        db.execute("UPDATE jobs SET error = error || ? WHERE status = 'failed'", (PAYLOAD,))
        db.execute(
            "UPDATE jobs SET worker_id = worker_id || ? WHERE worker_id IS NOT NULL", (PAYLOAD,)
        )
        db.execute(
            "UPDATE workers SET id = id || ?, host = ?, device = device || ?", (PAYLOAD,) * 3
        )
    db.close()


# -- printable ------------------------------------------------------------------------------


def test_printable_shows_controls_and_format_characters_as_escapes():
    assert printable("a\x1b]0;x\x07b") == "a\\x1b]0;x\\x07b"
    assert printable("\x9b2J\x7f\x00") == "\\x9b2J\\x7f\\x00"
    assert printable("\u202eabc\u2066\u2069\u200e\u200f\ufeff") == (
        "\\u202eabc\\u2066\\u2069\\u200e\\u200f\\ufeff"
    )
    assert printable("a\u2028b\u2029c") == "a\\u2028b\\u2029c"
    assert printable("hidden \U000e0041\U000e0042") == "hidden \\U000e0041\\U000e0042"
    assert printable("bad name \udcff.png") == "bad name \\udcff.png"  # surrogateescape


def test_printable_keeps_ordinary_unicode():
    for text in (
        "entrance to Fólkvangr, naïve café",
        "天国への入り口 | 地獄への入り口",
        "مدخل الجنة",  # right-to-left by its letters is fine: no override character
        "doors 🚪✨ 👩‍🔬 (a ZWJ sequence) 🏴󠁧󠁢󠁳󠁣󠁴󠁿 (Scotland: tag characters)",
        "می‌خواهم",  # Persian with a zero-width non-joiner
        "non\u00a0breaking and\u3000ideographic spaces",
        "",
    ):
        assert printable(text) == text


def test_printable_newlines_and_tabs():
    assert printable("one\ntwo\tthree\r") == "one\\ntwo\\tthree\\r"
    assert printable("one\ntwo\tthree", newlines=True) == "one\ntwo\\tthree"


def test_printable_is_idempotent_and_leaves_nothing_unsafe():
    once = printable(PAYLOAD + "\n")
    assert_inert(once)
    assert "\n" not in once
    assert printable(once) == once
    assert "PWNED" in once  # shown, not dropped: the reader sees what the text carries


def test_worker_log_lines_are_printable():
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(PrintableFormatter("%(levelname)s: %(message)s"))
    record = logging.LogRecord("w", logging.WARNING, "", 0, "job 3 failed: %s", (PAYLOAD,), None)
    line = handler.format(record)
    assert_inert(line)
    assert line.startswith("WARNING: job 3 failed: \\x1b]0;PWNED")


# -- the CLI --------------------------------------------------------------------------------


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = subprocess_env(root)
    env["COLUMNS"] = "400"  # rich: wide enough that nothing is cut with an ellipsis
    return subprocess.run(
        [sys.executable, "-c", CLI, "--library", str(root), *args],
        capture_output=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.parametrize(
    "args",
    [("queue", "list"), ("queue", "list", "--all"), ("queue", "list", "--json"), ("status",)],
)
def test_cli_prints_library_text_as_escapes(tmp_path, args):
    root = tmp_path / "lib"
    plant(root)
    done = run_cli(root, *args)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    for stream in (done.stdout, done.stderr):
        for byte in (b"\x1b", b"\x07", b"\x9b"):  # 0x9b: an 8-bit CSI written as Latin-1
            assert byte not in stream, stream
        assert_inert(stream.decode())
    out = done.stdout.decode()
    # The payload is shown, escaped (JSON escapes it its own way, and reads back exactly).
    assert ("\\u001b]0;PWNED" if "--json" in args else "\\x1b]0;PWNED") in out, out


def test_error_line_escapes_what_it_quotes(tmp_path, capsys):
    missing = tmp_path / f"nowhere{PAYLOAD}"
    assert main(["--library", str(missing), "queue", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("doorways: error: ") and err.count("\n") == 1, err
    assert "\\x1b]0;PWNED" in err
    assert_inert(err)


def test_usage_errors_escape_the_arguments_they_quote(capsys):
    assert main(["queue", "list", f"stray{PAYLOAD}"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err and "\\x1b[2J" in err
    assert_inert(err)


THEME = r"""
name = "Evil\u001b]0;PWNED\u0007 pack"
description = "clears\u001b[2J the \u009b31m screen"
template = "{doorway} to {subject}"
doorways = ["door\u202e"]
style = "by \u001b]52;c;cHduZWQ=\u0007 nobody"
seeds = 1

[[groups]]
name = "G\u001b[H"
pairs = [["heaven\u001b]2;PWNED\u001b\\", "hell"]]
"""


def test_theme_preview_never_prints_a_theme_files_control_characters(tmp_path, capsys):
    path = tmp_path / "evil.toml"
    path.write_text(THEME, encoding="utf-8")
    code = main(["theme", "preview", str(path), "--models", "demo"])
    out, err = capsys.readouterr()
    assert_inert(out)
    assert_inert(err)
    if code == 0:  # shown, escaped
        assert "\\x1b]0;PWNED" in out and "\\u202e" in out and "G\\x1b[H" in out, out
    else:  # or refused where it enters, in one line that is itself escaped
        assert code == 2 and err.startswith("doorways: error: ") and err.count("\n") == 1, err


# -- a real terminal ------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_queue_list_in_tmux_keeps_the_title_and_the_screen(tmp_path):
    """The check the issue's reporter made: the pane's title and its earlier output
    survive ``doorways queue list`` on a planted library."""
    from tests.test_tmux_triage import Tmux

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


# -- the app --------------------------------------------------------------------------------

# Textual's own output: cursor moves (always with a row and a column) and colours.
_TEXTUALS_OWN = re.compile(r"\x1b\[\d+;\d+H|\x1b\[[\d;]*m")


def frame(app) -> str:
    """What Textual writes to the terminal for the whole screen now (the headless driver
    drops it, so render it the way the real driver does), less its own sequences."""
    update = app.screen._compositor.render_update(full=True)
    return _TEXTUALS_OWN.sub("", update.render_segments(app.console))


def assert_frame_inert(app, *shown: str) -> str:
    text = frame(app)
    assert_inert(text)
    for part in shown:
        assert part in text, f"{part!r} is not on the screen:\n{text}"
    return text


def plant_app_library(root: Path) -> dict[str, int]:
    """Finished images (two variants and a child edit), a live worker with a running job,
    a queued job and a failed one; then the payload in every text column the app shows."""
    populate(root)
    with Library.open(root) as lib:
        lib.register_worker("w1", device="cpu", pid=os.getpid())
        lib.queue_jobs(1, [20, 21, 22], {**CONFIG, "prompts": "x"}, undoable=False)
        failed = lib.claim_job("w1")
        running = lib.claim_job("w1")
        assert failed is not None and running is not None
        lib.fail_job(failed.id, "w1", "boom")
        lib.update_progress(running.id, "w1", step=3, total=12, it_per_s=2.0, eta_s=4.5)
    db = sqlite3.connect(root / "library.db")
    with db:
        db.execute("UPDATE themes SET name = name || ?", (PAYLOAD,))
        db.execute(
            "UPDATE variants SET prompt = prompt || ?, style = ?, edit_text = edit_text || ?",
            (PAYLOAD,) * 3,
        )
        db.execute("UPDATE images SET note = ?", (f"note{PAYLOAD}\nline two",))
        db.execute("UPDATE jobs SET error = error || ? WHERE status = 'failed'", (PAYLOAD,))
        db.execute(
            "UPDATE jobs SET worker_id = worker_id || ? WHERE worker_id IS NOT NULL", (PAYLOAD,)
        )
        db.execute("UPDATE workers SET id = id || ?, device = device || ?", (PAYLOAD,) * 2)
    db.close()
    return {"failed": failed.id, "running": running.id}


@pytest.fixture
def planted() -> tuple[Path, dict[str, int]]:
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    return root, plant_app_library(root)


async def test_main_screen_shows_planted_text_as_escapes(planted):
    root, jobs = planted
    app = make_app()
    async with app.run_test(size=(180, 50)) as pilot:
        await settle(pilot)
        await poll(pilot)
        # the tree (themes, prompts, edits), the details (prompt, style, theme, note), the
        # queue panel (worker, running prompt, next prompts, latest failure)
        shown = assert_frame_inert(app, "\\x1b]0;PWNED", "\\u202e")
        assert "note\\x1b]0;PWNED" in shown  # the note keeps its newline, not its escapes
        tree = app.screen.query_one(VariantTree)
        tree._variants[1].expand()
        await settle(pilot)
        assert tree.select_job(1, jobs["failed"])
        await settle(pilot)
        # the failed seed: its error in the details, a line in the status bar
        assert_frame_inert(app, "boom\\x1b]0;PWNED", "failed")


async def test_dialogs_and_screens_show_planted_text_as_escapes(planted):
    from doorways_tui.tui.screens.edit_prompt import EditPromptScreen
    from doorways_tui.tui.screens.export_dialog import ExportDialog

    app = make_app()
    async with app.run_test(size=(180, 50)) as pilot:
        await settle(pilot)
        prompt = main_screen(app).detail.variant.prompt
        assert PAYLOAD in prompt  # the planted row, read back raw
        for key, screen_type in (("z", LoupeScreen), ("c", CompareScreen)):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, screen_type)
            assert_frame_inert(app)
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, EditPromptScreen)
        assert_frame_inert(app, "\\x1b]0;PWNED")
        assert dialog.query_one("#edit-text", Input).value == printable(prompt)
        assert dialog.base_text() == prompt  # untouched, the edit starts from the prompt
        await pilot.press("escape")
        await settle(pilot)
        main_screen(app).session.view = main_screen(app).session.view.with_text(PAYLOAD)
        await pilot.press("f")
        await settle(pilot)
        assert_frame_inert(app, "\\x1b]0;PWNED")  # the filter menu quotes the search
        await pilot.press("escape", "E")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        assert_frame_inert(app, "\\x1b]0;PWNED")


async def test_notifications_and_the_status_line_are_plain_and_printable(planted):
    app = make_app()
    async with app.run_test(size=(180, 50), notifications=True) as pilot:
        await settle(pilot)
        app.report_error(RuntimeError(f"cannot read {PAYLOAD} [@click=app.quit]x[/]"))
        main_screen(app).notify(f"from a screen {PAYLOAD}", title=f"title {PAYLOAD}")
        main_screen(app).say("[b]not bold[/b] \x1b]0;PWNED\x07")
        await pilot.pause(0.3)
        toasts = list(app._notifications)
        assert [n.markup for n in toasts] == [False, False]
        assert toasts[1].title.startswith("title \\x1b]0;PWNED")
        for toast in toasts:
            assert_inert(toast.message + toast.title)
        shown = assert_frame_inert(app, "cannot read", "from a screen", "title", "\\x1b]0;PWNED")
        assert "[@click=app.quit]x[/]" in shown  # shown as typed, not read as markup
        assert "[b]not bold[/b] \\x1b]0;PWNED\\x07" in shown  # the status line


async def test_new_theme_dialog_shows_a_theme_files_text_as_escapes(tmp_path):
    from textual.app import App

    from doorways_tui.tui.screens.new_theme import NewThemeScreen

    path = tmp_path / "evil.toml"
    path.write_text(THEME, encoding="utf-8")
    app = App()
    async with app.run_test(size=(140, 45)) as pilot:
        screen = NewThemeScreen()
        app.push_screen(screen)
        await pilot.pause()
        screen.source = "file"
        screen.query_one("#path", Input).value = str(path)
        for _ in range(200):  # until the count (a thread; the latest one wins) is shown
            await pilot.pause(0.05)
            if "counting" not in str(screen.query_one("#count").render()):
                break
        # counted and shown escaped, or refused at the door naming the character: never raw
        text = assert_frame_inert(app)
        assert "\\x1b" in text or "control character (U+001B)" in text


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_app_in_tmux_keeps_the_title_and_the_screen(tmp_path):
    """The app on a planted library in a real terminal: the pane keeps its title and the
    workstation stays drawn (no clear screen, no stray text from a broken sequence)."""
    from tests.test_tmux_triage import Tmux

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


# -- one rule: what is refused on the way in is what is escaped on the way out ---------------

SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
AGREEMENT = [
    *"\x00\x07\x1b\x7f\x85\x9b",  # C0, DEL, C1
    *"\u061c\u200e\u200f\u202a\u202e\u2066\u2069",  # bidi controls
    *"\u200b\u2060\ufeff\u00ad\u180e\U000e0001\U000e0041\U000e007f",  # zero-width, tags
    *"\u2028\u2029\udcff\ud800",  # separators, lone surrogates
    *"a é 天 🚪 \u00a0\u3000\u200c\u200d\ue000\U000f0000\u0378",  # kept: letters, joiners, PUA
    SCOTLAND,
    f"tag after a flag {SCOTLAND}\U000e0041",
    "\U0001f3f4\U000e0041 not a flag",
]


def refused(text: str) -> bool:
    from engine.config import ConfigError, check_text

    try:
        check_text("prompt", text)
    except ConfigError:
        return True
    return False


@pytest.mark.parametrize("text", AGREEMENT, ids=lambda t: "+".join(f"{ord(c):X}" for c in t[:3]))
def test_check_text_refuses_exactly_what_printable_escapes(text):
    assert refused(text) == (printable(text) != text), printable(text)


def test_input_and_output_rules_agree_on_every_code_point():
    """Over the BMP and the planes of emoji, private use and tags: a character alone is
    refused by check_text if and only if printable escapes it; tab and newline are the
    allowances typed text has (printable escapes them in a one-line cell)."""
    for code in [*range(0x10000), *range(0x1F000, 0x20000), *range(0xE0000, 0xF0100)]:
        ch = chr(code)
        if ch in "\t\n":
            assert not refused(ch) and printable(ch) != ch
            continue
        assert refused(ch) == (printable(ch) != ch), f"U+{code:04X}"


def test_store_refuses_a_hidden_character_in_a_theme_name(tmp_path):
    from doorways_tui.store import StoreError

    with Library.open(tmp_path / "lib") as lib:
        theme = lib.add_theme("fine")
        for name in ("t\x1b]0;pwn\x07", "a\u200bb", "t\udcff", "x\u2028y"):
            with pytest.raises(StoreError, match="^theme name (contains|is not valid UTF-8)"):
                lib.add_theme(name)
            with pytest.raises(StoreError, match="^theme name"):
                lib.rename_theme(theme.id, name)
        assert [t.name for t in lib.themes()] == ["fine"]
        assert lib.add_theme(f"Scotland {SCOTLAND}").name == f"Scotland {SCOTLAND}"


def test_worker_detach_prints_the_device_warning_as_escapes(tmp_path, monkeypatch, capsys):
    import doorways_tui.worker.loop as worker_module

    root = tmp_path / "lib"
    with Library.open(root) as lib:
        lib.register_worker("first", device="cpu")
    db = sqlite3.connect(root / "library.db")
    with db:
        db.execute("UPDATE workers SET id = id || ?", (PAYLOAD,))
    db.close()

    class FakeProcess:
        def poll(self):
            return None

    def fake_start(library, *, device, worker_id, args):
        with Library.open(library) as lib:
            lib.register_worker(worker_id, device="cpu", pid=12345678)
        return worker_module.Detached(4242, worker_id, root / "logs" / "w.log", FakeProcess())

    monkeypatch.setattr(worker_module, "start_detached", fake_start)
    monkeypatch.setattr("doorways_tui.store.workers.pid_running", lambda pid: True)
    code = main(["--library", str(root), "worker", "--detach", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 0 and "warning" in err and "first\\x1b]0;PWNED" in err
    assert_inert(out + err)
