"""Helpers shared by the export tests of every tier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from doorways_tui.store import Library
from tests.library_fixtures import populate

NASTY = 'a/b\\c: "door" <to> | hell?* \x00\u202e CON'


@pytest.fixture
def lib():
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root, prompts=("nasty", "entrance to the forest realm"), child=False)
    with Library.open(root) as library:
        # As an older version stored it: a worker now refuses to run such a prompt.
        library.db.execute("UPDATE variants SET prompt = ? WHERE prompt = 'nasty'", (NASTY,))
        for image_id in (1, 2, 4):
            library.images.toggle_star(image_id)
        library.images.set_door_count(2, 3)
        library.images.set_note(4, "keep")
        yield library
