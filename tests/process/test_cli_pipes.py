"""The CLI in a pipeline (``| head``)."""

from __future__ import annotations

import subprocess
import sys

from doorways_tui.store import Library
from tests.fixtures_store import CLI, ROOT, seed_jobs, subprocess_env


def test_queue_list_json_into_head_ends_quietly(tmp_path):
    root = tmp_path / "lib"
    with Library.open(root) as lib:
        seed_jobs(lib, 3000)  # far more than a pipe buffer of JSON lines
    cmd = [sys.executable, "-c", CLI, "--library", str(root), "queue", "list", "--json"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=subprocess_env(root),
        cwd=ROOT,
    )
    assert proc.stdout.readline().startswith(b"{")
    proc.stdout.close()  # what `head -1` does once it has its line
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert err == ""
