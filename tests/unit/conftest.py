"""Fixtures of the unit tier's workstation tests: a populated library (tests/library_fixtures.py,
real PNGs, no engine) and a triage session over it, driven directly, without the app.

Nothing here imports Textual; tests/process/test_import_hygiene.py checks that in a fresh
interpreter (in this one the pytest-textual-snapshot plugin has already loaded Textual).
And no unit test starts a child process: ``no_child_process`` refuses one.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from doorways_tui.store import Library
from doorways_tui.workstation.session import Session
from tests.library_fixtures import populate


@pytest.fixture
def populated() -> Iterator[Library]:
    """The test's library (``DOORWAYS_LIBRARY``) with one theme: variant 1 (images 1-3,
    seeds 0-2), variant 2 (images 4-6) and variant 3, a child of 1 (images 7-8)."""
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root)
    with Library.open(root) as lib:
        yield lib


@pytest.fixture
def other(populated: Library) -> Iterator[Library]:
    """A second connection to the same library, as another process (a shell, a worker)
    would write through it."""
    with Library.open(populated.root) as lib:
        yield lib


@pytest.fixture
def session(populated: Library) -> Session:
    """A session opened as the app opens it: on the first untriaged image."""
    session = Session(populated)
    session.first()
    return session


@pytest.fixture(autouse=True)
def no_child_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit tier starts no child process: a test that does belongs in tests/process."""

    def refuse(*args, **kwargs):
        raise AssertionError("a unit test started a child process: move it to tests/process")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(os, "fork", refuse)
    monkeypatch.setattr(os, "posix_spawn", refuse)
