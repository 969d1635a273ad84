"""The library keys (export, demo, worker, new theme), the first run, and live progress."""

from __future__ import annotations

import json
from pathlib import Path

from doorways_engine.fetch import sha256_file
from doorways_tui.store import Library
from doorways_tui.store.files import image_relpath
from doorways_tui.tui.screens.export_dialog import ExportDialog
from doorways_tui.tui.screens.main import MainScreen
from doorways_tui.tui.screens.start_worker import StartWorkerScreen
from doorways_tui.tui.widgets.job_row import JobRow
from doorways_tui.tui.widgets.variant_tree import VariantTree
from doorways_tui.workstation.demo import DEMO_CONFIG, DEMO_THEME
from tests.app_fixtures import (
    FakeLauncher,
    main_screen,
    make_app,
    poll,
    populate,
    settle,
    write_png,
)
from tests.app_library_shared import root  # noqa: F401  (fixtures)
from tests.library_fixtures import show_preview


async def test_first_run_welcome_then_d_queues_the_demo_and_starts_a_worker(root):
    launcher = FakeLauncher()
    app = make_app(launch_worker=launcher)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await poll(pilot)
        welcome = app.screen.query_one("#welcome")
        assert welcome.display
        text = str(welcome.render())
        assert "Press  d " in text and "random weights" in text
        await pilot.press("d")
        await settle(pilot)
        assert launcher.calls == [app.library.root]
        await poll(pilot)
        assert not app.screen.query_one("#welcome").display
        theme = app.library.tree.theme_by_name(DEMO_THEME)
        assert theme is not None
        jobs = app.library.queue.jobs(status="queued")
        assert len(jobs) == 9
        config = json.loads(jobs[0].config)
        assert (config["vqgan"], config["clip"], config["width"], config["height"]) == (
            "demo",
            "demo",
            DEMO_CONFIG["width"],
            DEMO_CONFIG["height"],
        )
        assert config["panorama"] == "cosine" and config["style"] == "by James Gurney"
        await pilot.press("d")  # again: nothing new
        await settle(pilot)
        assert len(app.library.queue.jobs(status="queued")) == 9


async def test_w_starts_a_worker(root):
    populate(root)
    launcher = FakeLauncher()
    app = make_app(launch_worker=launcher)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        assert launcher.calls == [app.library.root]
        assert any("fake-1" in str(n.message) for n in app._notifications)


async def test_queued_jobs_and_no_worker_offer_to_start_one(root):
    with Library.open(root) as lib:
        theme = lib.tree.add_theme("t")
        variant = lib.tree.root_variant(theme_id=theme.id, prompt="a door")
        lib.queue.queue_jobs(variant.id, [0, 1], DEMO_CONFIG, undoable=False)
    launcher = FakeLauncher()
    app = make_app(launch_worker=launcher, offer_worker=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await poll(pilot)
        assert isinstance(app.screen, StartWorkerScreen)
        await pilot.press("y")
        await settle(pilot)
        assert launcher.calls == [app.library.root]
        await poll(pilot)
        assert isinstance(app.screen, MainScreen)  # offered once only


async def test_E_exports_starred_images(root, tmp_path):
    populate(root)
    with Library.open(root) as lib:
        lib.images.toggle_star(2)
        lib.images.toggle_star(4)
    app = make_app()
    out = tmp_path / "out"
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("E")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        app.screen.query_one("#export-folder").value = str(out)
        await pilot.press("s")
        await settle(pilot)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == 3 and "contact-sheet.png" in pngs
    records = json.loads((out / "doorways-export.json").read_text())
    assert [r["image_id"] for r in records] == [2, 4]


async def test_running_job_shows_its_preview_and_progress(root):
    with Library.open(root) as lib:
        theme = lib.tree.add_theme("t")
        variant = lib.tree.root_variant(theme_id=theme.id, prompt="a door")
        lib.queue.queue_jobs(variant.id, [5], {**DEMO_CONFIG, "steps": 40}, undoable=False)
        lib.workers.register("w1", device="cpu")
        job = lib.claims.claim_job("w1")
        show_preview(lib, job, "w1", pixels=5, step=10)
        lib.claims.update_progress(job.id, "w1", step=10, total=40, it_per_s=2.0, eta_s=15)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await poll(pilot)
        await settle(pilot)
        screen = main_screen(app)
        assert screen.detail is not None and screen.detail.image.kind == "preview"
        row = screen.query_one(JobRow)
        assert "10/40 · 2.0 it/s · ETA 15s" in str(row.query_one(".job-stats").render())
        tree = screen.query_one(VariantTree)
        tree._variants[job.variant_id].expand()  # open the variant: its seeds are listed
        await settle(pilot)

        def seed_label() -> str:
            leaf = tree._variants[job.variant_id].children[0]
            return str(leaf.label)

        assert "seed 5" in seed_label() and "25%" in seed_label()
        with Library.open(root) as lib:
            show_preview(lib, job, "w1", pixels=6, step=20)  # the same file, new pixels
            lib.claims.update_progress(job.id, "w1", step=20, total=40, it_per_s=2.0, eta_s=10)
        await poll(pilot)
        assert screen.detail.image.step == 20  # the live preview followed the job
        assert "20/40" in str(row.query_one(".job-stats").render())
        await settle(pilot)
        assert "50%" in seed_label()  # the open tree follows the progress too
        with Library.open(root) as lib:
            final = image_relpath(variant_id=job.variant_id, job_id=job.id, seed=5, kind="final")
            write_png(lib.abspath(final), 7, job.config_dict())
            lib.claims.finish_job(
                job.id,
                "w1",
                path=final,
                step=40,
                width=64,
                height=32,
                sha256=sha256_file(lib.abspath(final)),
                seconds=20,
            )
        await poll(pilot)
        await settle(pilot)
        assert screen.detail.image.kind == "final"  # the finished image replaces it
        assert not list(screen.query(JobRow))


def _run_with_preview(root: Path, seed: int) -> tuple[int, str]:
    """A job of the first variant, claimed by a worker, with a live preview."""
    with Library.open(root) as lib:
        lib.workers.register("w1", device="cpu")
        (job,) = lib.queue.queue_jobs(1, [seed], {**DEMO_CONFIG, "steps": 40}, undoable=False)
        job = lib.claims.claim_job("w1")
        show_preview(lib, job, "w1", pixels=seed, step=10)
        return job.id, job.variant_id


async def test_an_empty_filter_shows_no_live_run_and_triage_does_nothing(root):
    populate(root)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"zzzz", "enter")
        await settle(pilot)
        screen = main_screen(app)
        assert screen.detail is None
        job_id, variant_id = _run_with_preview(root, 7)
        await poll(pilot)
        await settle(pilot)
        assert screen.detail is None  # the running job's preview is outside the filter
        with Library.open(root) as lib:
            final = image_relpath(variant_id=variant_id, job_id=job_id, seed=7, kind="final")
            write_png(lib.abspath(final), 7, DEMO_CONFIG)
            lib.claims.finish_job(
                job_id, "w1", path=final, step=40, width=64, height=32,
                sha256=sha256_file(lib.abspath(final)), seconds=20,
            )  # fmt: skip
        await poll(pilot)
        await settle(pilot)
        assert screen.detail is None  # nor its finished image
        await pilot.press("s")
        await settle(pilot)
        assert app.library.db.row("SELECT COUNT(*) FROM images WHERE starred = 1")[0] == 0
        assert "no finished image in view" in str(screen.query_one("#status-line").render())


async def test_export_defaults_to_pictures_else_home(root, tmp_path, monkeypatch):
    populate(root)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("E")
        await settle(pilot)
        folder = Path(app.screen.query_one("#export-folder").value)
        assert folder.parent == home and folder.name.startswith("doorways-export-")
        await pilot.press("escape")
        (home / "Pictures").mkdir()
        await pilot.press("E")
        await settle(pilot)
        folder = Path(app.screen.query_one("#export-folder").value)
        assert folder.parent == home / "Pictures"


async def test_one_image_is_singular_and_the_palette_names_the_prompt_theme(root):
    from doorways_tui.tui.commands import DoorwaysCommands, commands

    populate(root, seeds=1, prompts=("a door",), child=False)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await poll(pilot)
        assert str(app.screen.query_one(VariantTree).root.label) == "library 1 image"
        names = [name for name, _, _ in commands(DoorwaysCommands(app.screen))]
        assert any(name.startswith("library: New prompt theme…") for name in names)
        assert not any(name.lower().startswith("theme") for name in names)
