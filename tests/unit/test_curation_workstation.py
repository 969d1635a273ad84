"""CLIP's suggestions in the workstation (workstation/curation.py and the session): the
details' words, the accept key (undoable), the filters and the best-match order, "more
like this", compare on the nearest, near-duplicate seeds folded. Synthetic embeddings
with known neighbours, saved through ``lib.curation.save``."""

from __future__ import annotations

import pytest

from doorways_tui.store import StoreError
from doorways_tui.store.curation import Suggestion
from doorways_tui.workstation import browse, curation
from doorways_tui.workstation.browse import Scope, View
from doorways_tui.workstation.session import Session
from tests.curation_shared import judge, unit
from tests.fixtures_store import TINY, finish_fake, seed_jobs
from tests.store_shared import clock, lib  # noqa: F401 - fixtures


def finished(lib, n: int) -> list[int]:
    """``n`` finished images of one variant (seeds 0..n-1), by id."""
    seed_jobs(lib, n)
    return [finish_fake(lib, lib.claims.claim_job("w1")) for _ in range(n)]


def in_order(session: Session) -> list[int]:
    """Every image the session steps through, from its first."""
    seen = [session.edge(last=False).detail.image.id]
    while (update := session.step(forward=True, untriaged=False)).detail is not None:
        seen.append(update.detail.image.id)
    return seen


def test_the_suggestion_in_words_is_never_a_tag():
    s = Suggestion("demo", "p", 2, 0.81, False, 0.9, 0.29, 0.31, 0.27)
    assert curation.suggestion_text(s) == (
        "looks like 2 doors (0.81) · figures unlikely (0.90) · left matches 0.31 / right 0.27"
    )
    whole = Suggestion("demo", "p", 1, 0.5, True, 0.75, 0.3)
    assert curation.suggestion_text(whole) == (
        "looks like 1 door (0.50) · figures likely (0.75) · prompt matches 0.30"
    )
    none = Suggestion("demo", "p", None, None, None, None)
    assert curation.suggestion_text(none).startswith("no probes")
    assert curation.suggestion_text(None) == "not judged yet: doorways index"


def test_the_details_read_the_suggestion_fresh(lib):
    (a,) = finished(lib, 1)
    assert browse.load_detail(lib, a, read_png=False).suggestion is None
    judge(lib, a, unit(1), doors=3)
    assert browse.load_detail(lib, a, read_png=False).suggestion.doors == 3
    assert lib.images.image(a).door_count is None  # beside the tags, never in them


def test_accepting_the_suggestion_sets_the_door_tag_and_undoes(lib):
    a, b = finished(lib, 2)
    judge(lib, a, unit(1), doors=3)
    session = Session(lib)
    session.show_image(a)
    update = session.triage("suggested_doors")
    assert update.message == f"#{a}: 3 doors (the suggestion, accepted)"
    assert lib.images.image(a).door_count == 3
    assert "door count on" in session.undo().message
    assert lib.images.image(a).door_count is None
    session.show_image(b)  # not judged: one line, nothing written
    with pytest.raises(StoreError, match="no suggestion to accept"):
        session.triage("suggested_doors")
    assert lib.images.image(b).door_count is None


def test_accepting_advances_like_a_digit(lib):
    a, b, _ = finished(lib, 3)
    judge(lib, a, unit(1), doors=1)
    session = Session(lib)
    session.auto_advance = True
    session.show_image(a)
    assert session.triage("suggested_doors").detail.image.id == b


def test_the_filters_on_suggestions_combine_with_the_view(lib):
    a, b, c, d = finished(lib, 4)
    judge(lib, a, unit(1), doors=2, figures=True)
    judge(lib, b, unit(0, 1), doors=3, figures=False)
    judge(lib, c, unit(0, 0, 1), doors=2, figures=True)
    lib.images.set_door_count(c, 1)  # the artist says 1, CLIP said 2
    lib.images.set_door_count(b, 3)  # they agree
    session = Session(lib)
    session.first()

    def listed(view: View) -> list[int]:
        session.set_view(view)
        return in_order(session) if session.current is not None else []

    assert listed(View().with_suggestion(figures=True)) == [a, c]
    assert listed(View("untagged").with_suggestion(figures=True)) == [a]
    assert listed(View().with_suggestion(suggested_doors=3)) == [b]
    assert listed(View().with_suggestion(disagrees=True)) == [c]
    assert listed(View()) == [a, b, c, d]
    figures = View().with_suggestion(figures=True)
    assert figures.label() == "all · figures likely"
    assert figures.with_suggestion(figures=True) == View()  # the same one again: off
    assert figures.with_suggestion(disagrees=True).label() == "all · suggestion ≠ my doors"
    assert View("untagged", sort="match").label() == "untagged · best match first"


def test_best_match_order_steps_and_counts_in_its_own_order(lib):
    a, b, c, d = finished(lib, 4)
    judge(lib, a, unit(1), match=0.1)
    judge(lib, b, unit(0, 1), match=0.3)
    judge(lib, c, unit(0, 0, 1), match=0.2)  # d: not judged, last
    lib.images.set_door_count(b, 2)
    session = Session(lib)
    update = session.set_view(View(sort="match"))
    assert update.detail.image.id == c  # the best untriaged first
    assert in_order(session) == [b, c, a, d]
    session.show_image(a)
    assert session.step(forward=True, untriaged=True).detail.image.id == d
    pos = curation.position(lib, session.listing, c)
    assert (pos.index, pos.total, pos.untriaged) == (2, 4, 3)
    assert session.label() == "all · best match first"
    session.set_view(View())
    assert session.listing is None and in_order(session) == [a, b, c, d]


def test_more_like_this_steps_through_the_nearest_then_ends_with_a_new_view(lib):
    a, b, c, d = finished(lib, 4)
    judge(lib, a, unit(1))
    judge(lib, b, unit(0, 1))
    judge(lib, c, unit(1, 0.2))
    judge(lib, d, unit(1, 0.6))
    session = Session(lib)
    session.show_image(a)
    update = session.more_like_this(within_theme=False)
    assert update.detail.image.id == a
    assert update.message == f"like #{a} · whole library: 3 neighbours, most alike first"
    assert in_order(session) == [a, c, d, b]
    assert session.label() == f"like #{a} · whole library"
    session.set_view(View())
    assert session.listing is None


def test_more_like_this_within_the_theme_and_without_an_embedding(lib):
    a, b = finished(lib, 2)
    other = lib.tree.add_theme("elsewhere")
    variant = lib.tree.root_variant(theme_id=other.id, prompt="a far door")
    lib.queue.queue_jobs(variant.id, [7], TINY, undoable=False)
    c = finish_fake(lib, lib.claims.claim_job("w1"))
    judge(lib, a, unit(1))
    judge(lib, b, unit(0, 1))
    judge(lib, c, unit(1, 0.1))  # nearest, but in another theme
    session = Session(lib)
    session.show_image(a)
    session.more_like_this(within_theme=True)
    assert in_order(session) == [a, b]
    session.show_image(a)
    session.more_like_this(within_theme=False)
    assert in_order(session) == [a, c, b]
    lib.queue.queue_jobs(variant.id, [8], TINY, undoable=False)
    session.show_image(finish_fake(lib, lib.claims.claim_job("w1")))  # not judged yet
    with pytest.raises(StoreError, match="no embedding yet: run doorways index"):
        session.more_like_this(within_theme=False)
    assert session.listing.ids == (a, c, b)  # the list in use stays


def test_compare_opens_on_the_image_and_its_three_nearest(lib):
    ids = finished(lib, 5)
    for n, image_id in enumerate(ids):
        judge(lib, image_id, unit(1, 0.3 * n))
    image = lib.images.image(ids[0])
    assert [i.id for i in curation.nearest(lib, image)] == ids[:4]


def test_near_duplicate_seeds_fold_into_one_row_with_a_count(lib):
    a, b, c, d, e = finished(lib, 5)
    judge(lib, a, unit(1))
    judge(lib, b, unit(1, 0.1))  # a near copy of a (similarity 0.995)
    judge(lib, c, unit(0, 1))
    judge(lib, d, unit(1, -0.1))  # another (e: not judged)
    variant_id = lib.images.image(a).variant_id
    rows = browse.seed_rows(lib, variant_id)
    folded = curation.fold_seeds(lib, rows, 0.95)
    assert [(r.image.id, r.alike) for r in folded] == [(a, 2), (c, 0), (e, 0)]
    assert [r.alike for r in curation.fold_seeds(lib, rows, 0.999)] == [0] * 5
    assert "folded" in curation.fold_words(True, 0.95)


def test_a_scope_change_keeps_the_best_match_order(lib):
    a, b = finished(lib, 2)
    judge(lib, a, unit(1), match=0.1)
    judge(lib, b, unit(0, 1), match=0.5)
    session = Session(lib)
    session.set_view(View(sort="match"))
    variant = lib.images.image(a).variant_id
    session.set_scope(Scope("variant", variant_id=variant, label="v"))
    assert session.listing is not None and session.listing.ids == (b, a)
