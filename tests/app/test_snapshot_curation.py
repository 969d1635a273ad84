"""A snapshot of the details with CLIP's suggestion (pytest-textual-snapshot): the
"suggests" line under the artist's tags, styled and worded apart from them. Update with
``--snapshot-update`` and look at the SVG before committing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from doorways_tui.store import Library
from tests.app_fixtures import make_app, poll, populate, settle
from tests.curation_shared import judge, unit


@pytest.fixture
def library(monkeypatch, tmp_path) -> Path:
    root = tmp_path / "library"
    monkeypatch.setenv("DOORWAYS_LIBRARY", str(root))
    populate(root)
    with Library.open(root) as lib:
        lib.images.toggle_star(1)
        judge(lib, 1, unit(1), doors=2, figures=False, sides=(0.31, 0.27))
    return root


async def ready(pilot) -> None:
    await settle(pilot)
    await poll(pilot)
    await settle(pilot)


def test_details_with_a_suggestion(snap_compare, library):
    assert snap_compare(make_app(), terminal_size=(150, 40), run_before=ready)
