"""Helpers shared by the store tests of every tier."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from doorways_tui.store import Library
from tests.fixtures_store import ROOT, Clock, new_library, subprocess_env


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lib(tmp_path, clock) -> Library:
    library = new_library(tmp_path / "lib", clock)
    yield library
    library.close()


def run_at_once(code: str, root: Path, names: Iterable[str]) -> None:
    """Run ``python -c code ROOT NAME`` for each name, all started before any is awaited,
    and assert each exited 0 (the stderr of all shown if not): library contention."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(root), name],
            env=subprocess_env(root),
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), errors
