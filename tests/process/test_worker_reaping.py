"""The worker's data integrity, in this process: a worker that lost its job replaces no
file, an image file the library has no row for is never replaced, a full disk ends as the
job's error, a gone worker's job is back in the queue at once, killed workers' temporary
files are swept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def test_an_unreaped_worker_process_counts_as_gone():
    """A detached worker whose parent (the app) never reaps it stays a zombie."""
    from doorways_tui.store.claims import pid_running

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert not pid_running(proc.pid) and pid_running(os.getpid())
    finally:
        proc.wait()
