"""Export: PNGs byte for byte, sidecars, contact sheet, safe names, nothing overwritten."""

from __future__ import annotations

from doorways_tui.export.folder import (
    all_images,
)
from doorways_tui.store import ImageFilter
from tests.export_shared import lib  # noqa: F401  (fixtures)
from tests.fixtures_store import doorways


def test_cli_reports_each_damaged_image_and_exits_1(lib, tmp_path):
    images = list(all_images(lib, ImageFilter(view="starred")))
    lib.abspath(images[0].path).write_bytes(b"junk")
    done = doorways("export", "--starred", str(tmp_path / "out"), library=lib.root)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"doorways: warning: image {images[0].id} (") and "not exported" in line
    assert "exported 2 image(s)" in done.stdout and "1 damaged" in done.stdout


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
