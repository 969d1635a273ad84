"""Helpers shared by the store tests of every tier."""

from __future__ import annotations

import pytest

from doorways_tui.store import Library
from tests.fixtures_store import Clock, new_library


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def lib(tmp_path, clock) -> Library:
    library = new_library(tmp_path / "lib", clock)
    yield library
    library.close()
