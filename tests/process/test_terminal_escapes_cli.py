"""The CLI as a child process prints library text as escapes: the bytes it writes to its
pipes carry no escape sequence (issue 11; the in-process checks are
tests/unit/test_terminal_escapes.py, a real terminal is test_terminal_escapes_tmux.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.escapes_shared import assert_inert, plant
from tests.fixtures_store import CLI, ROOT, subprocess_env


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
