"""XMP that travels: what export writes for photo tools, and import-xmp reading it back."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from xml.etree import ElementTree as ET

import pytest
from PIL import Image as PILImage

from doorways_tui.cli import main
from doorways_tui.export.folder import all_images, export_images
from doorways_tui.export.xmp import (
    NS,
    XmpError,
    embed_xmp,
    embedded_xmp,
    read_xmp,
    sidecar_path,
    strip_xmp,
)
from doorways_tui.export.xmp_import import import_folder
from doorways_tui.store import ImageFilter
from tests.export_shared import (
    NASTY,
    lib,  # noqa: F401  (fixtures)
)

RDF, DC, XMP = NS["rdf"], NS["dc"], NS["xmp"]


def _desc(packet: bytes) -> ET.Element:
    root = ET.fromstring(packet)
    (desc,) = root.iter(f"{{{RDF}}}Description")
    return desc


def _items(desc: ET.Element, prefix: str, name: str) -> list[str]:
    prop = desc.find(f"{{{NS[prefix]}}}{name}")
    assert prop is not None, name
    return [li.text or "" for li in prop.iter(f"{{{RDF}}}li")]


def _export(lib, tmp_path, **kw):
    images = list(all_images(lib, ImageFilter(view="all")))
    return images, export_images(lib, images, tmp_path / "out", sheet=False, **kw)


def test_sidecars_parse_as_xml_with_the_marks(lib, tmp_path):
    lib.images.set_rating(4, 4)
    lib.images.toggle_reject(3)
    lib.images.set_rating(3, 2)
    images, result = _export(lib, tmp_path)
    by_id = {image.id: (image, path) for image, path in zip(images, result.files, strict=True)}
    for image_id, (image, path) in by_id.items():
        assert path.read_bytes() == lib.abspath(image.path).read_bytes()  # still a byte copy
        desc = _desc(sidecar_path(path).read_bytes())
        assert desc.get(f"{{{NS['doorways']}}}SHA256") == image.sha256
        assert desc.get(f"{{{NS['doorways']}}}ImageID") == str(image_id)
        words = _items(desc, "dc", "subject")
        assert "theme:doors" in words and f"variant:{image.variant_id}" in words
        assert any(w.startswith("seed:") for w in words)
    rating = {
        i: _desc(sidecar_path(p).read_bytes()).get(f"{{{XMP}}}Rating")
        for i, (_, p) in by_id.items()
    }
    assert rating == {1: "0", 2: "0", 3: "-1", 4: "4", 5: "0", 6: "0"}
    starred = _desc(sidecar_path(by_id[1][1]).read_bytes())
    assert starred.get(f"{{{XMP}}}Label") == "Green"
    assert starred.get(f"{{{NS['digiKam']}}}PickLabel") == "3"
    assert _items(starred, "darktable", "colorlabels") == ["2"]
    rejected = _desc(sidecar_path(by_id[3][1]).read_bytes())
    assert rejected.get(f"{{{NS['digiKam']}}}PickLabel") == "1"
    assert rejected.get(f"{{{XMP}}}Label") is None
    two = _desc(sidecar_path(by_id[2][1]).read_bytes())
    assert "doors:3" in _items(two, "dc", "subject")
    assert "Doorways|doors|3" in _items(two, "lr", "hierarchicalSubject")
    # The prompt, with what XML cannot hold (NUL) replaced, the rest (bidi, quotes) kept.
    (description,) = _items(two, "dc", "description")
    assert description == NASTY.replace("\x00", "\ufffd")


def test_embedded_xmp_strips_back_to_the_library_bytes(lib, tmp_path):
    images, result = _export(lib, tmp_path, xmp="embed")
    for image, path in zip(images, result.files, strict=True):
        original = lib.abspath(image.path).read_bytes()
        data = path.read_bytes()
        assert data != original and strip_xmp(data) == original
        assert not sidecar_path(path).exists()
        with PILImage.open(io.BytesIO(data)) as im:
            im.verify()  # chunk CRCs
        with PILImage.open(io.BytesIO(data)) as im:
            im.load()
            packet = im.info["XML:com.adobe.xmp"]  # where readers look for it
        assert read_xmp(packet.encode()).sha256 == image.sha256
    assert result.copied == 6
    again = export_images(lib, images, tmp_path / "out", sheet=False, xmp="embed")
    assert again.copied == 0 and again.files == result.files


def test_a_new_mark_updates_doorways_xmp_in_place(lib, tmp_path):
    for mode in ("embed", "sidecar"):
        out = tmp_path / mode
        images = list(all_images(lib, ImageFilter(view="starred")))
        first = export_images(lib, images, out, sheet=False, xmp=mode)
        lib.images.set_rating(images[0].id, 5)
        images = list(all_images(lib, ImageFilter(view="starred")))
        second = export_images(lib, images, out, sheet=False, xmp=mode)
        assert second.files == first.files and not second.xmp_kept  # no " (2)" copies
        path = second.files[0]
        packet = (
            embedded_xmp(path.read_bytes()) if mode == "embed" else sidecar_path(path).read_bytes()
        )
        assert read_xmp(packet).rating == 5
        lib.images.set_rating(images[0].id, None)


DARKTABLE_STYLE = b"""<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:darktable="http://darktable.sf.net/">
   <xmp:Rating>%s</xmp:Rating>
   <darktable:colorlabels><rdf:Seq>%s</rdf:Seq></darktable:colorlabels>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>"""


def _darktable(rating: str, labels: str = "") -> bytes:
    return DARKTABLE_STYLE % (rating.encode(), labels.encode())


def test_read_xmp_takes_other_tools_forms():
    marks = read_xmp(_darktable("-1", "<rdf:li>2</rdf:li>"))
    assert (marks.rejected, marks.rating, marks.starred) == (True, None, True)
    marks = read_xmp(_darktable("3.0"))
    assert (marks.rejected, marks.rating, marks.starred) == (False, 3, False)
    assert read_xmp(b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>').rejected is None  # says nothing
    with pytest.raises(XmpError, match="well-formed"):
        read_xmp(b"<x:xmpmeta")
    with pytest.raises(XmpError, match="DOCTYPE"):
        read_xmp(b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>')
    with pytest.raises(XmpError, match="UTF-8"):  # where a DOCTYPE would hide from the check
        read_xmp('<!DOCTYPE x [<!ENTITY a "a">]><x>&a;</x>'.encode("utf-16"))
    with pytest.raises(XmpError, match="not a number"):
        read_xmp(_darktable("lots"))


def test_png_chunks_round_trip_and_refuse_what_is_not_a_png():
    buf = io.BytesIO()
    PILImage.new("RGB", (4, 4), "red").save(buf, format="PNG")
    png = buf.getvalue()
    once = embed_xmp(png, b"<x/>")
    assert embedded_xmp(once) == b"<x/>" and embedded_xmp(png) is None
    assert embed_xmp(once, b"<y/>") == embed_xmp(png, b"<y/>")  # one XMP chunk, replaced
    assert strip_xmp(once) == png
    with pytest.raises(XmpError, match="not a PNG"):
        strip_xmp(b"GIF89a")
    with pytest.raises(XmpError, match="cut short"):
        embedded_xmp(png[:40])


def test_import_brings_marks_from_another_tool_back_as_one_undo_step(lib, tmp_path):
    images, result = _export(lib, tmp_path)
    out = tmp_path / "out"
    one, two, three = result.files[:3]
    # darktable rates image 1 three stars and drops its green label; rejects image 2.
    sidecar_path(one).write_bytes(_darktable("3"))
    sidecar_path(two).write_bytes(_darktable("-1"))
    # Image 3 renamed (matched by its bytes, not its name), starred as Lightroom would.
    renamed = three.rename(out / "renamed.png")
    sidecar_path(three).unlink()
    renamed.with_suffix(".xmp").write_bytes(
        _darktable("0").replace(b"<xmp:Rating>", b"<xmp:Label>Green</xmp:Label><xmp:Rating>")
    )
    (out / "stranger.png.xmp").write_bytes(_darktable("5"))  # no image, no checksum
    (out / "broken.png.xmp").write_bytes(b"<x:xmpmeta")
    # Before import, a re-export keeps what the other tool wrote, and says so.
    again = export_images(lib, images[:2], out, sheet=False)
    assert set(again.xmp_kept) == {one, two} and "import-xmp" in again.summary()
    assert sidecar_path(one).read_bytes() == _darktable("3")

    done = import_folder(lib, out)
    assert (done.updated, done.unchanged) == (3, 3)
    assert [p.name for p in done.unmatched] == ["stranger.png.xmp"]
    assert [p.name for p, _ in done.unreadable] == ["broken.png.xmp"]
    assert "3 updated, 3 unchanged, 1 unmatched" in done.summary()
    marks = {i.id: (i.rating, i.rejected, i.starred) for i in all_images(lib, ImageFilter())}
    assert marks[1] == (3, False, False)
    assert marks[2] == (None, True, False)  # was starred (green gone) and is now rejected
    assert marks[3] == (None, False, True)
    assert import_folder(lib, out).updated == 0  # nothing left to bring in
    fresh = list(all_images(lib, ImageFilter()))[:2]
    assert not export_images(lib, fresh, out, sheet=False).xmp_kept  # the marks agree now

    undone = lib.history.undo()
    assert undone is not None and undone.kind == "marks" and "3 image(s)" in undone.summary
    marks = {i.id: (i.rating, i.rejected, i.starred) for i in all_images(lib, ImageFilter())}
    assert marks[1] == (None, False, True) and marks[2] == (None, False, True)
    assert marks[3] == (None, False, False)


def test_import_matches_embedded_xmp_and_a_rewritten_png_by_its_stored_checksum(lib, tmp_path):
    images, result = _export(lib, tmp_path, xmp="embed")
    first, second = result.files[:2]
    data = first.read_bytes()
    first.write_bytes(embed_xmp(data, _darktable("4")))  # a tool rewrote the XMP inside
    # Another tool re-encoded the second PNG (new bytes) but kept Doorways' XMP.
    packet = embedded_xmp(second.read_bytes()).replace(b'xmp:Rating="0"', b'xmp:Rating="2"')
    buf = io.BytesIO()
    with PILImage.open(second) as im:
        im.convert("RGB").save(buf, format="PNG", optimize=True)
    second.write_bytes(embed_xmp(buf.getvalue(), packet))
    assert hashlib.sha256(strip_xmp(second.read_bytes())).hexdigest() != images[1].sha256
    done = import_folder(lib, tmp_path / "out")
    assert done.updated == 2 and not done.unmatched
    assert lib.images.image(1).rating == 4 and lib.images.image(2).rating == 2


def test_cli_import_xmp_bad_folder_is_one_line(lib, tmp_path, capsys):
    code = main(["--library", str(lib.root), "import-xmp", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "does not exist" in err
    (tmp_path / "empty").mkdir()
    code = main(["--library", str(lib.root), "import-xmp", str(tmp_path / "empty")])
    assert code == 1 and "no XMP" in capsys.readouterr().out


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
def test_exiftool_reads_what_export_writes(lib, tmp_path):
    lib.images.set_rating(4, 4)
    lib.images.toggle_reject(3)
    images, result = _export(lib, tmp_path, xmp="both")
    for image, path in zip(images, result.files, strict=True):
        for source in (path, sidecar_path(path)):
            done = subprocess.run(
                ["exiftool", "-s3", "-XMP:Rating", "-XMP:Label", "-XMP:Subject", str(source)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            lines = done.stdout.splitlines()
            want = "-1" if image.rejected else str(image.rating or 0)
            assert lines[0] == want, (source, lines)
            assert ("Green" in lines) == image.starred
            assert "theme:doors" in lines[-1]
