"""The keys that make new runs: reroll, several seeds, edit the prompt, init image; each
reuses the parent job's config and is undoable."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from doorways_tui.tui.screens.edit_prompt import EditPromptScreen
from doorways_tui.tui.screens.init_image import InitImageScreen
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
