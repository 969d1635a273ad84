"""doorways_tui.tui.imaging without a terminal: protocol choice, fitting, caches, encoders."""

from __future__ import annotations

import base64
import io
import os
import threading
from pathlib import Path

import pytest
from PIL import Image
from rich.cells import cell_len
from rich.segment import Segment

from doorways_tui.tui import imaging
from doorways_tui.tui.imaging import (
    LRU,
    CellSize,
    ImageCache,
    ImageLoadError,
    Protocol,
    Request,
    fit_image,
    resolve_protocol,
)


def make_png(path: Path, size=(64, 32), color=(255, 0, 0), right=(0, 0, 255)) -> Path:
    """Left half ``color``, right half ``right``."""
    image = Image.new("RGB", size, color)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    image.save(path)
    return path


# -- protocol choice -------------------------------------------------------------------


@pytest.mark.parametrize("detected", list(Protocol))
def test_auto_takes_what_textual_image_detected(detected):
    assert resolve_protocol("auto", detected, env={}) is detected
    assert resolve_protocol(None, detected, env={}) is detected


@pytest.mark.parametrize(
    "env", [{"TERM_PROGRAM": "iTerm.app"}, {"LC_TERMINAL": "iTerm2"}], ids=["local", "ssh"]
)
def test_auto_picks_iterm2_only_where_nothing_better_was_found(env):
    assert resolve_protocol("auto", Protocol.HALFCELL, env=env) is Protocol.ITERM2
    assert resolve_protocol("auto", Protocol.SIXEL, env=env) is Protocol.SIXEL
    assert resolve_protocol("auto", Protocol.UNICODE, env=env) is Protocol.UNICODE


@pytest.mark.parametrize("value", ["kitty", "sixel", "iterm2", "halfcell", "unicode", " Sixel "])
def test_a_setting_forces_the_protocol(value):
    assert resolve_protocol(value, Protocol.HALFCELL, env={}) is Protocol(value.strip().lower())


def test_an_unknown_setting_is_an_error():
    with pytest.raises(ValueError, match="not one of"):
        resolve_protocol("ascii-art", Protocol.HALFCELL, env={})


def test_init_reads_the_settings_object(monkeypatch):
    from doorways_tui.core.settings import load_settings

    monkeypatch.setenv("DOORWAYS_IMAGE_PROTOCOL", "sixel")
    try:
        chosen = imaging.init_terminal_graphics(load_settings())
        assert chosen.protocol is Protocol.SIXEL
        assert chosen.probed
        assert imaging.graphics() is chosen
        # Re-resolving keeps the probe and changes only the protocol.
        again = imaging.init_terminal_graphics("halfcell")
        assert again.protocol is Protocol.HALFCELL and again.detected is chosen.detected
    finally:
        imaging.set_graphics(None)
    assert imaging.graphics().protocol is Protocol.HALFCELL
    assert not imaging.graphics().probed


def test_terminal_replies_are_parsed():
    reply = "\x1bP>|kitty(0.26.5)\x1b\\\x1b[?2;0;1000;780S\x1b[?62;4c"
    assert imaging.parse_xtversion(reply) == "kitty(0.26.5)"
    assert imaging.parse_sixel_geometry(reply) == (1000, 780)
    assert imaging.parse_xtversion("\x1b[?62c") == ""
    assert imaging.parse_sixel_geometry("\x1b[?62c") is None
    assert imaging._kitty_query_ok("\x1b_Gi=31;OK\x1b\\")
    assert not imaging._kitty_query_ok("\x1b_Gi=31;ENOTSUPPORTED:x\x1b\\")


@pytest.mark.parametrize(
    ("version", "placeholders"),
    [
        ("kitty(0.26.5)", False),
        ("kitty(0.27.1)", False),
        ("kitty(0.28.0)", True),
        ("kitty(0.39.1)", True),
        ("ghostty 1.1.0", True),
        ("", True),
    ],
)
def test_kitty_placeholders_need_kitty_0_28(version, placeholders):
    assert imaging.kitty_supports_placeholders(version) is placeholders


# -- fitting ---------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [Protocol.SIXEL, Protocol.KITTY, Protocol.ITERM2])
@pytest.mark.parametrize(
    ("source", "cols", "rows"),
    [((512, 512), 60, 20), ((1024, 384), 60, 20), ((384, 1024), 160, 45), ((64, 32), 10, 50)],
)
def test_pixel_fit_keeps_the_aspect_ratio_inside_the_region(protocol, source, cols, rows):
    cell = CellSize(9, 20)
    fit = fit_image(source, cols, rows, cell, protocol)
    assert fit.cols <= cols and fit.rows <= rows
    assert fit.pixel_width <= fit.cols * cell.width and fit.pixel_height <= fit.rows * cell.height
    # It fills one dimension of the region...
    assert fit.pixel_width == cols * cell.width or fit.pixel_height == rows * cell.height
    # ...and keeps the shape, to within a pixel of rounding.
    assert fit.pixel_width / fit.pixel_height == pytest.approx(
        source[0] / source[1], rel=2 / min(fit.pixel_width, fit.pixel_height)
    )


def test_halfcell_fit_uses_two_pixels_per_cell():
    # A 2:1 image in 40x20 cells of 10x20 px: 400x200 px -> 40 x 10 cells, 40 x 20 samples.
    fit = fit_image((200, 100), 40, 20, (10, 20), Protocol.HALFCELL)
    assert fit == imaging.Fit(40, 10, 40, 20)
    assert fit_image((200, 100), 40, 20, (10, 20), Protocol.UNICODE) == imaging.Fit(40, 10, 40, 10)


def test_the_terminal_sixel_limit_caps_the_pixels():
    fit = fit_image((2000, 1000), 300, 100, (10, 20), Protocol.SIXEL, max_pixels=(1000, 1000))
    assert (fit.pixel_width, fit.pixel_height) == (1000, 500)
    assert (fit.cols, fit.rows) == (100, 25)


# -- LRU -------------------------------------------------------------------------------


def test_lru_evicts_the_least_recently_used():
    lru = LRU(max_items=2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # a is now newer than b
    lru.put("c", 3)
    assert "b" not in lru and lru.keys() == ["a", "c"]
    assert (lru.hits, lru.misses, lru.evictions) == (1, 0, 1)
    assert lru.get("b") is None and lru.misses == 1
    assert lru.get("b", count_miss=False) is None and lru.misses == 1


def test_lru_evicts_by_weight_but_keeps_one_oversized_item():
    lru = LRU(max_items=10, max_weight=10, weigh=len)
    lru.put("a", "xxxx")
    lru.put("b", "xxxx")
    lru.put("c", "xxxx")
    assert lru.keys() == ["b", "c"] and lru.weight == 8
    lru.put("big", "x" * 50)
    assert lru.keys() == ["big"] and lru.weight == 50
    lru.put("big", "x")
    assert lru.weight == 1


def test_lru_is_thread_safe():
    lru = LRU(max_items=50)

    def hammer(offset):
        for i in range(2000):
            lru.put((offset, i % 100), i)
            lru.get((offset, (i * 7) % 100))

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(lru) == 50 and lru.weight == 50


# -- prepare and the caches ------------------------------------------------------------


def request(path, protocol=Protocol.HALFCELL, cols=20, rows=10, **kw) -> Request:
    return Request(path=path, cols=cols, rows=rows, protocol=protocol, cell_size=(10, 20), **kw)


def test_revisits_come_from_the_cache(tmp_path):
    path = make_png(tmp_path / "a.png")
    cache = ImageCache()
    first = imaging.prepare(request(path), cache)
    assert first is not None
    assert imaging.lookup(request(path), cache) is first
    assert imaging.prepare(request(path), cache) is first
    assert cache.decoded.misses == 1 and cache.scaled.misses == 1
    # Another size decodes nothing: the decoded image is reused.
    other = imaging.prepare(request(path, cols=8, rows=4), cache)
    assert other is not None and other is not first
    assert cache.decoded.hits == 1 and cache.decoded.misses == 1
    # Another protocol at the same size reuses the scaled pixels.
    imaging.prepare(request(path, protocol=Protocol.SIXEL), cache)
    imaging.prepare(request(path, protocol=Protocol.KITTY), cache)
    assert cache.scaled.hits >= 1


def test_a_rewritten_file_is_read_again(tmp_path):
    path = make_png(tmp_path / "a.png", color=(255, 0, 0), right=(255, 0, 0))
    cache = ImageCache()
    red = imaging.prepare(request(path), cache)
    make_png(path, color=(0, 255, 0), right=(0, 255, 0))
    os.utime(path, ns=(1, red.key.mtime_ns + 1_000_000_000))  # coarse-mtime file systems
    assert imaging.lookup(request(path), cache) is None
    green = imaging.prepare(request(path), cache)
    assert green.key != red.key
    assert green.lines[0][0].style.color.triplet == (0, 255, 0)


def test_missing_and_corrupt_files_raise_a_message(tmp_path):
    with pytest.raises(ImageLoadError, match="image not found: nope.png"):
        imaging.prepare(request(tmp_path / "nope.png"))
    with pytest.raises(ImageLoadError, match="image not found"):
        imaging.lookup(request(tmp_path / "nope.png"))
    text = tmp_path / "notes.png"
    text.write_text("a text file with the wrong name")
    with pytest.raises(ImageLoadError, match="cannot read notes.png: not an image"):
        imaging.prepare(request(text))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(ImageLoadError, match="cannot read bad.png: Truncated"):
        imaging.prepare(request(bad))
    good = make_png(tmp_path / "good.png", size=(256, 256))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ImageLoadError, match="cannot read truncated.png"):
        imaging.prepare(request(truncated))
    with pytest.raises(ImageLoadError, match="not a file"):
        imaging.prepare(request(tmp_path))


def test_a_cancelled_request_stops_and_caches_nothing(tmp_path):
    path = make_png(tmp_path / "a.png")
    cache = ImageCache()
    assert imaging.prepare(request(path), cache, is_cancelled=lambda: True) is None
    assert len(cache.encoded) == 0 and len(cache.decoded) == 0


def test_sixel_payload_is_one_complete_sequence(tmp_path):
    path = make_png(tmp_path / "a.png", size=(300, 100))
    prepared = imaging.prepare(request(path, protocol=Protocol.SIXEL, cols=30, rows=10))
    assert prepared.payload.startswith("\x1bP") and prepared.payload.endswith("\x1b\\")
    assert prepared.payload.count("\x1b") == 2
    assert prepared.pixel_size == (300, 100)
    # A half-cell stand-in of the same cells comes with it.
    assert len(prepared.lines) == prepared.rows == 5
    assert sum(cell_len(s.text) for s in prepared.lines[0]) == prepared.cols == 30


def test_kitty_payload_is_the_scaled_png(tmp_path):
    path = make_png(tmp_path / "a.png", size=(64, 32))
    prepared = imaging.prepare(request(path, protocol=Protocol.KITTY, cols=20, rows=10))
    with Image.open(io.BytesIO(base64.b64decode(prepared.payload))) as png:
        assert png.size == prepared.pixel_size == (200, 100)
        assert png.getpixel((10, 50))[:3] == (255, 0, 0)
        assert png.getpixel((190, 50))[:3] == (0, 0, 255)


def test_transparency_is_flattened_onto_the_background(tmp_path):
    path = tmp_path / "alpha.png"
    Image.new("RGBA", (8, 8), (0, 0, 0, 0)).save(path)
    prepared = imaging.prepare(request(path, cols=4, rows=2, background=(10, 20, 30)))
    assert prepared.lines[0][0].style.color.triplet == (10, 20, 30)


def test_halfcell_lines_put_two_pixels_in_a_cell():
    image = Image.new("RGB", (3, 2))
    image.putdata([(255, 0, 0)] * 3 + [(0, 0, 255), (0, 0, 255), (0, 255, 0)])
    (line,) = imaging.halfcell_lines(image)
    assert [s.text for s in line] == ["▀▀", "▀"]  # equal neighbours share a segment
    assert line[0].style.color.triplet == (255, 0, 0)
    assert line[0].style.bgcolor.triplet == (0, 0, 255)
    assert line[1].style.bgcolor.triplet == (0, 255, 0)


def test_unicode_lines_shade_by_brightness():
    image = Image.new("L", (2, 1))
    image.putdata([255, 0])
    assert imaging.unicode_lines(image) == ((Segment("█ "),),)


# -- escape sequences ------------------------------------------------------------------


def test_kitty_transmit_is_chunked_quiet_and_tmux_wrapped():
    payload = "A" * 10000
    plain = imaging.kitty_transmit(42, payload, 5, 3)
    commands = plain.split("\x1b\\")[:-1]
    assert len(commands) == 4  # three chunks and the virtual placement
    assert commands[0].startswith("\x1b_Ga=t,f=100,i=42,q=2,m=1;")
    assert commands[2].startswith("\x1b_Gq=2,m=0;")
    assert commands[3] == "\x1b_Ga=p,U=1,i=42,c=5,r=3,q=2"
    assert all("q=2" in c for c in commands)
    wrapped = imaging.kitty_transmit(42, payload, 5, 3, tmux=True)
    assert wrapped.count("\x1bPtmux;") == 4
    assert "\x1b\x1b_Ga=t" in wrapped
    direct = imaging.kitty_transmit(42, payload, 5, 3, placeholders=False)
    assert "U=1" not in direct


def test_kitty_direct_placement_keeps_the_cursor():
    assert imaging.kitty_place(42, 10, 3) == "\x1b7\x1b[4;11H\x1b_Ga=p,i=42,p=1,C=1,q=2\x1b\\\x1b8"
    assert imaging.kitty_delete(42) == "\x1b_Ga=d,d=I,i=42,q=2\x1b\\"
    assert imaging.kitty_delete(42, free=False) == "\x1b_Ga=d,d=i,i=42,q=2\x1b\\"


def test_kitty_placeholders_are_one_cell_each_coloured_by_the_id():
    lines = imaging.kitty_placeholder_lines(200, cols=7, rows=3)
    assert len(lines) == 3
    for (segment,) in lines:
        assert cell_len(segment.text) == 7
        assert segment.style.color.number == 200
    assert lines[1][0].text[1] != lines[0][0].text[1]  # the row diacritic differs


def test_kitty_ids_cycle_through_256_colour_indexes():
    ids = [imaging.next_kitty_image_id() for _ in range(500)]
    assert all(16 <= i <= 255 for i in ids)
    assert len(set(ids[:240])) == 240


def test_iterm2_sequence():
    sequence = imaging.iterm2_sequence("QUJD", 4, 2)
    assert sequence.startswith("\x1b]1337;File=inline=1;size=3;width=4;height=2;")
    assert sequence.endswith(":QUJD\x07")
