"""What the workstation browses, read directly: a variant's runs, the images to compare,
a job's image, the edits that made a variant, and an image's details (read once)."""

from __future__ import annotations

from doorways_engine.fetch import sha256_file
from doorways_tui.store.files import image_relpath
from doorways_tui.workstation import browse
from tests.library_fixtures import write_png


def test_seed_rows_list_a_variants_runs_by_seed_without_cancelled_ones(populated):
    first, second = populated.queue.reroll(image_id=1, n=2)
    populated.queue.cancel_job(first.id)
    rows = browse.seed_rows(populated, 1)
    assert [(r.seed, r.status) for r in rows] == [
        (0, "done"), (1, "done"), (2, "done"), (second.seed, "queued"),
    ]  # fmt: skip
    assert [r.image.id if r.image else None for r in rows] == [1, 2, 3, None]
    assert (rows[0].step, rows[0].total) == (12, 12)


def test_siblings_put_the_image_first_then_picks_then_untriaged(populated):
    populated.images.set_door_count(4, 1)
    populated.images.toggle_star(6)
    assert [i.id for i in browse.siblings(populated, populated.images.image(4))] == [4, 6, 5]
    assert [i.id for i in browse.siblings(populated, populated.images.image(5), limit=2)] == [5, 6]


def test_a_jobs_image_is_its_final_else_its_live_preview(populated):
    assert browse.job_image(populated, 3).id == 3
    (job,) = populated.queue.reroll(image_id=1)
    assert browse.job_image(populated, job.id) is None
    populated.claims.claim_job("w1")
    rel = image_relpath(variant_id=1, job_id=job.id, seed=job.seed, kind="preview")
    write_png(populated.abspath(rel), 1, job.config_dict())
    populated.claims.set_preview(
        job.id, "w1", path=rel, step=4, width=64, height=32,
        sha256=sha256_file(populated.abspath(rel)),
    )  # fmt: skip
    assert browse.job_image(populated, job.id).kind == "preview"


def test_lineage_runs_from_the_root_down(populated):
    child = populated.tree.variant(3)
    assert browse.lineage(populated, child) == ("root", "+underwater")
    grandchild, _ = populated.queue.spawn(
        parent_id=3, prompt="x", edit_kind="free", edit_text="edited", seeds=[0],
        config=populated.queue.job(7).config_dict(),
    )  # fmt: skip
    assert browse.lineage(populated, grandchild) == ("root", "+underwater", "edited")
    assert browse.lineage(populated, grandchild, limit=2) == ("+underwater", "edited")


def test_details_are_read_once_per_file_version(populated):
    cache: dict = {}
    detail = browse.load_detail(populated, 7, cache=cache)
    assert (detail.variant.id, detail.theme.name, detail.lineage) == (
        3,
        "doors",
        ("root", "+underwater"),
    )
    assert detail.config == populated.queue.job(7).config_dict()
    assert detail.version == f"{detail.image.sha256}:{detail.image.step}"
    populated.abspath(detail.image.path).unlink()  # the losses are not read again
    assert browse.load_detail(populated, 7, cache=cache).losses == detail.losses != {}
    assert browse.load_detail(populated, 7).losses == {}  # a fresh read finds no file
