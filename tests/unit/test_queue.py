"""The queue CLI (``queue add|list|cancel|retry``, ``status``) and the queue under contention."""

from __future__ import annotations

import json
import sqlite3

import pytest

from doorways_engine.config import SQLITE_INT_MAX
from doorways_tui.cli.queue import parse_seeds
from doorways_tui.store import Library, StoreError
from doorways_tui.store.files import atomic_write_bytes, checkpoint_relpath
from tests.fixtures_store import TINY, finish_fake, seed_jobs
from tests.queue_shared import (
    TINY_ARGS,
    cli,
    root,  # noqa: F401  (fixtures)
)

# -- seeds ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seeds"),
    [
        ("1-8", list(range(1, 9))),
        ("1,5,9", [1, 5, 9]),
        ("0-2, 10", [0, 1, 2, 10]),
        ("3,3,1-3", [3, 1, 2]),
    ],
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "8-1", "1-", "0-20000"])
def test_parse_seeds_rejects(text):
    with pytest.raises(StoreError):
        parse_seeds(text)


@pytest.mark.parametrize("top", [SQLITE_INT_MAX - 1, SQLITE_INT_MAX])
def test_a_reroll_past_the_largest_seed_queues_nothing(root, top):
    """Seeds go up from the variant's largest: the second (or first) is past what SQLite
    holds. One line, and not even the seeds before it are queued."""
    with Library.open(root) as lib:
        variant = lib.tree.root_variant(theme_id=lib.tree.add_theme("doors").id, prompt="a door")
        (job,) = lib.queue.queue_jobs(variant.id, [top], TINY)
        with pytest.raises(StoreError, match=rf"nothing queued: seed must .*, got {2**63}$"):
            lib.queue.reroll(job_id=job.id, n=2)
        assert [j.seed for j in lib.queue.jobs()] == [top]


@pytest.mark.parametrize("bad", [2**63, -1, True, 1.5, "7"])
def test_every_seed_queued_is_checked_not_only_the_first(root, bad):
    with Library.open(root) as lib:
        variant = lib.tree.root_variant(theme_id=lib.tree.add_theme("doors").id, prompt="a door")
        with pytest.raises(StoreError, match=r"nothing queued: seed must be a whole number"):
            lib.queue.queue_jobs(variant.id, [0, bad], TINY)
        assert lib.queue.jobs() == []


# -- queue add / list / cancel / retry -------------------------------------------------------


def test_queue_add_stores_full_config_per_seed(capsys, root):
    code, out, _ = cli(
        capsys,
        root,
        "queue", "add", "entrance to heaven | entrance to hell", "--seeds", "1-8",
        "--style", "by James Gurney", "--panorama", "cosine", "--edge-symmetry", "0.5",
        "--priority", "2", "--theme", "heaven and hell", *TINY_ARGS,
    )  # fmt: skip
    assert code == 0 and "queued 8 job(s) [1-8]" in out
    with Library.open(root) as lib:
        jobs = sorted(lib.queue.jobs(), key=lambda j: j.id)
        assert [j.seed for j in jobs] == list(range(1, 9))
        cfg = jobs[3].config_dict()
        assert (cfg["seed"], cfg["panorama"], cfg["edge_symmetry"], cfg["vqgan"]) == (
            4,
            "cosine",
            0.5,
            "demo",
        )
        assert (cfg["width"], cfg["steps"], cfg["style"]) == (64, 4, "by James Gurney")
        assert {j.priority for j in jobs} == {2} and {j.total for j in jobs} == {4}
        (theme,) = lib.tree.themes()
        assert theme.name == "heaven and hell"
        (node,) = lib.tree.nodes(theme.id)
        assert (node.prompt, node.queued) == ("entrance to heaven | entrance to hell", 8)
    # The same prompt again grows the same node; --variant queues onto a node by id.
    cli(capsys, root, "queue", "add", "entrance to heaven | entrance to hell", "--seeds", "9",
        "--style", "by James Gurney", "--theme", "heaven and hell", *TINY_ARGS)  # fmt: skip
    code, out, _ = cli(
        capsys, root, "queue", "add", "--variant", "1", "--seeds", "20,21", *TINY_ARGS
    )
    assert code == 0
    with Library.open(root) as lib:
        assert lib.tree.nodes(1)[0].queued == 11
        assert lib.queue.jobs()[0].config_dict()["style"] == "by James Gurney"


def test_queue_add_rejects_bad_options_without_queueing(capsys, root):
    code, _, err = cli(capsys, root, "queue", "add", "door", "--cutn", "0", *TINY_ARGS[:4])
    assert code == 2 and "cutn" in err and "Traceback" not in err
    code, _, err = cli(capsys, root, "queue", "add", "door", "--seeds", "5-1", *TINY_ARGS)
    assert code == 2 and "backwards" in err
    code, _, err = cli(capsys, root, "queue", "add", "--variant", "42", *TINY_ARGS)
    assert code == 2 and "no variant 42" in err
    with Library.open(root) as lib:
        assert lib.queue.jobs() == []


def test_queue_list_cancel_retry(capsys, root):
    cli(capsys, root, "queue", "add", "a door in the sky", "--seeds", "1-4", *TINY_ARGS)
    with Library.open(root) as lib:
        running = lib.claims.claim_job("w1")
        lib.claims.update_progress(running.id, "w1", step=2, total=4, it_per_s=3.5, eta_s=1.0)
        lib.claims.claim_job("w1")
        lib.claims.fail_job(2, "w1", "out of memory: try fewer cutouts")
    code, out, _ = cli(capsys, root, "queue", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[:5] == ["1", "running", "0", "1", "2/4"]
    assert [ln.split()[1] for ln in lines[2:5]] == ["queued", "queued", "failed"]
    assert "try fewer cutouts" in out and "1 running, 2 queued, 0 done, 1 failed" in out
    code, out, _ = cli(capsys, root, "queue", "list", "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["id"], r["status"]) for r in rows] == [
        (1, "running"),
        (3, "queued"),
        (4, "queued"),
        (2, "failed"),
    ]
    assert rows[0]["prompt"] == "a door in the sky" and rows[0]["it_per_s"] == 3.5

    code, out, _ = cli(capsys, root, "queue", "cancel", "3", "1")
    assert code == 0 and "job 3 cancelled" in out and "job 1 cancelled" in out
    code, out, _ = cli(capsys, root, "queue", "retry", "--failed", "3")
    assert code == 0 and "job 2 queued again" in out and "job 3 queued again" in out
    code, _, err = cli(capsys, root, "queue", "retry", "4")
    assert code == 2 and "job 4 is queued" in err
    code, _, err = cli(capsys, root, "queue", "cancel", "99")
    assert code == 2 and "no job 99" in err
    code, out, _ = cli(capsys, root, "queue", "list", "--status", "cancelled", "--json")
    assert [json.loads(line)["id"] for line in out.splitlines()] == [1]
    with Library.open(root) as lib:
        assert {j.id: j.status for j in lib.queue.jobs()} == {
            1: "cancelled",
            2: "queued",
            3: "queued",
            4: "queued",
        }
    code, out, _ = cli(capsys, root, "queue", "cancel", "--all-queued")
    assert out == "cancelled 3 queued job(s)\n"


def test_status_shows_workers_queue_and_throughput(capsys, root):
    with Library.open(root) as lib:
        jobs = seed_jobs(lib, 3)
        lib.workers.register("alive-1", device="cuda:1")
        lib.workers.register("dead-1", device="cuda:0", pid=999_999_999)
        finish_fake(lib, lib.claims.claim_job("alive-1"), "alive-1")
        lib.claims.claim_job("alive-1")
        lib.claims.update_progress(jobs[1].id, "alive-1", step=5, total=12)
    code, out, _ = cli(capsys, root, "status")
    assert code == 0
    assert "1 running, 1 queued, 1 done" in out
    assert "1 job(s) done over the last 1 min" in out  # not "per hour" from a minute
    alive_line = next(line for line in out.splitlines() if line.startswith("alive-1"))
    assert "cuda:1" in alive_line and "running" in alive_line and "5/12" in alive_line
    dead_line = next(line for line in out.splitlines() if line.startswith("dead-1"))
    assert "dead" in dead_line.split("cuda:0")[1]  # same host, process gone
    code, out, _ = cli(capsys, root, "status", "--json")
    data = json.loads(out)
    assert {w["id"]: w["alive"] for w in data["workers"]} == {"alive-1": True, "dead-1": False}
    assert data["queue"]["done"] == 1 and data["jobs_per_hour"] == pytest.approx(60.0, rel=0.05)


# -- several processes on one library ---------------------------------------------------------


def _item(**kw):
    from doorways_tui.store import QueueItem

    base = dict(id=4321, variant_id=1, seed=987654, status="running", priority=3, attempts=0)
    base |= dict(error=None, step=50, total=300, it_per_s=2.5, eta_s=100.0)
    base |= dict(worker_id="host:123", created=0.0, started=0.0, finished=None, prompt="a door")
    return QueueItem(**(base | kw))


@pytest.mark.parametrize("width", [80, 60])
def test_queue_table_keeps_id_status_and_seed_with_a_long_prompt(width):
    from rich.console import Console

    from doorways_tui.cli.queue import queue_table

    items = [
        _item(prompt="x" * 300),
        _item(id=4322, status="failed", seed=555, error="boom " * 60, it_per_s=None),
    ]
    console = Console(width=width, record=True, color_system=None)
    console.print(queue_table(items))
    text = console.export_text()
    assert "4321" in text and "4322" in text
    assert "running" in text and "failed" in text
    assert "987654" in text and "555" in text
    assert all(len(line) <= width for line in text.splitlines())


# -- bad library paths ---------------------------------------------------------------------


def test_a_file_as_library_is_one_line_error(capsys, tmp_path):
    afile = tmp_path / "passwd"
    afile.write_text("root:x:0:0\n")
    for args in (["status"], ["queue", "list"], ["queue", "add", "a door"]):
        code, out, err = cli(capsys, afile, *args)
        assert code == 2
        assert err.strip() == f"doorways: error: {afile} is a file, not a library folder"


def test_an_uncreatable_library_is_one_line_error(capsys, tmp_path):
    afile = tmp_path / "passwd"
    afile.write_text("x")
    code, out, err = cli(capsys, afile / "lib", "queue", "add", "a door")
    assert code == 2
    assert err.startswith(f"doorways: error: cannot create library at {afile / 'lib'}: ")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "args", [["status"], ["queue", "list"], ["queue", "cancel", "1"], ["export", "--starred", "x"]]
)
def test_read_only_commands_refuse_a_missing_library(capsys, tmp_path, args):
    missing = tmp_path / "typo"
    code, out, err = cli(capsys, missing, *args)
    assert code == 2
    assert f"no library at {missing}" in err and "queue add" in err
    assert not missing.exists()


def test_queue_add_creates_a_missing_library(capsys, tmp_path):
    root = tmp_path / "new"
    code, out, err = cli(capsys, root, "queue", "add", "a door", *TINY_ARGS)
    assert code == 0, err
    assert (root / "library.db").is_file()


def test_status_shows_a_killed_worker_as_dead_without_a_job_and_prunes_it(capsys, root):
    with Library.open(root) as lib:
        jobs = seed_jobs(lib, 1)
        lib.workers.register("killed", device="cuda:0", pid=999_999_999)
        lib.claims.claim_job("killed")
        lib.claims.update_progress(jobs[0].id, "killed", step=5, total=12)
        lib.db.execute("UPDATE workers SET current_job = ?, state = 'running'", (jobs[0].id,))
    code, out, _ = cli(capsys, root, "status")
    line = next(line for line in out.splitlines() if line.startswith("killed"))
    assert "dead" in line and "stale" not in line and "5/12" not in line
    code, out, _ = cli(capsys, root, "status", "--prune")
    assert code == 0 and "forgot 1" in out
    assert not any(line.startswith("killed") for line in out.splitlines())


def test_status_and_queue_list_say_a_job_of_a_gone_worker_is_not_really_running(capsys, root):
    """They only look (read-only), so the job is still stored as running: they say its
    worker's process is gone here and that a writer requeues it, and change nothing."""
    import os

    with Library.open(root) as lib:
        jobs = seed_jobs(lib, 2)
        lib.workers.register("killed", device="cuda:0", pid=999_999_999)
        lib.workers.register("alive", device="cuda:1", pid=os.getpid())
        lib.claims.claim_job("alive")
        lib.db.execute(  # the killed worker's claim, made without the requeue a claim does
            "UPDATE jobs SET status = 'running', worker_id = 'killed', attempts = 1,"
            " heartbeat = ? WHERE id = ?",
            (lib.clock(), jobs[1].id),
        )
    gone = (
        "running (worker killed, pid 999999999, gone; requeued when the app or a worker"
        " next looks)"
    )
    code, out, _ = cli(capsys, root, "queue", "list")
    assert code == 0
    table = {line.split()[0]: line for line in out.splitlines()[1:3]}
    assert "running (gone)" in table[str(jobs[1].id)]
    assert "gone" not in table[str(jobs[0].id)] and "running" in table[str(jobs[0].id)]
    assert f"job {jobs[1].id}: {gone}" in out
    code, out, _ = cli(capsys, root, "queue", "list", "--json")
    rows = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert rows[jobs[1].id]["worker_gone"] is True and rows[jobs[1].id]["status"] == "running"
    assert "worker_gone" not in rows[jobs[0].id]
    code, out, _ = cli(capsys, root, "status")
    assert code == 0 and f"job {jobs[1].id}: {gone}" in out
    code, out, _ = cli(capsys, root, "status", "--json")
    assert json.loads(out)["gone_jobs"] == [
        {"job": jobs[1].id, "worker": "killed", "pid": 999_999_999}
    ]
    with Library.open(root, readonly=True) as lib:  # only looked
        assert lib.queue.job(jobs[1].id).status == "running"


def test_queue_eta_counts_running_progress_and_workers():
    from doorways_tui.cli.status import queue_eta

    assert queue_eta(4, [], 30.0, 2) == 60.0
    # half of a running job is left, and it shrinks as the job runs
    assert queue_eta(4, [0.5], 30.0, 2) == 67.5
    assert queue_eta(4, [0.9], 30.0, 2) < queue_eta(4, [0.5], 30.0, 2)
    assert queue_eta(0, [0.5], 30.0, 1) == 15.0
    assert queue_eta(4, [], None, 2) is None and queue_eta(4, [], 30.0, 0) is None


def test_queue_add_checks_image_files_and_stores_absolute_paths(capsys, root, tmp_path):
    from PIL import Image

    code, out, err = cli(capsys, root, "queue", "add", "a door", "--init-image", "/nope/x.png")
    assert code == 2 and "--init-image /nope/x.png: does not exist" in err
    code, out, err = cli(capsys, root, "queue", "add", "a door", "--image-prompt", str(tmp_path))
    assert code == 2 and "is a folder, not an image" in err
    Image.new("RGB", (8, 8)).save(tmp_path / "ok.png")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(tmp_path)
    try:
        code, out, err = cli(
            capsys, root, "queue", "add", "a door", "--image-prompt", "ok.png:0.5", *TINY_ARGS
        )
    finally:
        monkeypatch.undo()
    assert code == 0, err
    with Library.open(root) as lib:
        (job,) = lib.queue.jobs(status="queued")
        assert json.loads(job.config)["image_prompts"] == [f"{tmp_path / 'ok.png'}:0.5"]


# -- large queues: asked for, and cancelled or undone in one statement ------------------------


def test_queue_add_of_many_seeds_asks_for_yes(capsys, root):
    code, out, err = cli(capsys, root, "queue", "add", "a door", "--seeds", "0-600", *TINY_ARGS)
    assert code == 2 and out == ""
    assert err == (
        "doorways: error: this would queue 601 jobs (more than 500 at once); nothing queued:"
        " add --yes to queue them\n"
    )
    assert not root.exists()
    code, out, _ = cli(capsys, root, "queue", "add", "a door", "--seeds", "0-499", *TINY_ARGS)
    assert code == 0 and "queued 500 job(s)" in out  # at the threshold: no question
    code, out, _ = cli(
        capsys, root, "queue", "add", "a door", "--seeds", "500-1100", "--yes", *TINY_ARGS
    )
    assert code == 0 and "queued 601 job(s)" in out


def test_theme_queue_asks_before_more_than_500_new_jobs(capsys, root):
    # One doorway word: 33 sets x 4 modifiers = 132 variants.
    args = ("theme", "queue", "doorways", "--models", "demo", "--doorways", "gate")
    code, out, err = cli(capsys, root, *args, "--seeds", "4")  # 132 variants x 4 = 528
    assert code == 2
    (line,) = err.splitlines()
    assert line == (
        "doorways: error: this would queue 528 jobs (more than 500 at once); nothing queued:"
        " add --yes to queue them"
    )
    with Library.open(root) as lib:
        assert lib.queue.jobs() == []
    code, out, _ = cli(capsys, root, *args, "--seeds", "4", "--dry-run")
    assert code == 0 and "would add 132 new variants and 528 jobs" in out
    code, out, _ = cli(capsys, root, *args, "--seeds", "4", "--yes")
    assert code == 0 and "added 132 new variants and 528 jobs" in out
    code, out, _ = cli(capsys, root, *args, "--seeds", "7")  # only 396 of the 924 are new
    assert code == 0 and "396 jobs (528 already in the library)" in out


def test_cancel_all_queued_is_one_transaction(root):
    with Library.open(root) as lib:
        jobs = seed_jobs(lib, 50)
        running = lib.claims.claim_job("w1")
        statements: list[str] = []
        lib.db.conn.set_trace_callback(statements.append)
        assert lib.queue.cancel_queued() == 49
        lib.db.conn.set_trace_callback(None)
        assert sum(s.startswith("BEGIN") for s in statements) == 1
        assert len(statements) < 10  # a few statements, not one per job
        assert lib.queue.job(running.id).status == "running"
        assert {lib.queue.job(j.id).status for j in jobs if j.id != running.id} == {"cancelled"}
        assert lib.queue.cancel_queued() == 0


def test_cancel_all_queued_removes_their_checkpoints(root):
    with Library.open(root) as lib:
        (job,) = seed_jobs(lib, 1)
        claimed = lib.claims.claim_job("w1")
        rel = checkpoint_relpath(claimed.id)
        atomic_write_bytes(lib.abspath(rel), b"state")
        lib.claims.set_checkpoint(claimed.id, "w1", path=rel, step=3)
        lib.claims.release_job(claimed.id, "w1", reason="stopping")  # queued again, resumes at 3
        assert lib.queue.job(job.id).status == "queued" and lib.abspath(rel).exists()
        assert lib.queue.cancel_queued() == 1
        assert not lib.abspath(rel).exists() and lib.queue.job(job.id).checkpoint is None


def test_cancel_all_queued_from_the_cli_prints_one_line(capsys, root):
    with Library.open(root) as lib:
        seed_jobs(lib, 1200)
    code, out, _ = cli(capsys, root, "queue", "cancel", "--all-queued")
    assert code == 0 and out == "cancelled 1200 queued job(s)\n"
    with Library.open(root) as lib:
        assert lib.queue.counts().cancelled == 1200


def _large_spawn(lib: Library, n: int) -> tuple[list[int], int]:
    """``n`` queued jobs of a new child variant, recorded as one undo step (as a theme
    queue or a spawn records them); SQLite's default variable limit on the connection."""
    lib.db.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32766)  # builds differ
    (root_job,) = seed_jobs(lib, 1)
    child = lib.tree.add_variant(
        prompt="door", parent_id=root_job.variant_id, edit_kind="modifier", undoable=False
    )
    first = root_job.id + 1
    with lib.transaction() as conn:  # the rows as queue_jobs writes them, without its cost
        conn.executemany(
            "INSERT INTO jobs(id, variant_id, seed, config, priority, total, created)"
            " VALUES (?, ?, ?, '{}', 0, 1, 0)",
            ((first + seed, child.id, seed) for seed in range(n)),
        )
    ids = list(range(first, first + n))
    lib.queue.record_spawn_undo(ids, variant_id=child.id)
    return ids, child.id


def test_undo_of_a_spawn_beyond_sqlites_variable_limit(root):
    with Library.open(root) as lib:
        ids, child = _large_spawn(lib, 40_000)
        started = lib.claims.claim_job("w1")  # the root job; then one of the spawn
        started = lib.claims.claim_job("w1")
        result = lib.history.undo()
        assert result.summary == "cancelled 39999 queued job(s)"
        assert len(result.job_ids) == 39_999 and started.id not in result.job_ids
        assert lib.queue.counts().queued == 0 and lib.queue.job(started.id).status == "running"
        assert lib.tree.variant(child) is not None  # a job of it still runs: the variant stays


def test_undo_of_a_large_spawn_drops_its_unused_variant(root):
    with Library.open(root) as lib:
        ids, child = _large_spawn(lib, 40_000)
        result = lib.history.undo()
        assert result.variant_id == child and len(result.job_ids) == 40_000
        with pytest.raises(StoreError):
            lib.tree.variant(child)


def test_queue_add_refuses_models_that_are_not_downloaded(capsys, root, tmp_path, monkeypatch):
    """As ``theme queue`` does: jobs on models not downloaded would all fail seconds after a
    worker took them. The same flag queues anyway; ``--models demo`` needs no download."""
    monkeypatch.setenv("DOORWAYS_MODEL_DIR", str(tmp_path / "no-models"))
    args = ("queue", "add", "a door", "--size", "64x64", "--steps", "4")
    code, out, err = cli(capsys, root, *args)
    assert (code, out) == (2, "")
    assert err.startswith(
        "doorways: error: VQGAN vqgan_imagenet_f16_16384 is not downloaded yet: run"
        " `doorways models fetch vqgan_imagenet_f16_16384`"
    )
    assert err.endswith("; nothing queued (--allow-missing-models queues anyway)\n")
    assert "--models demo" in err and len(err.splitlines()) == 1
    with Library.open(root) as lib:
        assert (lib.queue.jobs(), lib.tree.themes()) == ([], [])
    code, out, _ = cli(capsys, root, *args, "--allow-missing-models")
    assert code == 0 and out.startswith("queued 1 job(s) [1]")
    assert "warning: VQGAN vqgan_imagenet_f16_16384 is not downloaded yet" in out
    code, _, err = cli(capsys, root, "queue", "add", "--variant", "1", "--seeds", "5")
    assert code == 2 and "not downloaded" in err
    code, out, _ = cli(
        capsys, root, "queue", "add", "--variant", "1", "--seeds", "5", "--models", "demo"
    )
    assert code == 0 and "warning" not in out
    with Library.open(root) as lib:
        assert sorted(j.seed for j in lib.queue.jobs()) == [0, 5]


def test_retry_failed_with_nothing_failed_says_so(capsys, root):
    cli(capsys, root, "queue", "add", "a door", *TINY_ARGS)
    code, out, err = cli(capsys, root, "queue", "retry", "--failed")
    assert (code, out, err) == (0, "no failed jobs to retry\n", "")
    code, _, err = cli(capsys, root, "queue", "retry")
    assert code == 2 and "needs job ids (or --failed)" in err
    with Library.open(root) as lib:
        assert [j.status for j in lib.queue.jobs()] == ["queued"]


@pytest.mark.parametrize(
    ("step", "it_per_s", "eta_s", "shown"),
    [
        (0, None, None, "0/40 · starting"),
        (0, 0.0, 0.0, "0/40 · starting"),  # the engine's "no rate yet"
        (7, 0.0, 0.0, "7/40"),  # steps done (or resumed from a checkpoint), no rate yet
        (7, None, None, "7/40"),
        (7, 2.5, 13.2, "7/40 · 2.5 it/s · ETA 13s"),
        (40, 2.5, 0.0, "40/40 · 2.5 it/s · ETA 0s"),
    ],
)
def test_a_running_jobs_stats_say_starting_only_before_a_step_and_no_eta_without_a_rate(
    step, it_per_s, eta_s, shown
):
    from doorways_tui.tui.widgets.job_row import stats_text

    assert stats_text(_item(step=step, total=40, it_per_s=it_per_s, eta_s=eta_s)) == shown
