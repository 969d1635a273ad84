"""Live triage: the triage keys on a running run's preview, driven through the session
without the app. The library is ``populate``'s (variant 1 holds images 1-3, seeds 0-2);
each test adds a running seed of variant 1 with a checkpoint and a preview at step 4, as a
worker writes them (no engine: ``show_preview`` writes a small PNG)."""

from __future__ import annotations

import json

import pytest

from doorways_tui.core.triage import more_steps
from doorways_tui.store import Library, StoreError
from doorways_tui.store.files import INIT_DIR, image_relpath
from doorways_tui.workstation import actions
from doorways_tui.workstation.session import Session
from tests.library_fixtures import show_preview, write_png

WORKER = "w-live"
CHECKPOINT = "checkpoints/job-live.pt"


def run_live(lib: Library, *, step: int = 4):
    """A new seed of variant 1, claimed, checkpointed and previewed at ``step``; the
    variant's and another variant's further seeds wait in the queue."""
    job = lib.queue.reroll(image_id=1, n=1)[0]
    lib.queue.reroll(image_id=4, n=1)  # another variant's seed, queued first
    lib.queue.reroll(image_id=1, n=1)  # a follow-up of the same variant, queued after it
    claimed = lib.claims.claim_job(WORKER)
    assert claimed is not None and claimed.id == job.id
    lib.abspath(CHECKPOINT).parent.mkdir(parents=True, exist_ok=True)
    lib.abspath(CHECKPOINT).write_bytes(b"latent")
    assert lib.claims.set_checkpoint(job.id, WORKER, path=CHECKPOINT, step=step)
    lib.claims.update_progress(job.id, WORKER, step=step, total=claimed.total)
    show_preview(lib, claimed, WORKER, pixels=90, step=step)
    return lib.queue.job(job.id)


def finish(lib: Library, job_id: int) -> int:
    """The worker finishes the job (claiming it again if it was queued); the final's id."""
    job = lib.queue.job(job_id)
    if job.status == "queued":
        while (claimed := lib.claims.claim_job(WORKER)) is not None and claimed.id != job_id:
            pass
        assert claimed is not None
        job = claimed
    rel = image_relpath(variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="final")
    write_png(lib.abspath(rel), 5, job.config_dict())
    image = lib.claims.finish_job(
        job.id, WORKER, path=rel, step=job.total, width=64, height=32, sha256="f", seconds=1.0,
        lease=job.lease,
    )  # fmt: skip
    assert image is not None
    return image.id


@pytest.fixture
def live(populated: Library):
    job = run_live(populated)
    session = Session(populated)
    update = session.show_job(job.id)
    assert update.detail is not None and update.detail.image.kind == "preview"
    return populated, session, job


def job_images(lib: Library, job_id: int) -> list[tuple[str, bool, int]]:
    return [(i.kind, i.rejected, i.step) for i in lib.images.images_for_job(job_id)]


def test_x_on_a_live_preview_cancels_the_run_and_keeps_the_preview_rejected(live):
    lib, session, job = live
    update = session.triage("reject")
    assert (
        update.message
        == f"seed {job.seed}: rejected early at step 4, its run cancelled (u resumes it)"
    )
    now = lib.queue.job(job.id)
    assert now.status == "cancelled"
    assert (now.checkpoint, now.checkpoint_step) == (CHECKPOINT, 4)  # kept: undo resumes
    assert lib.abspath(CHECKPOINT).exists()
    assert job_images(lib, job.id) == [("final", True, 4)]
    assert update.detail.image.kind == "final" and update.detail.image.rejected
    assert lib.abspath(update.detail.image.path).exists()  # the preview's file, kept
    assert lib.claims.claim_job(WORKER).id != job.id  # the next job starts


def test_u_puts_a_run_rejected_early_back_and_its_finish_makes_one_image(live):
    lib, session, job = live
    session.triage("reject")
    update = session.undo()
    assert update.message == (
        f"undone: reject seed {job.seed} early: queued again, resuming from its checkpoint"
    )
    now = lib.queue.job(job.id)
    assert (now.status, now.step, now.checkpoint, now.finished) == ("queued", 4, CHECKPOINT, None)
    assert job_images(lib, job.id) == [("preview", False, 4)]
    assert update.detail.image.kind == "preview"
    final = finish(lib, job.id)
    assert job_images(lib, job.id) == [("final", False, 12)]
    assert lib.images.image(final).job_id == job.id


def test_x_again_on_the_run_put_back_rejects_it_again_and_u_keeps_its_attempts(live):
    lib, session, job = live
    session.triage("reject")
    session.undo()
    attempts = lib.queue.job(job.id).attempts
    assert session.current.kind == "preview" and lib.queue.job(job.id).status == "queued"
    session.triage("reject")
    assert lib.queue.job(job.id).status == "cancelled"
    assert job_images(lib, job.id) == [("final", True, 4)]
    session.undo()
    assert (lib.queue.job(job.id).status, lib.queue.job(job.id).attempts) == ("queued", attempts)


def test_a_retry_of_a_run_rejected_early_resumes_it_with_no_second_image(live):
    lib, session, job = live
    session.triage("reject")
    lib.queue.retry_job(job.id)
    assert job_images(lib, job.id) == [("preview", False, 4)]
    finish(lib, job.id)
    assert job_images(lib, job.id) == [("final", False, 12)]


def test_x_refuses_a_run_that_ended_meanwhile(live, other):
    lib, session, job = live
    other.queue.cancel_job(job.id)
    with pytest.raises(StoreError, match=f"job {job.id} is cancelled; only a running job"):
        session.triage("reject")


def test_s_stars_a_live_run_and_moves_its_variant_ahead_in_the_queue(live):
    lib, session, job = live

    def queued() -> list[tuple[int, int]]:
        return [(q.variant_id, q.priority) for q in lib.queue.queue_view() if q.status == "queued"]

    assert queued() == [(2, 0), (1, 0)]  # oldest first: the other variant's seed
    update = session.triage("star")
    assert update.message == (
        f"seed {job.seed} (live, step 4/12): ★ promising: its variant's queued seeds go first"
    )
    assert update.detail.image.starred and update.detail.image.kind == "preview"
    assert queued() == [(1, 1), (2, 0)]
    assert session.undo().message == "undone: promising run"
    assert not lib.images.image(update.detail.image.id).starred
    assert queued() == [(2, 0), (1, 0)]


def test_the_live_star_carries_to_the_final_image(live):
    lib, session, job = live
    session.triage("star")
    final = finish(lib, job.id)
    assert lib.images.image(final).starred
    session.undo()  # after the finish: undone on the final image
    assert not lib.images.image(final).starred


def test_plus_marks_a_live_run_promising_and_a_second_plus_keeps_it(live):
    lib, session, job = live
    assert session.triage("rating_step", 1).detail.image.starred
    assert session.triage("rating_step", 1).detail.image.starred
    assert lib.images.image(session.current.id).rating is None


def test_a_digit_on_a_live_run_is_kept_for_its_final_image(live):
    lib, session, job = live
    update = session.triage("doors", 3)
    assert update.message == f"seed {job.seed} (live, step 4/12): 3 doors, kept for its final image"
    show_preview(lib, lib.queue.job(job.id), WORKER, pixels=91, step=8)  # the run goes on
    assert lib.images.image(session.current.id).door_count == 3
    final = finish(lib, job.id)
    assert lib.images.image(final).door_count == 3
    assert session.undo().message == f"undone: door count on #{session.current.id} (back to none)"
    assert lib.images.image(final).door_count is None


def test_more_steps_raises_the_target_by_half_and_u_puts_it_back(live):
    lib, session, job = live
    update = session.more_steps()
    assert update.message == f"seed {job.seed}: 12 → {more_steps(12)} steps (u undoes)"
    assert more_steps(12) == 18 and more_steps(1) == 2
    now = lib.queue.job(job.id)
    assert (now.total, json.loads(now.config)["steps"]) == (18, 18)
    session.undo()
    now = lib.queue.job(job.id)
    assert (now.total, json.loads(now.config)["steps"]) == (12, 12)


def test_extend_job_refuses_below_the_step_reached_and_ended_runs(live):
    lib, _, job = live
    with pytest.raises(StoreError, match="is at step 4: 3 steps is fewer"):
        lib.queue.extend_job(job.id, 3)
    with pytest.raises(StoreError, match="steps must be a whole number above 0"):
        lib.queue.extend_job(job.id, 0)
    with pytest.raises(StoreError, match="at most 100000"):  # it could never run again
        lib.queue.extend_job(job.id, 100_001)
    with pytest.raises(StoreError, match="only queued or running jobs extend"):
        lib.queue.extend_job(1, 40)  # job 1 is done
    assert lib.queue.job(job.id).total == 12


def test_more_steps_wants_a_live_run(populated, session):
    with pytest.raises(StoreError, match="more steps: no live run in view"):
        session.more_steps()


def test_r_e_i_on_a_live_preview_queue_runs_as_on_a_final_image(live):
    lib, session, job = live
    preview = session.current
    assert "1 job(s) queued" in session.reroll(1).message
    update = session.edit(preview.id, "a door at sea", edit_kind="free", edit_text="at sea")
    assert update.message.startswith("edit: 1 job(s) queued (seed 3)")
    copy = actions.prepare_init(lib, preview)
    assert copy.name == f"init-image-{preview.id:06d}-step4.png" and copy.exists()
    update = session.init_run(preview.id, actions.InitRun(copy))
    assert "init image, blur 3" in update.message
    kid = lib.queue.jobs(status="queued", limit=1)[0]
    assert (kid.seed, kid.config_dict()["init_image"]) == (job.seed, f"{INIT_DIR}/{copy.name}")


def test_a_final_image_is_still_triaged_as_before(populated, session):
    assert session.triage("reject").message == "#1: ✗ rejected"
    assert populated.queue.job(1).status == "done"


def test_the_tree_and_the_details_say_rejected_early_at_step_n(live):
    from doorways_tui.tui.widgets.details import head_text
    from doorways_tui.tui.widgets.variant_tree import seed_label
    from doorways_tui.workstation import browse

    lib, session, job = live
    update = session.triage("reject")
    (row,) = [r for r in browse.seed_rows(lib, job.variant_id) if r.job_id == job.id]
    assert row.status == "cancelled" and row.image is not None  # a cancel that left an image
    assert seed_label(row).plain == f"seed {job.seed} ✗ rejected early at step 4"
    head = head_text(update.detail).plain
    assert head == f"#{update.detail.image.id} · seed {job.seed} · rejected early at step 4"
    lib.queue.cancel_job(lib.queue.reroll(image_id=1, n=1)[0].id)  # a plain cancel: not listed
    assert all(r.status != "cancelled" or r.image for r in browse.seed_rows(lib, 1))


def test_the_details_show_the_marks_put_on_a_live_run(live):
    from doorways_tui.tui.widgets.details import head_text

    lib, session, job = live
    update = session.triage("doors", 2)
    assert head_text(update.detail).plain == (
        f"seed {job.seed} · live preview at step 4/12 · 2 doors"
    )
