"""The keys that make new runs: reroll, several seeds, edit the prompt, init image; each
reuses the parent job's config and is undoable."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image as PILImage

from doorways_engine.seed_image import NEUTRAL
from doorways_tui.tui.screens.edit_prompt import EditPromptScreen
from doorways_tui.tui.screens.init_image import InitImageScreen
from doorways_tui.workstation.actions import REFINE_BLUR, SEED_BLUR
from tests.app_fixtures import CONFIG, main_screen, make_app, populate, settle


@pytest.fixture
def library() -> Path:
    root = Path(os.environ["DOORWAYS_LIBRARY"])
    populate(root)
    return root


def jobs(app, status: str = "queued") -> list[dict]:
    rows = app.library.db.rows("SELECT * FROM jobs WHERE status = ? ORDER BY id", (status,))
    return [dict(r) for r in rows]


async def test_r_queues_the_same_variant_with_a_new_seed(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        detail = main_screen(app).detail
        await pilot.press("r")
        await settle(pilot)
        queued = jobs(app)
        assert len(queued) == 1
        job = queued[0]
        assert job["variant_id"] == detail.variant.id
        used = {
            r[0]
            for r in app.library.db.rows(
                "SELECT seed FROM jobs WHERE variant_id = ? AND id != ?",
                (job["variant_id"], job["id"]),
            )
        }
        assert job["seed"] not in used
        config = json.loads(job["config"])
        parent = json.loads(app.library.queue.job(detail.job.id).config)
        assert config == {**parent, "seed": job["seed"]}  # same config, models included
        assert "reroll" in str(app.screen.query_one("#status-line").render())


async def test_shift_r_queues_four_new_seeds_and_undo_cancels_them(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        seeds = [j["seed"] for j in jobs(app)]
        assert len(seeds) == 4 and len(set(seeds)) == 4
        await pilot.press("u")
        await settle(pilot)
        assert jobs(app) == []
        assert len(jobs(app, "cancelled")) == 4
        status = str(app.screen.query_one("#status-line").render())
        assert status == "undone: reroll (4 queued jobs cancelled)"


async def test_e_with_a_modifier_makes_a_queued_child_variant(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        detail = main_screen(app).detail
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, EditPromptScreen)
        await pilot.press("u", "a")  # underwater, archway
        assert "underwater archway to heaven" in str(app.screen.query_one("#edit-result").render())
        await pilot.press("enter")
        await settle(pilot)
        child = dict(app.library.db.row("SELECT * FROM variants ORDER BY id DESC LIMIT 1"))
        assert child["parent_id"] == detail.variant.id
        assert child["prompt"] == ("underwater archway to heaven | underwater archway to hell")
        assert (child["edit_kind"], child["edit_text"]) == ("modifier", "+underwater, +archway")
        queued = jobs(app)
        assert [(j["variant_id"], j["seed"]) for j in queued] == [(child["id"], detail.job.seed)]
        config = json.loads(queued[0]["config"])
        assert config["prompts"] == child["prompt"] and config["vqgan"] == CONFIG["vqgan"]
        await pilot.press("u")  # undo removes the variant and its queued job
        await settle(pilot)
        assert app.library.db.row("SELECT 1 FROM variants WHERE id = ?", (child["id"],)) is None


async def test_e_with_free_text(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("tab")
        box = app.screen.query_one("#edit-text")
        box.value = ""
        await pilot.press(*"gate of dawn")
        await pilot.press("enter")
        await settle(pilot)
        child = dict(app.library.db.row("SELECT * FROM variants ORDER BY id DESC LIMIT 1"))
        assert (child["prompt"], child["edit_kind"]) == ("gate of dawn", "free")


async def test_e_escape_and_empty_edits_queue_nothing(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("e", "enter")  # no change yet: the dialog stays
        await settle(pilot)
        assert isinstance(app.screen, EditPromptScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert jobs(app) == []


async def test_i_queues_a_run_from_the_image_file(library):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        detail = main_screen(app).detail
        await pilot.press("i")
        await settle(pilot)
        assert isinstance(app.screen, InitImageScreen)
        copy = Path(app.screen.path)
        assert (
            copy.is_file()
            and copy.read_bytes() == app.library.abspath(detail.image.path).read_bytes()
        )
        await pilot.press("enter")
        await settle(pilot)
        job = jobs(app)[0]
        config = json.loads(job["config"])
        assert config["init_image"] == f"inits/{copy.name}"  # relative to the library
        child = app.library.tree.variant(job["variant_id"])
        assert child.parent_id == detail.variant.id and child.prompt == detail.variant.prompt
        assert child.edit_text == f"init: image {detail.image.id}"
        # The method's refine step by default: blurred, small cutouts count most.
        assert config["init_blur"] == REFINE_BLUR > 0
        assert config["size_weighting"] == "detail"


async def test_the_init_dialog_says_the_method_and_can_set_blur_0(library):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        method = str(app.screen.query_one("#init-method").render())
        assert "blurred" in method and "detail weighting" in method
        blur = app.screen.query_one("#init-blur")
        assert blur.value == f"{REFINE_BLUR:g}"
        for bad in ("-1", "x", "nan"):  # refused in one line; the dialog stays
            blur.value = bad
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, InitImageScreen) and jobs(app) == []
        blur.value = "0"
        await pilot.press("enter")
        await settle(pilot)
        config = json.loads(jobs(app)[0]["config"])
        assert (config["init_blur"], config["size_weighting"]) == (0.0, "detail")


async def test_a_seed_sketch_from_the_init_dialog_starts_a_layout_run(library):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot)
        detail = main_screen(app).detail
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        screen = app.screen
        sketch = Path(screen.field)
        assert sketch.name == f"seed-image-{detail.image.id:06d}-2-on.png" and sketch.is_file()
        assert screen.query_one("#init-preview").path == sketch  # previewed
        assert "layout weighting" in str(screen.query_one("#init-method").render())
        assert screen.query_one("#init-blur").value == f"{SEED_BLUR:g}"
        await pilot.press("g")  # on grey: the door blotches are darker than the grey
        await settle(pilot)
        sketch = Path(screen.field)
        with PILImage.open(sketch) as im:
            w, h = im.size
            grey = im.convert("L")
            assert grey.getpixel((w // 2, h // 2)) == NEUTRAL[0]
            for x in (0.25, 0.75):
                assert grey.getpixel((int(x * w), int(0.6 * h))) < NEUTRAL[0] - 30
        await pilot.press("enter")
        await settle(pilot)
        job = jobs(app)[0]
        config = json.loads(job["config"])
        assert config["init_image"] == f"inits/{sketch.name}"
        assert (config["size_weighting"], config["init_weight"]) == ("layout", 0.0)
        child = app.library.tree.variant(job["variant_id"])
        assert child.edit_text == f"seed: 2 doors on image {detail.image.id}"
        await pilot.press("i")
        await settle(pilot)
        await pilot.press("3", "0")  # back to refining the image itself
        await settle(pilot)
        assert Path(app.screen.field).name == f"init-image-{detail.image.id:06d}.png"
        assert "detail weighting" in str(app.screen.query_one("#init-method").render())


async def test_at_80x24_the_init_dialog_scrolls_to_its_keys_and_its_keys_work(library):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("i")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, InitImageScreen)
        keys = screen.query_one(".dialog-keys")
        body = screen.query_one(".dialog")
        assert keys.region.bottom > body.content_region.bottom  # below the fold at first
        await pilot.press("end")  # the body has the focus: the arrow keys scroll it
        await settle(pilot)
        assert body.content_region.contains_region(keys.region)
        await pilot.press("enter")
        await settle(pilot)
        assert len(jobs(app)) == 1
