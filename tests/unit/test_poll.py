"""The poller driven directly, without the app: each snapshot says what changed since the
last one (event kinds, images triaged), recounts the tree only when it may have changed,
and shows the first queued and failed jobs. Other connections write as workers and
shells would."""

from __future__ import annotations

from doorways_engine.fetch import sha256_file
from doorways_tui.store import Library
from doorways_tui.store.files import image_relpath
from doorways_tui.workstation.poll import FAILED_SHOWN, QUEUED_SHOWN, Poller
from tests.library_fixtures import write_png


def counts_by_variant(tree) -> dict[int, tuple[int, int, int]]:
    """variant id -> (images, starred, untriaged), from the snapshot's tree."""
    return {n.id: (n.images, n.starred, n.untriaged) for ns in tree.nodes.values() for n in ns}


def test_the_first_snapshot_carries_the_whole_tree_and_the_counts(populated):
    snap = Poller(populated).snapshot()
    assert [t.name for t in snap.tree.themes] == ["doors"] and not snap.tree.partial
    assert counts_by_variant(snap.tree) == {1: (3, 0, 3), 2: (3, 0, 3), 3: (2, 0, 2)}
    assert [n.parent_id for n in snap.tree.nodes[1]] == [None, None, 1]
    assert (snap.counts.done, snap.counts.queued, snap.images_total) == (8, 0, 8)
    assert snap.last_event == populated.history.last_event_id() and snap.kinds == frozenset()
    assert snap.queue == () and snap.failed == () and snap.previews == {}


def test_a_quiet_library_gives_no_tree_and_keeps_the_counts(populated):
    poller = Poller(populated)
    first = poller.snapshot()
    snap = poller.snapshot()
    assert snap.tree is None and snap.kinds == frozenset() and snap.touched == frozenset()
    assert (snap.counts, snap.images_total, snap.last_event) == (
        first.counts,
        8,
        first.last_event,
    )
    assert poller.snapshot(want_tree=True).tree.themes == first.tree.themes  # when asked


def test_a_triage_elsewhere_recounts_only_its_variant(populated, other):
    poller = Poller(populated)
    poller.snapshot()
    other.images.set_door_count(4, 2)
    other.images.toggle_star(5)
    snap = poller.snapshot()
    assert snap.kinds == frozenset({"triage"}) and snap.touched == frozenset({4, 5})
    assert snap.tree.partial and not snap.tree.empty and snap.tree.themes == ()
    assert counts_by_variant(snap.tree) == {2: (3, 1, 2)}  # variant 2 only
    assert snap.last_event == other.history.last_event_id()


def test_an_undo_elsewhere_recounts_the_tree(populated, other):
    poller = Poller(populated)
    other.images.set_door_count(7, 1)
    assert counts_by_variant(poller.snapshot().tree)[3] == (2, 0, 1)
    other.history.undo()
    snap = poller.snapshot()
    assert snap.kinds == frozenset({"undo"})
    assert not snap.tree.partial and counts_by_variant(snap.tree)[3] == (2, 0, 2)


def test_an_undo_elsewhere_names_the_image_it_changed(populated, other):
    poller = Poller(populated)
    other.images.set_door_count(7, 1)
    poller.snapshot()
    other.history.undo()
    assert poller.snapshot().touched == frozenset({7})


def test_every_event_since_the_last_snapshot_is_read(populated, other):
    """More events than one read takes (500): the poller reads on to the newest."""
    poller = Poller(populated)
    poller.snapshot()
    with other.transaction():
        for _ in range(500):
            other.images.toggle_star(1)
        other.images.toggle_star(8)
    snap = poller.snapshot()
    assert snap.touched == frozenset({1, 8})
    assert snap.last_event == other.history.last_event_id()
    assert counts_by_variant(snap.tree) == {1: (3, 0, 3), 3: (2, 1, 2)}


def test_queued_jobs_are_counted_all_and_shown_first_few(populated, other):
    poller = Poller(populated)
    poller.snapshot()
    queued = other.queue.reroll(image_id=4, n=QUEUED_SHOWN + 2)
    snap = poller.snapshot()
    assert snap.kinds == frozenset({"jobs_queued"})
    assert snap.counts.queued == QUEUED_SHOWN + 2
    assert [q.id for q in snap.queued] == [j.id for j in queued[:QUEUED_SHOWN]]
    assert snap.running == () and not snap.tree.partial
    assert counts_by_variant(snap.tree)[2] == (3, 0, 3)
    assert {n.id: n.queued for n in snap.tree.nodes[1]}[2] == QUEUED_SHOWN + 2


def test_failed_jobs_are_shown_apart_newest_first(populated, other):
    poller = Poller(populated)
    poller.snapshot()
    other.queue.reroll(image_id=1, n=FAILED_SHOWN + 2)
    failed = []
    while (job := other.claims.claim_job("w1")) is not None:
        other.claims.fail_job(job.id, "w1", f"error {job.id}")
        failed.append(job.id)
    snap = poller.snapshot()
    assert snap.counts.failed == FAILED_SHOWN + 2 and snap.queue == ()
    assert len(snap.failed) == FAILED_SHOWN
    assert {q.id for q in snap.failed} <= set(failed)
    assert all(q.error == f"error {q.id}" for q in snap.failed)


def test_a_running_job_brings_its_live_preview_and_its_worker(populated, other):
    poller = Poller(populated)
    poller.snapshot()
    (job,) = other.queue.reroll(image_id=1)
    other.workers.register("w1", device="cpu")
    assert other.claims.claim_job("w1").id == job.id
    rel = image_relpath(variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="preview")
    write_png(other.abspath(rel), 3, job.config_dict())
    other.claims.set_preview(
        job.id, "w1", path=rel, step=4, width=64, height=32,
        sha256=sha256_file(other.abspath(rel)),
    )  # fmt: skip
    snap = poller.snapshot()
    assert [q.id for q in snap.running] == [job.id] and snap.queued == ()
    preview = snap.previews[job.id]
    assert (preview.kind, preview.step, preview.job_id) == ("preview", 4, job.id)
    assert [w.id for w in snap.alive_workers] == ["w1"]
    assert snap.counts.running == 1 and snap.images_total == 8  # a preview is no image yet


def test_a_poller_on_an_empty_library_has_an_empty_tree(tmp_path):
    with Library.open(tmp_path / "empty") as lib:
        snap = Poller(lib).snapshot()
    assert snap.tree.empty and snap.images_total == 0 and snap.counts.done == 0
