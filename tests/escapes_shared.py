"""Helpers shared by the terminal_escapes tests of every tier."""

from __future__ import annotations

import os
import sqlite3
import unicodedata
from pathlib import Path

from doorways_tui.store import Library
from tests.fixtures_store import seed_jobs
from tests.library_fixtures import CONFIG, populate

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


def plant_app_library(root: Path) -> dict[str, int]:
    """Finished images (two variants and a child edit), a live worker with a running job,
    a queued job and a failed one; then the payload in every text column the app shows."""
    populate(root)
    with Library.open(root) as lib:
        lib.workers.register("w1", device="cpu", pid=os.getpid())
        lib.queue.queue_jobs(1, [20, 21, 22], {**CONFIG, "prompts": "x"}, undoable=False)
        failed = lib.claims.claim_job("w1")
        running = lib.claims.claim_job("w1")
        assert failed is not None and running is not None
        lib.claims.fail_job(failed.id, "w1", "boom")
        lib.claims.update_progress(running.id, "w1", step=3, total=12, it_per_s=2.0, eta_s=4.5)
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


def plant(root: Path) -> None:
    """A library with one queued, one running and one failed job, a live worker, and the
    payload in every text column that is shown: written with SQL, as a writer that skips
    the entry checks would."""
    with Library.open(root) as lib:
        seed_jobs(lib, 3, prompt="entrance to heaven")
        lib.workers.register("w1", device="cpu", pid=os.getpid(), host="elsewhere")
        lib.claims.claim_job("w1")
        failed = lib.claims.claim_job("w1")
        assert failed is not None
        lib.claims.fail_job(failed.id, "w1", "boom")
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
