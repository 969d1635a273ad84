"""The triage keys, pressed in the real app, checked against the library's rows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from doorways_tui.store import Library
from tests.app_fixtures import main_screen, make_app, populate, settle


@pytest.fixture
def library() -> Path:
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root)
    return root


def row(app, image_id: int) -> dict:
    return dict(app.library.db.row("SELECT * FROM images WHERE id = ?", (image_id,)))


def in_view(app) -> int:
    detail = main_screen(app).detail
    assert detail is not None
    return detail.image.id


async def test_opens_on_the_first_untriaged_image(library):
    with Library.open(library) as lib:
        lib.images.set_door_count(1, 2)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert in_view(app) == 2


async def test_every_digit_sets_the_door_count(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        image = in_view(app)
        for n in range(10):
            await pilot.press(str(n))
            await settle(pilot)
            assert row(app, image)["door_count"] == n
        assert in_view(app) == image  # no auto-advance by default


async def test_star_reject_toggle_and_are_saved_at_once(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        image = in_view(app)
        await pilot.press("s")
        await settle(pilot)
        assert row(app, image)["starred"] == 1
        # another connection (another process) sees it: saved, not buffered
        with Library.open(library) as other:
            assert other.images.image(image).starred
        await pilot.press("x")
        await settle(pilot)
        assert row(app, image)["rejected"] == 1
        await pilot.press("s", "x")
        await settle(pilot)
        assert (row(app, image)["starred"], row(app, image)["rejected"]) == (0, 0)


async def test_rating_keys_step_between_one_and_five(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        image = in_view(app)
        await pilot.press("plus")
        await settle(pilot)
        assert row(app, image)["rating"] == 1
        await pilot.press(*["plus"] * 6)
        await settle(pilot)
        assert row(app, image)["rating"] == 5
        await pilot.press("minus", "minus")
        await settle(pilot)
        assert row(app, image)["rating"] == 3


async def test_undo_restores_with_u_and_ctrl_z(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        image = in_view(app)
        await pilot.press("4", "s")
        await settle(pilot)
        assert (row(app, image)["door_count"], row(app, image)["starred"]) == (4, 1)
        await pilot.press("u")
        await settle(pilot)
        assert (row(app, image)["door_count"], row(app, image)["starred"]) == (4, 0)
        status = str(app.screen.query_one("#status-line").render())
        assert status == f"undone: star on #{image}"
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert (row(app, image)["door_count"], row(app, image)["starred"]) == (None, 0)
        status = str(app.screen.query_one("#status-line").render())
        assert status == f"undone: door count on #{image} (back to none)"
        await pilot.press("x", "u")
        await settle(pilot)
        status = str(app.screen.query_one("#status-line").render())
        assert status == f"undone: reject on #{image}"


async def test_undo_after_moving_on_goes_back_to_that_image(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        first = in_view(app)
        await pilot.press("2", "n")
        await settle(pilot)
        assert in_view(app) != first
        await pilot.press("u")
        await settle(pilot)
        assert in_view(app) == first
        assert row(app, first)["door_count"] is None


async def test_n_and_p_step_through_untriaged_images_only(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert in_view(app) == 1
        await pilot.press("3", "n")  # 1 is triaged now
        await settle(pilot)
        assert in_view(app) == 2
        await pilot.press("x", "n")  # a reject counts as triaged
        await settle(pilot)
        assert in_view(app) == 3
        await pilot.press("p")  # back: 1 and 2 are triaged, so nothing before
        await settle(pilot)
        assert in_view(app) == 3
        assert "no untriaged image before" in str(app.screen.query_one("#status-line").render())
        await pilot.press("left")  # plain previous: any image
        await settle(pilot)
        assert in_view(app) == 2
        await pilot.press("right", "right")
        await settle(pilot)
        assert in_view(app) == 4
        await pilot.press("k")
        await settle(pilot)
        assert in_view(app) == 3
        await pilot.press("j")
        await settle(pilot)
        assert in_view(app) == 4


async def test_one_pass_triages_everything_in_order(library):
    """Keys pressed faster than the library answers still apply in order."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("1", "n", "2", "n", "3", "n", "x", "n", "s", "0")
        await settle(pilot)
        doors = [row(app, i)["door_count"] for i in range(1, 6)]
        assert doors == [1, 2, 3, None, 0]
        assert row(app, 4)["rejected"] == 1 and row(app, 5)["starred"] == 1


async def test_auto_advance_moves_on_after_a_door_count(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert "auto-advance" in str(app.screen.query_one("#filter-line").render())
        await pilot.press("5")
        await settle(pilot)
        assert row(app, 1)["door_count"] == 5
        assert in_view(app) == 2
        await pilot.press("s")  # a star is not a verdict: stay
        await settle(pilot)
        assert in_view(app) == 2


async def test_triage_in_an_empty_library_says_why_nothing_happened(tmp_path):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert "no finished image" in str(app.screen.query_one("#status-line").render())


async def test_alt_digits_set_the_rating_directly_and_leave_the_door_count(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        image = in_view(app)
        for n in (4, 1, 5):
            await pilot.press(f"alt+{n}")
            await settle(pilot)
            assert row(app, image)["rating"] == n
        assert row(app, image)["door_count"] is None
        assert str(app.screen.query_one("#status-line").render()) == f"#{image}: rating 5"
        await pilot.press("alt+0")
        await settle(pilot)
        assert row(app, image)["rating"] is None
        await pilot.press("u")  # one undo step per key
        await settle(pilot)
        assert row(app, image)["rating"] == 5


async def test_a_rating_key_is_remapped_by_its_id(library, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('[keymap]\n"triage.rating-3" = "f3"\n')
    monkeypatch.setenv("DOORWAYS_CONFIG", str(config))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        image = in_view(app)
        await pilot.press("alt+3")
        await settle(pilot)
        assert row(app, image)["rating"] is None  # alt+3 no longer rates
        await pilot.press("f3")
        await settle(pilot)
        assert row(app, image)["rating"] == 3


async def test_g_and_shift_g_go_to_the_first_and_last_image_of_the_filter(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        last = app.library.db.row("SELECT max(id) AS m FROM images WHERE kind = 'final'")["m"]
        await pilot.press("right", "G")
        await settle(pilot)
        assert in_view(app) == last
        await pilot.press("g")
        await settle(pilot)
        assert in_view(app) == 1
        await pilot.press("1", "G", "g")  # triaged or not: first is first
        await settle(pilot)
        assert in_view(app) == 1
        await pilot.press("z", "G")  # the loupe has them too
        await settle(pilot)
        assert in_view(app) == last
