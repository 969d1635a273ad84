"""Export: PNGs byte for byte, sidecars, contact sheet, safe names, nothing overwritten."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from PIL import Image as PILImage

from doorways_tui.export import all_images, create_exclusive, export_images
from doorways_tui.store import ImageFilter, Library
from tests.app_fixtures import populate
from tests.fixtures_store import doorways

NASTY = 'a/b\\c: "door" <to> | hell?* \x00\u202e CON'


@pytest.fixture
def lib():
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root, prompts=("nasty", "entrance to the forest realm"), child=False)
    with Library.open(root) as library:
        # As an older version stored it: a worker now refuses to run such a prompt.
        library.db.execute("UPDATE variants SET prompt = ? WHERE prompt = 'nasty'", (NASTY,))
        for image_id in (1, 2, 4):
            library.toggle_star(image_id)
        library.set_door_count(2, 3)
        library.set_note(4, "keep")
        yield library


def test_exports_starred_pngs_intact_with_sidecars_and_sheet(lib, tmp_path):
    images = list(all_images(lib, ImageFilter(view="starred")))
    result = export_images(lib, images, tmp_path / "out")
    assert len(result.files) == 3
    for path, image in zip(result.files, images, strict=True):
        assert path.read_bytes() == lib.abspath(image.path).read_bytes()  # metadata intact
        assert path.parent == tmp_path / "out"
        assert "/" not in path.name and "\x00" not in path.name and "\u202e" not in path.name
    records = json.loads(result.sidecar_json.read_text())
    assert [r["image_id"] for r in records] == [1, 2, 4]
    second = records[1]
    assert second["prompt"] == NASTY and second["seed"] == 1
    assert second["tags"] == ["doors:3", "starred"]
    assert second["parameters"]["width"] == 64 and second["losses"]["total"] > 1
    assert records[2]["note"] == "keep"
    rows = list(csv.DictReader(result.sidecar_csv.open(encoding="utf-8")))
    assert [r["file"] for r in rows] == [p.name for p in result.files]
    with PILImage.open(result.sheet) as sheet:
        assert sheet.width >= 3 * 256 and sheet.height > 160


def test_exporting_twice_never_overwrites(lib, tmp_path):
    images = list(all_images(lib, ImageFilter(view="starred")))
    out = tmp_path / "out"
    first = export_images(lib, images, out)
    before = {p: p.read_bytes() for p in out.iterdir()}
    second = export_images(lib, images, out)
    for path, data in before.items():
        assert path.read_bytes() == data
    assert not set(second.files) & set(first.files)
    assert second.sidecar_json.name == "doorways-export (2).json"
    assert second.sheet.name == "contact-sheet (2).png"


def test_create_exclusive_numbers_taken_names(tmp_path):
    a = create_exclusive(tmp_path, "x.png", b"1")
    b = create_exclusive(tmp_path, "x.png", b"2")
    c = create_exclusive(tmp_path, "noext", b"3")
    d = create_exclusive(tmp_path, "noext", b"4")
    assert [p.name for p in (a, b, c, d)] == ["x.png", "x (2).png", "noext", "noext (2)"]
    assert a.read_bytes() == b"1"


def test_missing_files_are_skipped_and_reported(lib, tmp_path):
    images = list(all_images(lib, ImageFilter(view="starred")))
    lib.abspath(images[0].path).unlink()
    result = export_images(lib, images, tmp_path / "out")
    assert result.missing == (images[0].id,) and len(result.files) == 2
    assert "1 missing" in result.summary()


def test_cli_export_starred(lib, tmp_path):
    done = doorways("export", "--starred", str(tmp_path / "cli"), library=lib.root)
    assert done.returncode == 0, done.stderr
    assert "exported 3 image(s)" in done.stdout
    assert len(list((tmp_path / "cli").glob("*.png"))) == 4  # 3 + contact sheet
    done = doorways("export", "--doors", "3", "--no-sheet", str(tmp_path / "d3"), library=lib.root)
    assert done.returncode == 0 and len(list((tmp_path / "d3").glob("*.png"))) == 1
    done = doorways("export", str(tmp_path / "none"), library=lib.root)
    assert done.returncode == 2 and "--starred" in done.stderr
    done = doorways("export", "--view", "rejected", str(tmp_path / "rej"), library=lib.root)
    assert done.returncode == 1 and "nothing to export" in done.stdout
