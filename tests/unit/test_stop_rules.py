"""Stop rules (issue 17): the plateau rule on scripted loss curves, the settings and their
scopes, what each rule does to jobs, the undo of each, and the claim order."""

from __future__ import annotations

import random
from dataclasses import fields

import pytest

from doorways_tui.store import Library
from doorways_tui.worker.rules import RULES, LossWatch, StopRules
from doorways_tui.worker.stopping import after_reject, check_progress
from tests.fixtures_store import TINY
from tests.store_shared import clock, lib  # noqa: F401  (fixtures)

PLATEAU = StopRules(min_improvement=0.02, over_steps=50)


def first_firing(curve, rules=PLATEAU, every: int = 10):
    """The step at which the plateau rule fires on ``curve`` (step -> loss), reported every
    ``every`` steps, or None."""
    watch = LossWatch()
    for step in range(every, 1001, every):
        if watch.report(step, curve(step), rules) is not None:
            return step
    return None


# -- the plateau rule on scripted curves --------------------------------------------------


def test_a_flat_curve_is_cancelled_once_a_whole_window_has_passed():
    assert first_firing(lambda s: 0.9) == 60  # reports from 10: the window 10..60 is whole


def test_a_noisy_curve_that_keeps_improving_is_never_cancelled():
    rng = random.Random(0)
    # 0.03 better per 50 steps, jitter of +-0.01: even its worst draws beat 2% of <= 0.9
    noisy = lambda s: 0.9 - 0.0006 * s + rng.uniform(-0.01, 0.01)  # noqa: E731
    assert first_firing(noisy) is None


def test_a_noisy_plateau_is_cancelled_despite_its_jitter():
    rng = random.Random(1)
    assert first_firing(lambda s: 0.8 + rng.uniform(-0.004, 0.004)) is not None


def test_an_improving_then_flat_curve_is_cancelled_after_a_window_of_flat():
    curve = lambda s: 0.9 - 0.002 * min(s, 300)  # noqa: E731  (0.9 -> 0.3, then flat)
    fired = first_firing(curve)
    assert fired is not None and 300 < fired <= 300 + 50 + 10


def test_too_few_steps_never_fire_and_a_resumed_run_waits_a_whole_window():
    watch = LossWatch()
    assert [watch.report(s, 1.0, PLATEAU) for s in (10, 20, 30, 40, 50)] == [None] * 5
    resumed = LossWatch()  # a run resumed from its checkpoint at step 500
    assert resumed.report(500, 1.0, PLATEAU) is None
    assert resumed.report(540, 1.0, PLATEAU) is None
    fired = resumed.report(550, 1.0, PLATEAU)
    assert fired is not None and fired.steps == 50 and fired.improvement == 0.0
    assert "0.00% over 50 steps" in fired.reason(PLATEAU)


def test_rules_off_never_fire_and_repeated_reports_say_nothing():
    watch = LossWatch()
    assert all(watch.report(s, 1.0, StopRules()) is None for s in range(10, 500, 10))
    assert watch.report(500, 1.0, PLATEAU) is not None  # set while it ran: judged at once
    assert watch.report(500, 1.0, PLATEAU) is None  # the same step again


# -- the rules as settings ----------------------------------------------------------------


def test_each_rule_is_said_once_and_checks_its_range():
    assert [f.name for f in fields(StopRules)] == [r.name for r in RULES]
    by = {r.name: r for r in RULES}
    assert by["over_steps"].check(50) == 50 and by["over_steps"].check(0) == 0  # 0: off
    with pytest.raises(ValueError, match="--over-steps takes a whole number"):
        by["over_steps"].check(2.5)
    with pytest.raises(ValueError, match="--min-improvement must be more than 0 and at most 1"):
        by["min_improvement"].check(1.5)
    # a value out of range (written by hand) turns its rule off instead of stopping a worker
    assert StopRules.from_values(
        {"over_steps": -3, "hold_after_rejects": 2, "new": 1}
    ) == StopRules(hold_after_rejects=2)
    assert not StopRules(min_improvement=0.1).plateau  # needs its window too


def variant_of(lib: Library, theme: str, prompt: str = "a door") -> int:
    theme_id = lib.tree.add_theme(theme).id
    return lib.tree.root_variant(theme_id=theme_id, prompt=prompt).id


def test_a_themes_rules_win_over_the_whole_queues_and_0_turns_one_off(lib):
    a, b = variant_of(lib, "A"), variant_of(lib, "B")
    theme_b = lib.tree.variant(b).theme_id
    lib.rules.set_values({"hold_after_rejects": 3, "max_variant_steps": 500})
    lib.rules.set_values({"hold_after_rejects": 1, "max_variant_steps": 0}, theme_id=theme_b)
    assert lib.rules.for_variant(a) == {"hold_after_rejects": 3, "max_variant_steps": 500}
    assert lib.rules.for_variant(b) == {"hold_after_rejects": 1}
    assert lib.rules.clear(theme_id=theme_b, names=["max_variant_steps"]) == 1
    assert lib.rules.for_variant(b) == {"hold_after_rejects": 1, "max_variant_steps": 500}
    assert lib.rules.clear() == 2 and lib.rules.for_variant(a) == {}
    assert [e.kind for e in lib.history.events(kind="rules_set")] == ["rules_set"] * 2


# -- what the rules do, and their undo -----------------------------------------------------


def running(lib: Library, variant_id: int, seeds=(0,), worker: str = "w1"):
    jobs = lib.queue.queue_jobs(variant_id, seeds, TINY, undoable=False)
    lib.workers.register(worker, device="cpu")
    claimed = [lib.claims.claim_job(worker) for _ in jobs]
    return jobs, claimed


def test_a_plateau_stops_the_run_keeps_its_checkpoint_and_undo_resumes_it(lib):
    variant = variant_of(lib, "A")
    lib.rules.set_values({"min_improvement": 0.05, "over_steps": 20})
    _, (job,) = running(lib, variant)
    saved = []

    def checkpoint():  # what the runner does: the latent at this step, recorded
        lib.abspath("checkpoints/x.pt").parent.mkdir(parents=True, exist_ok=True)
        lib.abspath("checkpoints/x.pt").write_bytes(b"latent")
        lib.claims.set_checkpoint(job.id, "w1", path="checkpoints/x.pt", step=30, lease=job.lease)
        saved.append(30)

    assert check_progress(lib, job, 10, {"prompt": 0.9}, checkpoint=checkpoint) is None
    assert check_progress(lib, job, 20, {"prompt": 0.89}, checkpoint=checkpoint) is None
    said = check_progress(lib, job, 30, {"prompt": 0.89}, checkpoint=checkpoint)
    assert said is not None and "plateau rule" in said and saved == [30]
    stopped = lib.queue.job(job.id)
    assert stopped.status == "cancelled" and stopped.error.startswith(
        "stopped by a rule: prompt loss"
    )
    assert stopped.checkpoint == "checkpoints/x.pt" and stopped.checkpoint_step == 30
    (event,) = lib.history.events(kind="rule_stopped")
    assert event.payload()["rule"] == "plateau" and event.payload()["job_id"] == job.id
    # the worker's writes are refused now: it drops the job
    assert not lib.claims.update_progress(job.id, "w1", step=31, total=12, lease=job.lease)

    result = lib.history.undo()
    assert result.kind == "rules" and result.summary == "1 job queued again"
    back = lib.queue.job(job.id)
    assert (back.status, back.step, back.checkpoint_step, back.error) == ("queued", 30, 30, None)
    again = lib.claims.claim_job("w1")
    assert again.id == job.id
    # the artist said "go on": the rules leave this run alone from now on
    assert check_progress(lib, again, 60, {"prompt": 0.89}) is None
    assert check_progress(lib, again, 90, {"prompt": 0.89}) is None
    assert lib.queue.job(job.id).status == "running"


def test_a_step_cap_stops_the_variants_runs_and_holds_its_queued_seeds(lib):
    variant, other = variant_of(lib, "A"), variant_of(lib, "B")
    lib.rules.set_values({"max_variant_steps": 100})
    _, (first, second) = running(lib, variant, seeds=(0, 1))
    queued = lib.queue.queue_jobs(variant, (2, 3), TINY, undoable=False)
    elsewhere = lib.queue.queue_jobs(other, (0,), TINY, undoable=False)
    lib.claims.update_progress(second.id, "w1", step=60, total=200, lease=second.lease)
    assert check_progress(lib, first, 30, {}) is None  # 30 + 60 < 100
    said = check_progress(lib, first, 40, {})  # 40 + 60 = 100: the cap
    assert (
        said is not None and "by the step-cap rule" in said and "2 queued seeds of variant" in said
    )
    assert lib.queue.job(first.id).status == "cancelled"
    assert [j["id"] for j in lib.rules.held_jobs()] == [j.id for j in queued]
    assert lib.claims.claim_job("w2").id == elsewhere[0].id  # held seeds are skipped
    assert lib.claims.claim_job("w2") is None

    assert lib.history.undo().summary == "2 held seeds released"
    assert lib.rules.held_jobs() == []
    assert lib.history.undo().summary == "1 job queued again"
    assert {lib.claims.claim_job("w2").id for _ in range(3)} == {first.id, *(j.id for j in queued)}


def test_rejecting_enough_seeds_holds_the_rest_and_says_so(populated, session):
    lib = populated
    image = lib.images.image(1)
    theme_id = lib.tree.variant(image.variant_id).theme_id
    lib.rules.set_values({"hold_after_rejects": 2}, theme_id=theme_id)
    queued = lib.queue.queue_jobs(image.variant_id, (10, 11), TINY, undoable=False)
    assert after_reject(lib, lib.images.toggle_reject(1)) is None  # 1 of 2
    session.current = lib.images.image(2)
    update = session.triage("reject")
    assert "held 2 queued seeds of this variant: 2 seeds rejected" in update.message
    assert {j["id"] for j in lib.rules.held_jobs()} == {j.id for j in queued}
    assert lib.claims.claim_job("w1") is None
    undone = session.undo()  # the hold first, then the reject
    assert "undone: rejects hold of 2 queued seeds" in undone.message
    assert lib.rules.held_jobs() == [] and lib.images.image(2).rejected
    assert lib.claims.claim_job("w1") is not None
    session.undo()
    assert not lib.images.image(2).rejected


def test_a_hold_made_by_a_worker_is_undone_from_elsewhere_only_when_confirmed(lib, tmp_path):
    variant = variant_of(lib, "A")
    queued = lib.queue.queue_jobs(variant, (0, 1), TINY, undoable=False)
    with Library.open(lib.root, origin="worker") as worker_side:
        ids = worker_side.rules.hold_queued(variant, rule="rejects", reason="test")
    assert ids == [j.id for j in queued]
    asked = lib.history.undo()
    assert not asked.undone and lib.rules.held_jobs()
    assert lib.history.undo(confirmed=asked.entry.id).undone
    assert lib.rules.held_jobs() == []


def test_release_lets_held_jobs_run_and_the_rules_leave_them_alone(lib):
    variant = variant_of(lib, "A")
    queued = lib.queue.queue_jobs(variant, (0, 1, 2), TINY, undoable=False)
    lib.rules.hold_queued(variant, rule="rejects", reason="test")
    assert lib.rules.release(job_ids=[queued[0].id]) == [queued[0].id]
    assert lib.rules.hold_queued(variant, rule="rejects", reason="again") == []  # still held
    assert lib.rules.release() == [queued[1].id, queued[2].id]
    assert lib.rules.hold_queued(variant, rule="rejects", reason="again") == []  # left alone
    assert lib.history.events(kind="jobs_released")


# -- the claim order ------------------------------------------------------------------------


def claim_variants(lib: Library, n: int) -> list[int]:
    out = []
    for _ in range(n):
        job = lib.claims.claim_job("w1")
        out.append(job.variant_id)
    return out


def test_early_previews_give_every_variant_a_run_before_any_gets_a_second(lib):
    a, b, c = (variant_of(lib, name) for name in "ABC")
    for v in (a, b, c):
        lib.queue.queue_jobs(v, (0, 1, 2), TINY, undoable=False)
    lib.workers.register("w1", device="cpu")
    assert not lib.rules.early_previews()
    assert claim_variants(lib, 2) == [a, a]  # off: oldest first
    lib.rules.set_early_previews(True)
    assert lib.rules.early_previews()
    assert claim_variants(lib, 3) == [b, c, a]  # then, all seen: oldest first again
    urgent = lib.queue.queue_jobs(a, (9,), TINY, priority=5, undoable=False)
    assert lib.claims.claim_job("w1").id == urgent[0].id  # priority still comes first


def test_a_variant_with_an_image_counts_as_seen(populated):
    lib = populated
    fresh = variant_of(lib, "fresh")
    old = lib.queue.queue_jobs(1, (20,), TINY, undoable=False)
    new = lib.queue.queue_jobs(fresh, (0,), TINY, undoable=False)
    lib.rules.set_early_previews(True)
    assert lib.claims.claim_job("w1").id == new[0].id
    assert lib.claims.claim_job("w1").id == old[0].id


def test_the_palettes_actions_release_held_seeds_and_toggle_the_claim_order(lib):
    from doorways_tui.workstation.rules import release_held, toggle_early_previews

    variant = variant_of(lib, "A")
    lib.queue.queue_jobs(variant, (0, 1), TINY, undoable=False)
    assert release_held(lib).severity == "warning"  # nothing held
    lib.rules.hold_queued(variant, rule="rejects", reason="test")
    assert release_held(lib).message == "released 2 held seeds to the queue"
    assert lib.rules.held_jobs() == []
    assert toggle_early_previews(lib).message.startswith("early previews first on")
    assert lib.rules.early_previews()
    assert toggle_early_previews(lib).message.startswith("early previews first off")
    assert not lib.rules.early_previews()
