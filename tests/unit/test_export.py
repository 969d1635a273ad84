"""Export: PNGs byte for byte, sidecars, contact sheet, safe names, nothing overwritten."""

from __future__ import annotations

import builtins
import csv
import errno
import io
import json
import os
import time
import zlib

import pytest
from PIL import Image as PILImage

from doorways_engine.fetch import sha256_file
from doorways_tui.cli import main
from doorways_tui.export import files as export_files
from doorways_tui.export.folder import (
    ExportError,
    all_images,
    create_exclusive,
    export_images,
    image_problem,
)
from doorways_tui.export.sheet import caption, contact_sheet
from doorways_tui.store import ImageFilter
from tests.export_shared import (
    NASTY,
    lib,  # noqa: F401  (fixtures)
)


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


def test_exporting_twice_copies_nothing_twice_and_overwrites_nothing(lib, tmp_path):
    images = list(all_images(lib, ImageFilter(view="starred")))
    out = tmp_path / "out"
    first = export_images(lib, images, out)
    pngs = {p: p.read_bytes() for p in out.glob("*.png") if p.name != "contact-sheet.png"}
    second = export_images(lib, images, out)
    assert second.files == first.files and second.copied == 0 and second.already == 3
    for path, data in pngs.items():
        assert path.read_bytes() == data
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(p.name for p in first.files), *(f"{p.name}.xmp" for p in first.files),
         "doorways-export.json", "doorways-export.csv", "contact-sheet.png"]
    )  # fmt: skip
    assert "3 already there" in second.summary()


def test_a_foreign_file_under_an_export_name_is_kept(lib, tmp_path):
    images = list(all_images(lib, ImageFilter(view="starred")))
    out = tmp_path / "out"
    first = export_images(lib, images, out)
    foreign = first.files[0]
    foreign.write_bytes(b"the user's own file")
    (out / "doorways-export.json").write_text("my notes, not an export")
    again = export_images(lib, images, out)
    assert foreign.read_bytes() == b"the user's own file"
    assert again.files[0].name.endswith(" (2).png") and again.copied == 1
    assert (out / "doorways-export.json").read_text() == "my notes, not an export"
    assert again.sidecar_json.name == "doorways-export (2).json"


def test_a_rerun_resumes_an_interrupted_export(lib, tmp_path, monkeypatch):
    images = list(all_images(lib, ImageFilter(view="starred")))
    out = tmp_path / "out"
    full = FullDisk(after=1)
    monkeypatch.setattr(export_files, "open", full, raising=False)
    with pytest.raises(ExportError, match="No space left on device"):
        export_images(lib, images, out)
    assert full.failed
    (done,) = out.iterdir()  # one whole image; no half file, no temp file, no sidecar
    assert done.read_bytes() == lib.abspath(images[0].path).read_bytes()
    monkeypatch.undo()
    (out / ".doorways-export-killed.tmp").write_bytes(b"half")  # left by a kill -9
    old = time.time() - 3600
    os.utime(out / ".doorways-export-killed.tmp", (old, old))
    result = export_images(lib, images, out)
    assert (result.copied, result.already) == (2, 1)
    assert len(list(out.glob("*.png"))) == 4 and not list(out.glob(".*"))
    records = json.loads(result.sidecar_json.read_text())
    assert [r["image_id"] for r in records] == [1, 2, 4]


def test_another_selection_into_the_same_folder_adds_to_its_sidecars(lib, tmp_path):
    out = tmp_path / "out"
    export_images(lib, all_images(lib, ImageFilter(view="starred")), out)
    result = export_images(lib, all_images(lib, ImageFilter(view="all")), out)
    assert result.copied == 3 and result.already == 3
    records = json.loads(result.sidecar_json.read_text())
    assert [r["image_id"] for r in records] == [1, 2, 3, 4, 5, 6]
    rows = list(csv.DictReader(result.sidecar_csv.open(encoding="utf-8")))
    assert len(rows) == 6 and all((out / r["file"]).is_file() for r in rows)


def test_a_sidecar_cannot_point_outside_the_folder(lib, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not yours")
    evil = [{"image_id": 99, "file": "../secret.png", "seed": 0, "prompt": "x", "tags": []}]
    (out / "doorways-export.json").write_text(json.dumps(evil))
    result = export_images(lib, all_images(lib, ImageFilter(view="starred")), out)
    records = json.loads(result.sidecar_json.read_text())
    assert [r["image_id"] for r in records] == [1, 2, 4]


def test_corrupt_and_changed_images_are_reported_and_the_rest_exported(lib, tmp_path):
    images = list(all_images(lib, ImageFilter(view="starred")))
    broken = lib.abspath(images[0].path)
    broken.write_bytes(broken.read_bytes()[:200])  # truncated, as by a full disk
    lib.db.execute(  # the row agrees with the file: only decoding can tell
        "UPDATE images SET sha256 = ? WHERE id = ?", (sha256_file(broken), images[0].id)
    )
    changed = lib.abspath(images[1].path)
    PILImage.new("RGB", (64, 32), "red").save(changed)  # decodes, but is not the image
    images = list(all_images(lib, ImageFilter(view="starred")))  # rows as they are now
    result = export_images(lib, images, tmp_path / "out")
    assert len(result.files) == 1 and result.copied == 1
    assert [(i, why.split(":")[0]) for i, why in result.bad] == [
        (images[0].id, "it does not decode"),
        (images[1].id, "its checksum differs from the library's"),
    ]
    assert "2 damaged" in result.summary()
    assert [r["image_id"] for r in json.loads(result.sidecar_json.read_text())] == [4]


@pytest.mark.parametrize("damage", [b"", b"\x89PNG\r\n\x1a\nnot a png at all"])
def test_undecodable_bytes_are_named(damage):
    assert image_problem(damage, None).startswith("it does not decode")


@pytest.mark.parametrize(
    "target",
    ["FILE", "FILE/sub", "/proc", "/proc/doorways-export-test", "/proc/self/status", "", "  "],
)
def test_cli_bad_folders_are_one_line_errors_and_write_nothing(
    lib, tmp_path, target, monkeypatch, capsys
):
    afile = tmp_path / "a-file"
    afile.write_bytes(b"keep")
    monkeypatch.chdir(tmp_path)  # an empty path must not mean "here"
    before = sorted(tmp_path.rglob("*"))
    target = target.replace("FILE", str(afile))
    code = main(["--library", str(lib.root), "export", "--starred", target])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("doorways: error: ")
    assert sorted(tmp_path.rglob("*")) == before and afile.read_bytes() == b"keep"


def test_cli_full_disk_is_one_line_and_leaves_no_half_file(lib, tmp_path, monkeypatch, capsys):
    # Two images, each with its XMP sidecar, then the disk is full.
    monkeypatch.setattr(export_files, "open", FullDisk(after=4), raising=False)
    out = tmp_path / "out"
    code = main(["--library", str(lib.root), "export", "--starred", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith("doorways: error: ") and "No space left on device" in line
    assert "2 image(s) exported" in line and "run the export again" in line
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in out.glob("* - 00000[12].png*")
    )
    for path in out.glob("*.png"):
        with PILImage.open(path) as im:
            im.load()
    assert len(list(out.glob("*.png.xmp"))) == 2


class FullDisk:
    """``open`` for the export's file writes: files after the first ``after`` get half written,
    then the disk is full."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.opened = 0
        self.failed = False

    def __call__(self, *args, **kwargs):
        self.opened += 1
        f = builtins.open(*args, **kwargs)  # noqa: SIM115 - handed to the caller
        if self.opened <= self.after:
            return f
        self.failed = True

        class Half:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                f.close()

            def write(self, data):
                f.write(data[: len(data) // 2])
                f.flush()
                raise OSError(errno.ENOSPC, "No space left on device")

            def __getattr__(self, name):
                return getattr(f, name)

        return Half()


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
    assert [i for i, _ in result.bad] == [images[0].id]


@pytest.mark.parametrize(
    ("marks", "first"),
    [
        ({"starred": True, "door_count": 1, "rejected": True, "rating": 4}, "*  1 doors  rejected"),
        ({"starred": False, "door_count": None, "rejected": False, "rating": 5}, ""),
        ({"door_count": 0}, "0 doors"),
        ({"starred": True}, "*"),
        ({"rejected": True, "door_count": 3}, "3 doors  rejected"),
    ],
)
def test_the_contact_sheets_caption_names_the_marks_in_ascii(marks, first):
    """The pick first, then the door count, then a reject; the rating stays in the sidecar.
    Plain ASCII: the sheet's fallback font has no star glyph."""
    record = {"image_id": 7, "seed": 42, "prompt": "a door\nin a  wall", **marks}
    assert caption(record) == (f"#7  seed 42  {first}".strip(), "a door in a wall")


def test_the_contact_sheets_caption_cuts_a_long_prompt():
    line1, line2 = caption({"image_id": 8, "seed": 1, "prompt": "x" * 50})
    assert line1 == "#8  seed 1" and line2 == "x" * 39 + "…"


def test_the_contact_sheet_shows_an_unreadable_file_as_a_gap(tmp_path):
    good, junk, bomb = tmp_path / "good.png", tmp_path / "junk.png", tmp_path / "bomb.png"
    PILImage.new("RGB", (64, 32), "blue").save(good)
    junk.write_bytes(b"\x89PNG\r\n\x1a\n junk")
    bomb.write_bytes(png_declaring(100_000, 100_000))  # 10 gigapixels, in 45 bytes
    record = {"image_id": 1, "seed": 0, "prompt": "p"}
    entries = [(good, record), (junk, record), (bomb, record), (tmp_path / "gone.png", record)]
    with PILImage.open(io.BytesIO(contact_sheet(entries))) as sheet:
        assert sheet.width == 12 + 4 * (256 + 12)
    assert image_problem(bomb.read_bytes(), None).startswith("it does not decode")


def png_declaring(width: int, height: int) -> bytes:
    """A PNG header that declares ``width`` x ``height`` and holds no pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data).to_bytes(4, "big")
        return len(data).to_bytes(4, "big") + kind + data + crc

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_a_starred_image_that_is_also_rejected_is_not_exported(lib, tmp_path, capsys):
    """Rejected wins: ``export --starred`` and the app's export (both through
    ``all_images``) leave it out; the browse view still lists it, so it can be un-rejected."""
    lib.images.toggle_reject(2)
    out = tmp_path / "out"
    assert main(["--library", str(lib.root), "export", "--starred", str(out)]) == 0
    records = json.loads((out / "doorways-export.json").read_text())
    assert [r["image_id"] for r in records] == [1, 4]
    assert len(list(out.glob("* - 0000*.png"))) == 2
    assert [i.id for i in all_images(lib, ImageFilter(view="starred"))] == [1, 4]
    assert [i.id for i in lib.images.images(ImageFilter(view="starred"))] == [1, 2, 4]
    assert 2 in [i.id for i in all_images(lib, ImageFilter(view="rejected"))]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "except any also rejected (rejected wins)" in " ".join(capsys.readouterr().out.split())
