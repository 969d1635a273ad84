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
import shutil
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from doorways_tui.cli import main
from doorways_tui.store import Library
from doorways_tui.text import PrintableFormatter, printable
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
    with pytest.raises(SystemExit) as exit_:
        main(["queue", "list", f"stray{PAYLOAD}"])
    assert exit_.value.code == 2
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
    tmux = Tmux(f"doorways-escapes-{os.getpid()}", env)
    command = f"{sys.executable} -c '{CLI}' --library {root} queue list --all"
    try:
        tmux.start("sh")
        tmux.run("select-pane", "-t", "app", "-T", "before")
        tmux.run(
            "send-keys", "-t", "app", "-l", f"clear; echo MARK-BEFORE; {command}; echo MARK-AFTER"
        )
        tmux.run("send-keys", "-t", "app", "Enter")
        shown = tmux.wait_for("MARK-AFTER")
        time.sleep(0.3)  # anything the terminal still had to apply
        title = tmux.run("display-message", "-p", "-t", "app", "#{pane_title}").strip()
        assert title == "before", f"the pane title became {title!r}"
        shown = tmux.screen()
        assert "MARK-BEFORE" in shown, f"the screen was cleared:\n{shown}"
        assert "PWNED" in shown  # the payload is on the screen, as text
    finally:
        tmux.kill()
