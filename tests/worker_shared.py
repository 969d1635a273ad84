"""Helpers shared by the worker tests of every tier."""

from __future__ import annotations

import pytest

from doorways_tui.store import Library


@pytest.fixture
def lib(tmp_path) -> Library:
    library = Library.open(tmp_path / "lib")
    yield library
    library.close()
