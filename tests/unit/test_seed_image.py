"""Seed images: the layout sketch (dark soft doors where asked, neutral elsewhere), the
``doorways seed-image`` command, and the workstation's sketch of an image."""

from __future__ import annotations

import pytest
from PIL import Image

from doorways_engine.errors import ConfigError
from doorways_engine.seed_image import (
    DARKEN,
    NEUTRAL,
    default_positions,
    door_box,
    parse_positions,
    sketch,
)
from doorways_tui.cli import main


def _luma(im: Image.Image, x: float, y: float) -> int:
    w, h = im.size
    return im.convert("L").getpixel((min(w - 1, int(x * w)), min(h - 1, int(y * h))))


def test_default_positions_centre_each_equal_part():
    assert default_positions(1) == (0.5,)
    assert default_positions(2) == (0.25, 0.75)  # the middle of each side of a panorama
    assert default_positions(3) == pytest.approx((1 / 6, 0.5, 5 / 6))


@pytest.mark.parametrize("doors", [1, 2, 3])
def test_each_door_is_a_dark_blotch_on_neutral_grey(doors):
    im = sketch(size=(768, 384), doors=doors)
    assert im.size == (768, 384) and im.mode == "RGB"
    assert im.getpixel((0, 0)) == NEUTRAL and im.getpixel((767, 383)) == NEUTRAL
    dark = round(NEUTRAL[0] * (1 - DARKEN))
    for x in default_positions(doors):
        assert _luma(im, x, 0.6) == dark  # the door's middle is fully darkened
        left, top, right, bottom = door_box(x, im.size)
        assert _luma(im, x, 0.02) == NEUTRAL[0]  # above the arch: grey
        assert 0 < right - left < 768 / doors and 0 < top < bottom < 384
    xs = default_positions(doors)
    for x in [(a + b) / 2 for a, b in zip(xs, xs[1:], strict=False)]:
        assert _luma(im, x, 0.6) == NEUTRAL[0]  # doors stay apart


def test_chosen_positions_and_soft_edges():
    im = sketch(size=(512, 256), doors=2, positions=(0.2, 0.6))
    assert _luma(im, 0.2, 0.6) < NEUTRAL[0] - 40 and _luma(im, 0.6, 0.6) < NEUTRAL[0] - 40
    assert _luma(im, 0.4, 0.6) == NEUTRAL[0] and _luma(im, 0.8, 0.6) == NEUTRAL[0]
    left = door_box(0.2, im.size)[0]
    row = [im.convert("L").getpixel((x, int(0.6 * 256))) for x in range(left - 12, left + 12)]
    assert len(set(row)) > 5  # a soft ramp, not a hard frame for the run to copy


def test_a_parent_is_cover_cropped_blurred_and_darkened():
    parent = Image.new("RGB", (300, 300), (200, 40, 40))
    parent.paste((40, 40, 200), (0, 0, 150, 300))  # blue left half, red right half
    im = sketch(size=(400, 200), doors=1, parent=parent)
    assert im.size == (400, 200)
    r, g, b = im.getpixel((5, 5))
    assert b > r  # the parent's left stays on the left
    r, g, b = im.getpixel((395, 5))
    assert r > b
    elsewhere = sketch(size=(400, 200), doors=1, positions=(0.1,), parent=parent)
    assert _luma(im, 0.5, 0.6) < _luma(elsewhere, 0.5, 0.6) * (1 - DARKEN / 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"doors": 4}, "1 to 3 doors"),
        ({"doors": 0}, "1 to 3 doors"),
        ({"doors": 2, "positions": (0.5,)}, "1 door position(s) given for 2"),
        ({"doors": 1, "positions": (1.2,)}, "between 0 and 1"),
        ({"doors": 1, "size": (8, 8)}, "each side must be"),
    ],
)
def test_bad_sketches_are_one_clear_error(kwargs, message):
    kwargs.setdefault("size", (256, 128))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sketch(**kwargs)


def test_parse_positions():
    assert parse_positions("0.25, 0.75") == (0.25, 0.75)
    with pytest.raises(ConfigError, match="not numbers"):
        parse_positions("0.25;0.75")


def test_the_command_writes_the_sketch(tmp_path, capsys):
    out = tmp_path / "seed.png"
    assert main(["seed-image", "--doors", "2", "--size", "256x128", "-o", str(out)]) == 0
    assert "--init-image" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.size == (256, 128)
        assert _luma(im, 0.25, 0.6) < NEUTRAL[0] - 40 and _luma(im, 0.5, 0.6) == NEUTRAL[0]
    parent = tmp_path / "parent.png"
    Image.new("RGB", (64, 64), (10, 200, 10)).save(parent)
    flags = ["--doors", "3", "--x", "0.1,0.5,0.9", "--on", str(parent), "-o", str(out)]
    assert main(["seed-image", "--size", "192x96", *flags]) == 0
    with Image.open(out) as im:
        assert im.getpixel((96, 2))[1] > 150  # on the green parent
        assert _luma(im, 0.1, 0.6) < _luma(im, 0.3, 0.6)


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--doors", "5"], "a seed image has 1 to 3 doors, not 5"),
        (["--x", "0.2,zz"], "door positions '0.2,zz' are not numbers"),
        (["--size", "big"], "size 'big' is not WIDTHxHEIGHT"),
        (["--on", "/no/such.png"], "cannot read the image '/no/such.png'"),
    ],
)
def test_the_command_refuses_bad_input_in_one_line(tmp_path, capsys, flags, message):
    out = tmp_path / "seed.png"
    assert main(["seed-image", *flags, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
