"""The triage session driven directly, without the app: what each key does to the library's
rows, and the ``Update`` the screen would show. The library is tests/library_fixtures.py's
``populate``: variant 1 holds images 1-3, variant 2 images 4-6, variant 3 (a child of 1)
images 7-8."""

from __future__ import annotations

import pytest

from doorways_tui.store import Library, StoreError
from doorways_tui.workstation import actions, browse
from doorways_tui.workstation.browse import Scope, View
from doorways_tui.workstation.session import Session, Update


def shown(update: Update) -> int | None:
    return None if update.detail is None else update.detail.image.id


def marks(lib: Library, image_id: int) -> tuple:
    """The image's marks as another connection reads them (saved, not buffered)."""
    with Library.open(lib.root) as other:
        image = other.images.image(image_id)
    return image.door_count, image.starred, image.rejected, image.rating


def test_opens_on_the_first_untriaged_image_and_names_the_next_to_prepare(populated):
    populated.images.set_door_count(1, 2)
    update = Session(populated).first()
    assert shown(update) == 2 and not update.cleared
    assert (update.scope, update.view) == (Scope(), View())
    assert update.upcoming == str(populated.abspath(populated.images.image(3).path))
    detail = update.detail
    assert (detail.variant.id, detail.job.seed, detail.theme.name) == (1, 1, "doors")
    assert detail.losses == {"prompt": 1.08, "total": 1.58}  # the PNG chunk of seed 1 + 7 * 1
    assert detail.lineage == ("root",)


def test_an_empty_library_clears_the_view(tmp_path):
    with Library.open(tmp_path / "empty") as lib:
        session = Session(lib)
        update = session.first()
        assert update.cleared and update.detail is None and session.current is None
        with pytest.raises(StoreError, match="no finished image in view to triage"):
            session.triage("doors", 3)
        with pytest.raises(StoreError, match="no finished image in view to triage"):
            session.reroll(1)


def test_every_digit_sets_the_door_count_and_says_so(populated, session):
    for n in range(10):
        update = session.triage("doors", n)
        assert marks(populated, 1) == (n, False, False, None)
        assert update.message == f"#1: {n} door{'' if n == 1 else 's'}"
        assert update.wrote and shown(update) == 1  # auto-advance is off: stay


def test_star_and_reject_toggle(populated, session):
    assert session.triage("star").message == "#1: ★ starred"
    assert marks(populated, 1) == (None, True, False, None)
    assert session.triage("reject").message == "#1: ✗ rejected"
    assert marks(populated, 1) == (None, True, True, None)
    assert session.triage("star").message == "#1: star removed"
    assert session.triage("reject").message == "#1: no longer rejected"
    assert marks(populated, 1) == (None, False, False, None)


def test_rating_is_set_stepped_and_kept_between_one_and_five(populated, session):
    assert session.triage("rating_step", 1).message == "#1: rating 1"  # from none
    for _ in range(6):
        session.triage("rating_step", 1)
    assert marks(populated, 1)[3] == 5
    session.triage("rating_step", -1)
    assert marks(populated, 1)[3] == 4
    assert session.triage("rating", 2).message == "#1: rating 2"
    for _ in range(3):
        session.triage("rating_step", -1)
    assert marks(populated, 1)[3] == 1
    assert session.triage("rating", None).message == "#1: rating cleared"
    assert marks(populated, 1)[3] is None


def test_auto_advance_moves_on_after_a_verdict_only(populated, session):
    update = session.toggle_auto_advance()
    assert update.message == (
        "auto-advance on: a door count or a reject moves to the next untriaged image"
    )
    assert shown(session.triage("doors", 5)) == 2  # a door count is a verdict
    assert shown(session.triage("star")) == 2  # a star is not: stay
    assert shown(session.triage("rating", 3)) == 2
    update = session.triage("reject")  # a reject is a verdict
    assert shown(update) == 3 and update.message == "#2: ✗ rejected"
    session.step(forward=True, untriaged=False)
    assert shown(session.show_image(8)) == 8  # the last untriaged: nowhere to go
    assert shown(session.triage("doors", 1)) == 8
    assert session.toggle_auto_advance().message == "auto-advance off"
    session.show_image(3)
    assert shown(session.triage("doors", 1)) == 3
    assert [marks(populated, i)[0] for i in (1, 2, 3, 8)] == [5, None, 1, 1]


def test_next_and_previous_untriaged_skip_triaged_images(session):
    session.triage("doors", 3)
    assert shown(session.step(forward=True, untriaged=True)) == 2
    session.triage("reject")  # a reject counts as triaged
    assert shown(session.step(forward=True, untriaged=True)) == 3
    update = session.step(forward=False, untriaged=True)  # 1 and 2 are triaged
    assert update.detail is None and not update.cleared and session.current.id == 3
    assert (update.message, update.severity) == (
        "no untriaged image before this one in all",
        "warning",
    )
    assert shown(session.step(forward=False, untriaged=False)) == 2  # any image
    assert shown(session.step(forward=True, untriaged=False)) == 3
    session.show_image(8)
    update = session.step(forward=True, untriaged=False)
    assert update.message == "no image after this one in all" and session.current.id == 8


def test_one_pass_triages_everything_in_order(populated, session):
    for kind, value in (("doors", 1), ("doors", 2), ("doors", 3), ("reject", None)):
        session.triage(kind, value)
        session.step(forward=True, untriaged=True)
    session.triage("star")
    session.triage("doors", 0)
    assert [marks(populated, i)[:3] for i in range(1, 6)] == [
        (1, False, False),
        (2, False, False),
        (3, False, False),
        (None, False, True),
        (0, True, False),
    ]


def test_a_variant_scope_lists_its_own_images_not_its_childrens(populated, session):
    update = session.set_scope(Scope("variant", variant_id=2, label="forest"))
    assert shown(update) == 4 and update.scope.label == "forest"
    assert browse.position(populated, session.flt, 4) == browse.Position(1, 3, 3)
    assert shown(session.step(forward=True, untriaged=False)) == 5
    session.show_image(6)
    assert session.step(forward=True, untriaged=False).message == "no image after this one in all"
    session.set_scope(Scope("variant", variant_id=1))
    assert browse.position(populated, session.flt, session.current.id).total == 3  # not 7, 8


def test_a_scope_that_holds_the_image_in_view_keeps_it(populated, session):
    session.show_image(5)
    update = session.set_scope(Scope("theme", theme_id=1, label="doors"))
    assert shown(update) == 5 and session.scope.kind == "theme"
    assert browse.position(populated, session.flt, 5) == browse.Position(5, 8, 8)
    update = session.set_scope(Scope("variant", variant_id=3))
    assert shown(update) == 7  # 5 is not in variant 3: its first untriaged image


def test_views_pick_their_images_and_report_counts(populated, session):
    populated.images.toggle_star(2)
    populated.images.toggle_star(5)
    populated.images.toggle_reject(3)
    populated.images.set_door_count(4, 2)
    populated.images.set_door_count(6, 2)
    for view, first, label, total in (
        (View("starred"), 2, "starred", 2),
        (View("rejected"), 3, "rejected", 1),
        (View("doors", door_count=2), 4, "2 doors", 2),
        (View("untagged"), 1, "untagged", 5),  # 1, 2, 5, 7, 8: a star is no verdict
        (View(), 1, "all", 8),
    ):
        update = session.set_view(view)
        assert shown(update) == first and update.view == view and view.label() == label
        assert browse.position(populated, session.flt, first).total == total, label
    assert browse.position(populated, session.flt, 1).untriaged == 5
    session.set_view(View("starred"))
    assert shown(session.step(forward=True, untriaged=False)) == 5  # inside the filter


def test_a_view_with_no_match_clears_and_counts_nothing(populated, session):
    update = session.set_view(View("doors", door_count=9))
    assert update.cleared and update.detail is None and session.current is None
    assert browse.position(populated, session.flt, None) == browse.Position(0, 0, 0)
    with pytest.raises(StoreError, match="no finished image in view"):
        session.triage("doors", 1)


def test_a_search_narrows_to_matching_prompts(populated, session):
    view = View().with_text("  forest ")
    update = session.set_view(view)
    assert shown(update) == 4 and view.label() == "all, “forest”"
    assert browse.position(populated, session.flt, 4) == browse.Position(1, 3, 3)
    session.set_view(View().with_text("underwater"))
    assert session.current.id == 7
    assert browse.position(populated, session.flt, 7).total == 2


def test_refresh_shows_what_another_connection_wrote(populated, other, session):
    other.images.set_door_count(1, 5)
    assert session.current.door_count is None  # what was read before
    update = session.refresh()
    assert shown(update) == 1 and update.detail.image.door_count == 5
    assert session.current.door_count == 5


def test_refresh_after_the_image_in_view_is_gone_starts_over(populated, other, session):
    session.show_image(3)
    other.db.execute("DELETE FROM images WHERE id = 3")
    assert shown(session.refresh()) == 1


def test_a_picked_run_without_an_image_says_why(populated, session):
    (queued,) = populated.queue.reroll(image_id=1)
    update = session.show_job(queued.id, Scope("variant", variant_id=1))
    assert update.cleared and session.current is None and session.scope.variant_id == 1
    assert update.message == update.note == f"seed {queued.seed} is queued: no image yet"
    job = populated.claims.claim_job("w1")
    populated.claims.fail_job(job.id, "w1", "CUDA out of memory")
    update = session.show_job(job.id)
    assert update.message == f"seed {job.seed} failed (the error is in the details)"
    assert update.note == f"seed {job.seed} failed: CUDA out of memory"
    assert shown(session.show_job(5)) == 5  # a finished run: its image


def test_undo_names_each_kind_of_triage_step(populated, session):
    expected = (
        (("doors", 4), "undone: door count on #1 (back to none)"),
        (("star", None), "undone: star on #1"),  # the step undone: a star
        (("reject", None), "undone: reject on #1"),
        (("rating", 3), "undone: rating on #1 (back to none)"),
    )
    for (kind, value), said in expected:
        session.triage(kind, value)
        update = session.undo()
        assert (update.message, update.wrote, shown(update)) == (said, True, 1)
        assert marks(populated, 1) == (None, False, False, None), kind
    session.triage("star")
    session.triage("star")  # unstarred again: its undo stars it
    assert session.undo().message == "undone: unstar on #1"
    assert marks(populated, 1)[1] is True
    session.triage("star")
    session.triage("reject")
    session.triage("reject")
    assert session.undo().message == "undone: un-reject on #1"
    session.triage("doors", 2)
    session.triage("doors", 7)
    assert session.undo().message == "undone: door count on #1 (back to 2)"
    assert marks(populated, 1)[0] == 2


def test_undo_after_moving_on_goes_back_to_that_image(populated, session):
    session.triage("doors", 2)
    assert shown(session.step(forward=True, untriaged=True)) == 2
    update = session.undo()
    assert shown(update) == 1 and session.current.id == 1
    assert marks(populated, 1)[0] is None


def test_undo_with_nothing_to_undo_says_so(session):
    update = session.undo()
    assert (update.message, update.severity, update.wrote) == ("nothing to undo", "warning", False)


def test_reroll_queues_new_seeds_of_the_same_variant_with_its_config(populated, session):
    update = session.reroll(1)
    (job,) = populated.queue.jobs(status="queued")
    assert update.message == f"reroll: 1 job(s) queued (seed {job.seed})" and update.wrote
    assert job.variant_id == 1 and job.seed == 3  # seeds 0-2 are taken
    parent = populated.queue.job(1).config_dict()
    assert job.config_dict() == {**parent, "seed": 3}  # same config, models included
    session.reroll(4)
    seeds = [j.seed for j in populated.queue.jobs(status="queued")]
    assert sorted(seeds) == [3, 4, 5, 6, 7]


def test_undo_of_a_reroll_cancels_its_queued_jobs(populated, session):
    session.reroll(4)
    update = session.undo()
    assert update.message == "undone: reroll (4 queued jobs cancelled)" and update.wrote
    assert shown(update) == 1  # the image in view stays
    counts = populated.queue.counts()
    assert (counts.queued, counts.cancelled) == (0, 4)
    session.reroll(1)
    populated.claims.claim_job("w1")  # a worker took it: nothing left to cancel
    assert session.undo().message == "undone: reroll (no queued jobs left to cancel)"
    assert populated.queue.counts().running == 1


def test_undo_of_a_theme_queued_from_the_dialog_names_the_theme(populated, session):
    """``T`` queues a theme as one undo step: its undo says so, never "reroll"."""
    from doorways_tui.themes import parse_theme
    from doorways_tui.themes.library import queue_theme

    theme = parse_theme(
        'name = "Norse ∙ Egyptian"\ndoorways = ["doorway"]\nseeds = 2\n'
        '[[groups]]\nname = "Afterlife"\npairs = [["Valhalla", "Fólkvangr"]]\n'
    )
    report = queue_theme(populated, theme)
    update = session.undo()
    assert update.message == (
        f"undone: theme 'Norse ∙ Egyptian' ({report.new_jobs} queued jobs cancelled)"
    )
    assert update.wrote and populated.queue.counts().cancelled == report.new_jobs == 2


def test_an_edit_queues_a_child_variant_and_undo_removes_it(populated, session):
    update = session.edit(2, "wild entrance to heaven", edit_kind="modifier", edit_text="+wild")
    (job,) = populated.queue.jobs(status="queued")
    child = populated.tree.variant(job.variant_id)
    assert (child.parent_id, child.prompt) == (1, "wild entrance to heaven")
    assert (child.edit_kind, child.edit_text) == ("modifier", "+wild")
    assert job.seed == 1  # image 2's seed: the edit compares seed for seed
    assert job.config_dict()["prompts"] == child.prompt
    assert job.config_dict()["vqgan"] == populated.queue.job(2).config_dict()["vqgan"]
    assert update.message == ("edit: 1 job(s) queued (seed 1) for “wild entrance to heaven”")
    assert browse.lineage(populated, child) == ("root", "+wild")
    update = session.undo()
    assert update.message == "undone: edit (1 queued job cancelled, its variant removed)"
    with pytest.raises(StoreError):
        populated.tree.variant(child.id)


def test_an_init_image_run_starts_from_an_editable_copy(populated, session):
    image = populated.images.image(3)
    path = actions.prepare_init(populated, image)
    assert path.read_bytes() == populated.abspath(image.path).read_bytes()
    path.write_bytes(b"edited by the artist")
    assert actions.prepare_init(populated, image) == path  # an existing copy is kept
    assert path.read_bytes() == b"edited by the artist"
    update = session.init_run(3, actions.InitRun(path))
    (job,) = populated.queue.jobs(status="queued")
    child = populated.tree.variant(job.variant_id)
    assert job.config_dict()["init_image"] == f"inits/{path.name}"  # relative: it can move
    assert (child.parent_id, child.prompt) == (1, populated.tree.variant(1).prompt)
    assert child.edit_text == "init: image 3" and job.seed == 2
    config = job.config_dict()  # the method's refine step: blurred, small cutouts count most
    assert (config["init_blur"], config["size_weighting"]) == (actions.REFINE_BLUR, "detail")
    assert actions.REFINE_BLUR > 0
    assert update.message.startswith(
        "init image, blur 3, detail weighting: 1 job(s) queued (seed 2) for “"
    )
    assert session.undo().message == ("undone: edit (1 queued job cancelled, its variant removed)")
