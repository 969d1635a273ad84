"""The library store: schema, tree, queue transitions, images, triage and undo."""

from __future__ import annotations

import re
import sqlite3

import pytest

from doorways_tui.store import ImageFilter, Library, Position, StoreError
from doorways_tui.store.migrations import MIGRATIONS, applied_versions, migrate
from tests.fixtures_store import TINY, config_of, finish_fake, seed_jobs
from tests.store_shared import clock, lib  # noqa: F401  (fixtures)

# -- opening and migrations ----------------------------------------------------------------


def test_open_creates_wal_db_and_folders(tmp_path):
    with Library.open(tmp_path / "lib") as lib:
        assert lib.db.scalar("PRAGMA journal_mode") == "wal"
        assert lib.db.scalar("PRAGMA busy_timeout") >= 5000
        assert lib.db.scalar("PRAGMA foreign_keys") == 1
    for sub in ("images", "checkpoints", "logs"):
        assert (tmp_path / "lib" / sub).is_dir()
    assert (tmp_path / "lib" / "library.db").is_file()


def test_migrations_run_twice_are_harmless(tmp_path):
    lib = Library.open(tmp_path / "lib")
    seed_jobs(lib, 2)
    assert migrate(lib.db) == []
    lib.close()
    with Library.open(tmp_path / "lib") as again:
        assert applied_versions(again.db) == [m[0] for m in MIGRATIONS]
        assert again.db.scalar("SELECT COUNT(*) FROM schema_migrations") == len(MIGRATIONS)
        assert len(again.queue.jobs()) == 2


def test_a_new_migration_applies_once(lib):
    extra = [*MIGRATIONS, (99, "test column", "ALTER TABLE themes ADD COLUMN colour TEXT")]
    assert migrate(lib.db, extra) == [99]
    assert migrate(lib.db, extra) == []
    with lib.db.locked() as db:
        assert "colour" in db["themes"].columns_dict


def test_a_failing_migration_rolls_back_whole(lib):
    bad = [*MIGRATIONS, (98, "half", "CREATE TABLE t1 (x); CREATE TABLE t1 (y)")]
    with pytest.raises(sqlite3.OperationalError):
        migrate(lib.db, bad)
    assert 98 not in applied_versions(lib.db)
    assert "t1" not in lib.db.db.table_names()


# -- themes and the variant tree ------------------------------------------------------------


def test_variant_tree_records_edits_and_inherits(lib):
    theme = lib.tree.add_theme("heaven and hell")
    assert lib.tree.add_theme("heaven and hell").id == theme.id
    root = lib.tree.add_variant(
        prompt="entrance to heaven", theme_id=theme.id, style="by James Gurney"
    )
    wild = lib.tree.add_variant(
        parent_id=root.id, prompt="wild entrance to heaven", edit_kind="modifier", edit_text="wild"
    )
    free = lib.tree.add_variant(
        parent_id=wild.id,
        prompt="a door in the sky",
        edit_kind="free",
        edit_text="a door in the sky",
    )
    assert (wild.theme_id, wild.style, wild.parent_id) == (theme.id, "by James Gurney", root.id)
    assert (free.edit_kind, free.edit_text) == ("free", "a door in the sky")
    assert [v.id for v in lib.tree.children(root.id)] == [wild.id]
    assert [v.id for v in lib.tree.variants(theme.id)] == [root.id, wild.id, free.id]
    with pytest.raises(StoreError, match="edit kind"):
        lib.tree.add_variant(parent_id=root.id, prompt="x", edit_kind="bogus")
    with pytest.raises(StoreError, match="no variant"):
        lib.tree.add_variant(parent_id=999, prompt="x", edit_kind="free")
    with pytest.raises(StoreError, match="root"):
        lib.tree.add_variant(prompt="x", theme_id=theme.id, edit_kind="free")


def test_root_variant_is_reused_for_the_same_prompt(lib):
    theme = lib.tree.add_theme("t")
    a = lib.tree.root_variant(theme_id=theme.id, prompt="door", style="s")
    assert lib.tree.root_variant(theme_id=theme.id, prompt="door", style="s").id == a.id
    assert lib.tree.root_variant(theme_id=theme.id, prompt="door", style="other").id != a.id


def test_tree_counts_in_one_query(lib):
    jobs = seed_jobs(lib, 4)
    theme = lib.tree.themes()[0]
    root = lib.tree.variant(jobs[0].variant_id)
    child, child_jobs = lib.queue.spawn(
        parent_id=root.id,
        prompt="wild door",
        edit_kind="modifier",
        edit_text="wild",
        seeds=[0, 1],
        config=TINY,
    )
    for _ in range(2):
        finish_fake(lib, lib.claims.claim_job("w1"))
    lib.claims.claim_job("w1")  # the third: running
    image = lib.images.images()[0]
    lib.images.toggle_star(image.id)
    nodes = {n.id: n for n in lib.tree.nodes(theme.id)}
    assert (nodes[root.id].done, nodes[root.id].running, nodes[root.id].queued) == (2, 1, 1)
    assert (nodes[root.id].images, nodes[root.id].starred, nodes[root.id].untriaged) == (2, 1, 2)
    assert (nodes[child.id].queued, nodes[child.id].done, nodes[child.id].parent_id) == (
        2,
        0,
        root.id,
    )
    other = lib.tree.add_theme("other")
    assert lib.tree.nodes(other.id) == []


# -- queueing ---------------------------------------------------------------------------------


def test_queue_jobs_stores_full_config_with_seed_and_prompt(lib):
    theme = lib.tree.add_theme("t")
    v = lib.tree.add_variant(prompt="entrance to hell", theme_id=theme.id, style="by Gurney")
    jobs = lib.queue.queue_jobs(
        v.id, [3, 7], {**TINY, "prompts": "ignored", "resume_latent": "x.pt", "start_step": 5}
    )
    cfg = config_of(jobs[1])
    assert (cfg["seed"], cfg["prompts"], cfg["style"]) == (7, "entrance to hell", "by Gurney")
    assert "resume_latent" not in cfg and "start_step" not in cfg
    assert [j.seed for j in jobs] == [3, 7]
    assert jobs[0].total == TINY["steps"] and jobs[0].status == "queued"


def test_claim_order_priority_then_age(lib):
    jobs = seed_jobs(lib, 2)
    jobs += lib.queue.queue_jobs(jobs[0].variant_id, [2], TINY, priority=5, undoable=False)
    order = [lib.claims.claim_job("w").id for _ in range(3)]
    assert order == [jobs[2].id, jobs[0].id, jobs[1].id]
    assert lib.claims.claim_job("w") is None
    claimed = lib.queue.job(jobs[0].id)
    assert (claimed.status, claimed.worker_id, claimed.attempts) == ("running", "w", 1)


def test_reroll_picks_unused_seeds_and_config(lib):
    jobs = seed_jobs(lib, 3)  # seeds 0, 1, 2
    finish_fake(lib, lib.claims.claim_job("w1"))
    image = lib.images.images()[0]
    new = lib.queue.reroll(image_id=image.id, n=2)
    assert [j.seed for j in new] == [3, 4]
    assert config_of(new[0])["steps"] == TINY["steps"]
    assert [j.seed for j in lib.queue.reroll(job_id=jobs[1].id)] == [5]
    with pytest.raises(StoreError):
        lib.queue.reroll()


def test_cancel_and_retry_transitions(lib):
    jobs = seed_jobs(lib, 3)
    assert lib.queue.cancel_job(jobs[0].id).status == "cancelled"
    running = lib.claims.claim_job("w1")
    assert lib.queue.cancel_job(running.id).status == "cancelled"
    assert not lib.claims.update_progress(running.id, "w1", step=3, total=12)  # the worker learns
    assert lib.queue.retry_job(jobs[0].id).status == "queued"
    lib.claims.claim_job("w1")
    assert lib.claims.fail_job(jobs[0].id, "w1", "bad prompt")
    failed = lib.queue.job(jobs[0].id)
    assert (failed.status, failed.error) == ("failed", "bad prompt")
    retried = lib.queue.retry_job(failed.id)
    assert (retried.status, retried.error, retried.attempts) == ("queued", None, 0)
    with pytest.raises(StoreError, match="only failed or cancelled"):
        lib.queue.retry_job(jobs[2].id)
    job = lib.claims.claim_job("w1")
    finish_fake(lib, job)
    with pytest.raises(StoreError, match="only queued or running"):
        lib.queue.cancel_job(job.id)
    with pytest.raises(StoreError, match="no job"):
        lib.queue.cancel_job(12345)


# -- workers' side ----------------------------------------------------------------------------


def test_stale_job_requeues_and_old_worker_loses_it(lib, clock):
    (job,) = seed_jobs(lib, 1)
    lib.workers.register("old", device="cpu")
    lib.claims.claim_job("old")
    lib.claims.set_checkpoint(job.id, "old", path="checkpoints/job-000001.pt", step=8)
    clock.advance(30)
    assert lib.claims.requeue_stale(stale_after=60) == []
    clock.advance(31)
    again = lib.claims.claim_job("new", stale_after=60)
    assert again.id == job.id and again.attempts == 2 and again.step == 8
    assert not lib.claims.update_progress(job.id, "old", step=9, total=12)
    assert (
        lib.claims.finish_job(
            job.id, "old", path="x.png", step=12, width=1, height=1, sha256="", seconds=1
        )
        is None
    )
    assert lib.images.images() == []
    assert [e.payload()["reason"] for e in lib.history.events(kind="job_requeued")] == ["stale"]


def test_a_job_that_keeps_killing_workers_fails(lib, clock):
    (job,) = seed_jobs(lib, 1)
    for _ in range(2):
        lib.claims.claim_job("w", max_attempts=2)
        clock.advance(100)
    assert lib.claims.claim_job("w", stale_after=60, max_attempts=2) is None
    failed = lib.queue.job(job.id)
    assert failed.status == "failed" and "stopped responding 2 times" in failed.error


def test_release_requeues_without_counting_an_attempt(lib):
    (job,) = seed_jobs(lib, 1)
    lib.claims.claim_job("w")
    lib.claims.set_checkpoint(job.id, "w", path="checkpoints/c.pt", step=4)
    assert lib.claims.release_job(job.id, "w", reason="sigterm")
    back = lib.queue.job(job.id)
    assert (back.status, back.attempts, back.step, back.checkpoint_step) == ("queued", 0, 4, 4)


def test_preview_then_finish_keeps_one_final_image(lib):
    (job,) = seed_jobs(lib, 1)
    lib.workers.register("w1", device="cpu")
    lib.claims.claim_job("w1")
    preview = "images/p.png"
    lib.abspath(preview).write_bytes(b"p")
    for step in (4, 8):
        assert lib.claims.set_preview(
            job.id, "w1", path=preview, step=step, width=64, height=64, sha256="h"
        )
    (only,) = lib.images.images_for_job(job.id)
    assert (only.kind, only.step) == ("preview", 8)
    image_id = finish_fake(lib, lib.queue.job(job.id))
    (final,) = lib.images.images_for_job(job.id)
    assert final.id == image_id and final.kind == "final" and lib.abspath(final.path).is_file()
    assert not lib.abspath(preview).exists()
    done = lib.queue.job(job.id)
    assert (done.status, done.step, done.checkpoint) == ("done", 12, None)
    assert lib.workers.get("w1").jobs_done == 1
    with pytest.raises(sqlite3.IntegrityError):  # never two finals for one job
        lib.db.execute(
            "INSERT INTO images(job_id, variant_id, path, kind, step, width, height, sha256, created)"
            " VALUES (?, ?, 'other.png', 'final', 1, 1, 1, '', 0)",
            (job.id, job.variant_id),
        )


def test_workers_alive_and_stale(lib, clock):
    lib.workers.register("w1", device="cuda:1")
    lib.workers.register("gone", device="cpu", pid=999_999_999)
    clock.advance(90)
    lib.workers.heartbeat("w1")
    alive = {w.id: w.alive for w in lib.workers.all(stale_after=60)}
    assert alive == {"w1": True, "gone": False}
    lib.workers.set_state("w1", "stopped")
    assert [w.id for w in lib.workers.all()] == ["gone"]


def test_a_worker_on_another_machine_under_this_host_name_is_judged_by_its_heartbeat(lib, clock):
    """Host-network pods and cloned VMs share a host name, not a pid namespace: the other
    worker's pid is not ours to check, so its running job stays until its heartbeat is
    stale (it used to go back at every claim, and the work ping-ponged)."""
    import socket

    from doorways_tui.store.claims import this_machine

    host = socket.gethostname()
    elsewhere = f"{host}/boot=00000000-0000-0000-0000-000000000000/pidns=1"
    assert this_machine().startswith(host) and this_machine() != elsewhere
    jobs = seed_jobs(lib, 2)
    lib.workers.register("pod-b", device="cpu", pid=999_999_999, host=host, machine=elsewhere)
    assert lib.claims.claim_job("pod-b").id == jobs[0].id
    lib.workers.register("pod-a", device="cpu")
    assert lib.claims.claim_job("pod-a").id == jobs[1].id  # requeues nothing on the way
    assert lib.queue.job(jobs[0].id).status == "running" and lib.claims.requeue_stale() == []
    (other,) = [w for w in lib.workers.all() if w.id == "pod-b"]
    assert (other.host, other.alive, other.dead, other.current_job) == (
        host,
        True,
        False,
        jobs[0].id,
    )
    clock.advance(61)
    lib.workers.heartbeat("pod-a", jobs[1].id)
    assert lib.claims.requeue_stale() == [jobs[0].id]
    (requeued,) = [e.payload() for e in lib.history.events(kind="job_requeued")]
    assert requeued["reason"] == "stale"


def test_a_worker_row_from_before_machines_were_recorded_is_judged_by_its_heartbeat(lib):
    """An older row names only the host: whose pids it had cannot be told."""
    (job,) = seed_jobs(lib, 1)
    lib.workers.register("old", device="cpu", pid=999_999_999)
    lib.claims.claim_job("old")
    lib.db.execute("UPDATE workers SET machine = NULL")
    assert lib.claims.requeue_stale() == [] and not lib.workers.get("old").dead


def test_queue_view_counts_and_throughput(lib, clock):
    jobs = seed_jobs(lib, 4)
    jobs += lib.queue.queue_jobs(jobs[0].variant_id, [4], TINY, priority=1, undoable=False)
    finish_fake(lib, lib.claims.claim_job("w1"))  # jobs[4]
    lib.claims.claim_job("w1")
    lib.claims.fail_job(jobs[0].id, "w1", "out of memory")
    lib.claims.claim_job("w1")  # jobs[1] running
    view = lib.queue.queue_view()
    assert [(q.id, q.status) for q in view] == [
        (jobs[1].id, "running"),
        (jobs[2].id, "queued"),
        (jobs[3].id, "queued"),
        (jobs[0].id, "failed"),
    ]
    assert view[0].prompt == "entrance to heaven"
    counts = lib.queue.counts()
    assert (counts.queued, counts.running, counts.done, counts.failed) == (2, 1, 1, 1)
    assert lib.queue.recent_throughput().done == 1
    clock.advance(3601)
    assert lib.queue.recent_throughput().done == 0


# -- images, filters, triage, undo ---------------------------------------------------------


@pytest.fixture
def four_images(lib) -> list[int]:
    jobs = seed_jobs(lib, 4)
    return [finish_fake(lib, lib.claims.claim_job("w1")) for _ in jobs]


def test_filters_and_untriaged_navigation(lib, four_images):
    a, b, c, d = four_images
    lib.images.set_door_count(a, 2)
    lib.images.toggle_reject(b)
    lib.images.toggle_star(c)
    lib.images.set_note(c, "gorgeous 100% arch")
    assert [i.id for i in lib.images.images(ImageFilter(view="untagged"))] == [c, d]
    assert [i.id for i in lib.images.images(ImageFilter(view="rejected"))] == [b]
    assert [i.id for i in lib.images.images(ImageFilter(view="starred"))] == [c]
    assert [i.id for i in lib.images.images(ImageFilter(view="doors", door_count=2))] == [a]
    assert [i.id for i in lib.images.images(ImageFilter(text="100%"))] == [c]
    assert [i.id for i in lib.images.images(ImageFilter(text="HEAVEN"))] == four_images
    assert [i.id for i in lib.images.images(after_id=b, limit=1)] == [c]
    assert lib.images.position(ImageFilter(view="untagged"), d) == Position(2, 2, 2)
    assert lib.images.position(ImageFilter(view="rejected"), b) == Position(1, 1, 0)
    assert lib.images.next_untriaged(a).id == c
    assert lib.images.next_untriaged(d) is None
    assert lib.images.neighbour(d, forward=False, untriaged=True).id == c
    assert lib.images.neighbour(c, forward=False, untriaged=True) is None
    assert lib.images.neighbour(a, flt=ImageFilter(view="untagged")).id == c
    assert lib.images.neighbour(None, forward=False).id == d
    assert lib.images.neighbour(None, forward=False, flt=ImageFilter(view="starred")).id == c
    with pytest.raises(StoreError):
        lib.images.images(ImageFilter(view="doors"))


@pytest.mark.parametrize(
    ("index", "condition"),
    [
        ("idx_images_untriaged", "door_count IS NULL AND rejected = 0"),
        ("idx_images_starred", "starred = 1"),
        ("idx_images_rejected", "rejected = 1"),
        ("idx_images_doors", "door_count = 3"),
    ],
)
def test_view_indexes_serve_a_bound_kind(lib, index, condition):
    # The store binds the kind (ImageFilter.where); SQLite cannot match a bound value
    # against a partial index's WHERE, so the kind must be an index column.
    sql = f"SELECT id FROM images INDEXED BY {index} WHERE kind = ? AND {condition} AND id > ?"
    plan = " ".join(r[3] for r in lib.db.rows(f"EXPLAIN QUERY PLAN {sql}", ("final", 0)))
    assert index in plan


def test_triage_writes_and_undo_in_order(lib, four_images):
    a = four_images[0]
    assert lib.images.set_door_count(a, 3).door_count == 3
    assert lib.images.toggle_star(a).starred is True
    assert lib.images.set_rating(a, 5).rating == 5
    assert lib.images.set_note(a, "keep").note == "keep"
    assert lib.images.toggle_reject(a).rejected is True
    with pytest.raises(StoreError):
        lib.images.set_door_count(a, 10)
    with pytest.raises(StoreError):
        lib.images.set_rating(a, 0)
    undone = [lib.history.undo() for _ in range(5)]
    assert all(u.kind == "triage" and u.image_id == a for u in undone)
    image = lib.images.image(a)
    assert (image.door_count, image.starred, image.rating, image.note, image.rejected) == (
        None,
        False,
        None,
        "",
        False,
    )
    assert lib.history.undo() is None


def test_undo_spawn_cancels_queued_jobs_and_drops_the_variant(lib):
    jobs = seed_jobs(lib, 1)
    root = lib.tree.variant(jobs[0].variant_id)
    child, spawned = lib.queue.spawn(
        parent_id=root.id,
        prompt="wild door",
        edit_kind="modifier",
        edit_text="wild",
        seeds=[0, 1, 2],
        config=TINY,
    )
    result = lib.history.undo()
    assert result.kind == "spawn" and result.variant_id == child.id
    assert set(result.job_ids) == {j.id for j in spawned}
    assert [v.id for v in lib.tree.variants(root.theme_id)] == [root.id]
    assert [j.id for j in lib.queue.jobs()] == [jobs[0].id]


def test_undo_reroll_leaves_started_jobs_alone(lib):
    jobs = seed_jobs(lib, 1)
    new = lib.queue.reroll(job_id=jobs[0].id, n=2)
    lib.claims.claim_job("w1")  # the original job
    lib.claims.claim_job("w1")  # the first rerolled job starts before the undo
    result = lib.history.undo()
    assert result.job_ids == (new[1].id,)
    assert lib.queue.job(new[0].id).status == "running"
    assert lib.queue.job(new[1].id).status == "cancelled"


# -- scale: the queries the UI runs on every keypress ---------------------------------------


_INDEXED = re.compile(
    r"SEARCH \w+ USING (INDEX|COVERING INDEX|AUTOMATIC COVERING INDEX|INTEGER PRIMARY KEY \(rowid=\?\))"
)


def _plans(lib: Library, call, monkeypatch) -> dict[str, list[str]]:
    """The query plan of every read ``call`` makes, planned with the parameters it bound
    (SQLite matches partial indexes differently against literals and bound values)."""
    seen: list[tuple[str, object]] = []
    rows = lib.db.rows

    def spy(sql, params=()):
        seen.append((sql, params))
        return rows(sql, params)

    with monkeypatch.context() as patch:
        patch.setattr(lib.db, "rows", spy)
        call()
    assert seen, "the call ran no query"
    return {sql: [r[3] for r in rows(f"EXPLAIN QUERY PLAN {sql}", params)] for sql, params in seen}


def test_ui_queries_search_indexes_never_scan_images(lib, four_images, monkeypatch):
    """The queries the UI runs on every key press stay as fast with 100k images as with
    four: SQLite's plan (which, without ANALYZE, does not depend on how many rows there
    are) searches an index for images, and never reads the whole table."""
    a, b, c, d = four_images
    image = lib.images.image(a)
    theme = lib.tree.themes()[0]
    variant_id = image.variant_id
    for name, call in {
        "tree": lambda: lib.tree.nodes(theme.id),
        "tree after a triage": lambda: lib.tree.nodes_of_images({a, c}),
        "starred page": lambda: lib.images.images(ImageFilter(view="starred"), after_id=b),
        "variant page": lambda: lib.images.images(ImageFilter(variant_id=variant_id)),
        "doors page": lambda: lib.images.images(ImageFilter(view="doors", door_count=4)),
        "rejected page": lambda: lib.images.images(ImageFilter(view="rejected")),
        "next untriaged": lambda: lib.images.next_untriaged(b),
        "prev untriaged": lambda: lib.images.neighbour(d, forward=False, untriaged=True),
        "position": lambda: lib.images.position(ImageFilter(view="untagged"), c),
        "in view": lambda: lib.images.matches(ImageFilter(theme_id=theme.id), c),
        "siblings": lambda: lib.images.siblings(image),
        "job's images": lambda: lib.images.images_for_job(image.job_id),
    }.items():
        for sql, plan in _plans(lib, call, monkeypatch).items():
            on_images = [step for step in plan if re.match(r"(SEARCH|SCAN) (images|i)\b", step)]
            assert on_images, (name, sql, plan)
            # A search by an index, or by one id: "SEARCH i USING INTEGER PRIMARY KEY
            # (rowid>?)" would walk the table from an id on, as a SCAN walks all of it.
            unindexed = [step for step in on_images if not _INDEXED.match(step)]
            assert not unindexed, (name, sql, plan)


def test_a_killed_worker_is_dead_without_its_old_job_and_can_be_pruned(lib, clock):
    lib.workers.register("killed", device="cuda:0", pid=999_999_999)
    lib.workers.register("w1", device="cuda:0")
    lib.workers.register("done", device="cpu")
    lib.workers.set_state("done", "stopped")
    seed_jobs(lib, 1)
    job = lib.claims.claim_job("killed")
    for worker_id in ("killed", "w1"):
        lib.db.execute(
            "UPDATE workers SET current_job = ?, state = 'running' WHERE id = ?",
            (job.id, worker_id),
        )
    killed = lib.workers.get("killed")
    assert killed.dead and not killed.alive and killed.current_job is None
    w1 = lib.workers.get("w1")
    assert not w1.dead and w1.alive and w1.current_job == job.id
    assert lib.workers.prune(older_than=3600) == []  # too recent
    assert sorted(lib.workers.prune()) == ["done", "killed"]
    assert [w.id for w in lib.workers.all(include_stopped=True)] == ["w1"]


def test_recent_throughput_uses_the_time_actually_elapsed(lib, clock):
    assert lib.queue.recent_throughput().done == 0
    jobs = seed_jobs(lib, 7)
    for _ in jobs:
        clock.advance(120 / 7)
        finish_fake(lib, lib.claims.claim_job("w1"))
    recent = lib.queue.recent_throughput(window_s=3600)
    assert recent.done == 7
    assert recent.elapsed_s == pytest.approx(120 - 120 / 7)  # since the first one started
    assert recent.per_hour == pytest.approx(7 * 3600 / recent.elapsed_s)
    clock.advance(7200)
    assert lib.queue.recent_throughput(window_s=3600).done == 0


def test_a_worker_running_a_batch_stays_running_until_its_last_job_ends(lib):
    a, b, c = seed_jobs(lib, 3)
    lib.workers.register("w1", device="cuda")
    for _ in range(3):
        lib.claims.claim_job("w1")
    finish_fake(lib, lib.queue.job(a.id))
    w = lib.workers.get("w1")
    assert (w.state, w.current_job, w.jobs_done) == ("running", b.id, 1)
    lib.claims.fail_job(b.id, "w1", "boom")
    assert (lib.workers.get("w1").state, lib.workers.get("w1").current_job) == ("running", c.id)
    lib.claims.release_job(c.id, "w1", reason="stopping")
    w = lib.workers.get("w1")
    assert (w.state, w.current_job, w.jobs_done) == ("idle", None, 1)


# -- a whole library or none: creation, schema versions, stored paths ----------------------


def test_a_new_library_db_appears_only_when_its_schema_is_complete(tmp_path, monkeypatch):
    import doorways_tui.store.library as library_module

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(library_module, "migrate", broken)
    root = tmp_path / "lib"
    with pytest.raises(StoreError, match="cannot create library .*disk I/O error"):
        Library.open(root)
    assert sorted(p.name for p in root.iterdir()) == []  # no library.db, no temporary files


# The newest schema each released Doorways knows. A release that adds a migration must
# carry a new version: ``needs_doorways`` would name one that cannot write the library.
RELEASED_SCHEMAS = {"0.1.0": 2}  # the lease (3) and meta (4) came after it


def test_a_new_schema_comes_with_a_new_doorways_version():
    from doorways_tui import __version__
    from doorways_tui.store.migrations import known_version

    def parts(version: str) -> tuple[int, ...]:
        return tuple(int(p) for p in version.split("."))

    for release, schema in RELEASED_SCHEMAS.items():
        if known_version() > schema:
            assert parts(__version__) > parts(release), (release, schema, known_version())


def test_the_schema_version_and_its_doorways_are_recorded(lib):
    from doorways_tui import __version__
    from doorways_tui.store.migrations import known_version, needed_doorways, schema_version

    assert schema_version(lib.db) == known_version() == lib.db.scalar("PRAGMA user_version")
    assert needed_doorways(lib.db) == __version__


def test_migrate_refuses_a_newer_schema_and_writes_nothing(lib):
    from doorways_tui.store.migrations import known_version

    extra = [*MIGRATIONS, (99, "the future", "CREATE TABLE future (x)")]
    migrate(lib.db, extra)
    before = lib.db.scalar("SELECT COUNT(*) FROM schema_migrations")
    with pytest.raises(
        StoreError, match=rf"schema version 99, newer .* knows \({known_version()}\)"
    ):
        migrate(lib.db)  # this Doorways, which stops at known_version()
    assert lib.db.scalar("SELECT COUNT(*) FROM schema_migrations") == before


def test_a_read_only_open_creates_and_migrates_nothing(tmp_path):
    root = tmp_path / "lib"
    with pytest.raises(StoreError, match="no library at"):
        Library.open(root, readonly=True)
    assert not root.exists()
    Library.open(root).close()
    with Library.open(root, readonly=True) as lib:
        assert lib.readonly and lib.queue.jobs() == []
        with pytest.raises(StoreError, match="read-only"):
            lib.history.log_event("hello")


@pytest.mark.parametrize(
    "stored",
    [
        "/etc/passwd",
        "../outside.png",
        "images/../../outside.png",
        "images/../library.db",
        "library.db",
        ".",
        "",
        "images/a\0.png",
        "elsewhere/x.png",
        None,
    ],
)
def test_a_stored_path_that_leads_outside_the_library_is_refused(tmp_path, stored):
    from doorways_tui.store.files import library_path, library_path_or_none

    with pytest.raises(StoreError):
        library_path(tmp_path, stored)
    assert library_path_or_none(tmp_path, stored) is None


def test_a_stored_path_may_not_leave_through_a_symlink_below_images(tmp_path):
    from doorways_tui.store.files import library_path

    root, outside = tmp_path / "lib", tmp_path / "outside"
    (root / "images").mkdir(parents=True)
    outside.mkdir()
    assert library_path(root, "images/v000001/j1.png") == root / "images/v000001/j1.png"
    (root / "images" / "v000002").symlink_to(outside)
    with pytest.raises(StoreError, match="symlink"):
        library_path(root, "images/v000002/j1.png")
    (root / "checkpoints").symlink_to(outside)  # the owner moved a whole folder: allowed
    assert library_path(root, "checkpoints/job-1.pt") == root / "checkpoints/job-1.pt"


def test_requeue_gone_is_a_plain_read_until_a_worker_here_is_gone(lib, monkeypatch):
    """The app's poll calls it every second: with every worker alive it must not take the
    write lock (other processes' writes would wait on it); a dead worker's job goes back."""
    import os

    jobs = seed_jobs(lib, 2)
    lib.workers.register("alive", device="cpu", pid=os.getpid())
    lib.workers.register("dead", device="cpu", pid=999_999_999)
    lib.claims.claim_job("alive")
    lib.db.execute(  # the dead worker's claim, made without the requeue a claim would do
        "UPDATE jobs SET status = 'running', worker_id = 'dead', attempts = 1, heartbeat = ?"
        " WHERE id = ?",
        (lib.clock(), jobs[1].id),
    )
    real_write = lib.db.write
    writes = []

    def counted_write():
        writes.append(1)
        return real_write()

    monkeypatch.setattr(lib.db, "write", counted_write)
    lib.db.execute("UPDATE workers SET pid = ? WHERE id = 'dead'", (os.getpid(),))
    writes.clear()
    assert lib.claims.requeue_gone() == [] and writes == []
    lib.db.execute("UPDATE workers SET pid = 999999999 WHERE id = 'dead'")
    writes.clear()
    assert lib.claims.requeue_gone() == [jobs[1].id] and writes == [1]
    assert lib.queue.job(jobs[1].id).status == "queued"
    assert lib.queue.job(jobs[0].id).status == "running"
    lib.close()
    with Library.open(lib.root, readonly=True) as looking:
        assert looking.claims.requeue_gone() == []
