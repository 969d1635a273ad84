"""The queue and the workers from the app (workstation/queue_control.py and the store's
cancel, retry and their undo): each cancel or retry is one undo step that puts the jobs
back as they were; stopping a worker signals only a live one on this machine; a second
worker on a busy device is named before it starts."""

from __future__ import annotations

import os
import signal
import sys

import pytest

from doorways_tui.store import Library, StoreError
from doorways_tui.store.files import atomic_write_bytes, checkpoint_relpath
from doorways_tui.workstation import queue_control
from doorways_tui.workstation.session import Session
from tests.fixtures_store import TINY, seed_jobs


@pytest.fixture
def lib(tmp_path):
    with Library.open(tmp_path / "lib") as library:
        yield library


def statuses(lib: Library) -> dict[int, str]:
    return {j.id: j.status for j in lib.queue.jobs()}


def fail(lib: Library, job_id: int, error: str, worker: str = "w1") -> None:
    """Claim the next job as ``worker`` and fail it (it must be ``job_id``)."""
    job = lib.claims.claim_job(worker)
    assert job is not None and job.id == job_id
    assert lib.claims.fail_job(job_id, worker, error)


def test_cancel_a_queued_run_and_undo_puts_it_back(lib):
    jobs = seed_jobs(lib, 2)
    said = queue_control.cancel_run(lib, jobs[0].id)
    assert f"cancelled job {jobs[0].id}" in said and "was queued" in said
    assert statuses(lib) == {jobs[0].id: "cancelled", jobs[1].id: "queued"}
    session = Session(lib)
    update = session.undo()
    assert update.message == f"undone: cancel job {jobs[0].id} (1 job queued again)"
    job = lib.queue.job(jobs[0].id)
    assert (job.status, job.finished, job.step) == ("queued", None, 0)


def test_cancel_a_running_run_and_undo_queues_it_without_its_attempt(lib):
    (job,) = seed_jobs(lib, 1)
    lib.claims.claim_job("w1")
    lib.claims.update_progress(job.id, "w1", step=5, total=12)
    queue_control.cancel_run(lib, job.id)
    assert not lib.workers.heartbeat("w1", job.id)  # its worker drops it
    result = lib.history.undo()
    assert result is not None and result.kind == "jobs" and result.job_ids == (job.id,)
    back = lib.queue.job(job.id)
    assert (back.status, back.worker_id, back.step, back.attempts) == ("queued", None, 0, 0)
    assert lib.claims.claim_job("w2").id == job.id  # any worker takes it again


def test_cancel_what_cannot_be_cancelled_is_one_line_and_no_step(lib):
    (job,) = seed_jobs(lib, 1)
    fail(lib, job.id, "boom")
    with pytest.raises(StoreError, match=r"is failed: nothing to cancel"):
        queue_control.cancel_run(lib, job.id)
    assert lib.history.undo() is None


def test_cancel_the_queued_jobs_of_a_variant_or_a_theme_is_one_undo_step(lib):
    theme = lib.tree.add_theme("doors")
    other = lib.tree.add_theme("gates")
    a = lib.tree.root_variant(theme_id=theme.id, prompt="a door")
    b = lib.tree.root_variant(theme_id=theme.id, prompt="a gate")
    c = lib.tree.root_variant(theme_id=other.id, prompt="an arch")
    ja = lib.queue.queue_jobs(a.id, range(3), TINY, undoable=False)
    jb = lib.queue.queue_jobs(b.id, range(2), TINY, undoable=False)
    jc = lib.queue.queue_jobs(c.id, range(2), TINY, undoable=False)
    running = lib.claims.claim_job("w1")  # ja[0]: running jobs are not "queued"
    assert running.id == ja[0].id
    # a checkpoint of a queued job goes with it
    rel = checkpoint_relpath(ja[1].id)
    atomic_write_bytes(lib.abspath(rel), b"latent")
    lib.db.execute(
        "UPDATE jobs SET checkpoint = ?, checkpoint_step = 4 WHERE id = ?", (rel, ja[1].id)
    )

    said = queue_control.cancel_queued(lib, variant_id=a.id, label="variant 'a door'")
    assert said == "cancelled 2 queued jobs in variant 'a door'; u puts them back"
    assert not lib.abspath(rel).exists()
    said = queue_control.cancel_queued(lib, theme_id=theme.id, label="prompt theme 'doors'")
    assert said.startswith("cancelled 2 queued jobs")
    assert {j.id for j in lib.queue.jobs(status="queued")} == {j.id for j in jc}
    assert queue_control.cancel_queued(lib, variant_id=a.id, label="x") == "no queued jobs in x"
    session = Session(lib)
    assert session.undo().message == "undone: cancel prompt theme 'doors' (2 jobs queued again)"
    assert {j.id for j in lib.queue.jobs(status="queued")} == {
        jb[0].id,
        jb[1].id,
        *(j.id for j in jc),
    }
    assert session.undo().message == "undone: cancel variant 'a door' (2 jobs queued again)"
    assert lib.queue.job(ja[1].id).step == 0  # its checkpoint went: it starts over
    assert lib.queue.job(running.id).status == "running"
    with pytest.raises(StoreError, match="pick a variant"):
        queue_control.cancel_queued(lib, label="nothing")


def test_retry_a_failed_run_and_undo_fails_it_again_with_its_error(lib):
    (job,) = seed_jobs(lib, 1)
    fail(lib, job.id, "CUDA out of memory\n  at step 7")
    failed = lib.queue.job(job.id)
    assert "queued again" in queue_control.retry_run(lib, job.id)
    assert lib.queue.job(job.id).status == "queued"
    assert Session(lib).undo().message == f"undone: retry job {job.id} (1 job back as they were)"
    back = lib.queue.job(job.id)
    assert (back.status, back.error, back.attempts, back.finished) == (
        "failed", failed.error, failed.attempts, failed.finished,
    )  # fmt: skip


def test_undo_of_a_retry_leaves_a_job_a_worker_took_since(lib):
    jobs = seed_jobs(lib, 2)
    fail(lib, jobs[0].id, "one")
    fail(lib, jobs[1].id, "two")
    assert queue_control.retry_failed(lib) == "2 failed jobs queued again; u puts them back"
    taken = lib.claims.claim_job("w2")
    result = lib.history.undo()
    assert result.summary == "1 job back as they were, 1 moved on since and left as they are"
    assert lib.queue.job(taken.id).status == "running"
    other = next(j for j in jobs if j.id != taken.id)
    assert lib.queue.job(other.id).status == "failed"
    assert queue_control.retry_failed(lib) == "1 failed job queued again; u puts them back"


def test_retry_of_a_queued_job_is_refused(lib):
    (job,) = seed_jobs(lib, 1)
    with pytest.raises(StoreError, match="only failed or cancelled jobs retry"):
        queue_control.retry_run(lib, job.id)
    assert queue_control.retry_failed(lib) == "no failed jobs to retry"
    assert lib.history.undo() is None


def test_the_cli_style_cancel_and_retry_stay_without_undo(lib):
    jobs = seed_jobs(lib, 2)
    lib.queue.cancel_job(jobs[0].id)
    lib.queue.retry_job(jobs[0].id)
    assert lib.queue.cancel_queued() == 2
    assert lib.history.undo() is None


def test_a_cancel_made_in_another_window_is_named_before_it_is_undone(lib):
    (job,) = seed_jobs(lib, 1)
    with Library.open(lib.root, origin="elsewhere") as other:
        queue_control.cancel_run(other, job.id)
    session = Session(lib)
    assert session.undo().message == (
        f"press u again to undo a step made elsewhere: cancel job {job.id}"
    )
    assert lib.queue.job(job.id).status == "cancelled"
    session.undo()
    assert lib.queue.job(job.id).status == "queued"


def test_failed_run_reads_the_whole_error_or_the_latest_failure(lib):
    jobs = seed_jobs(lib, 3, prompt="entrance to heaven")
    long_error = "Traceback (most recent call last):\n" + "\n".join(
        f"  line {i}" for i in range(80)
    )
    fail(lib, jobs[0].id, long_error)
    fail(lib, jobs[1].id, "second")
    run = queue_control.failed_run(lib, jobs[0].id)
    assert run.error == long_error and run.prompt == "entrance to heaven"
    assert run.title() == f"job {jobs[0].id} · seed 0 failed after 1 attempt"
    assert queue_control.failed_run(lib, jobs[2].id).job.id == jobs[1].id  # queued: the latest
    assert queue_control.failed_run(lib, None).job.id == jobs[1].id


def test_failed_run_with_no_failure_is_one_line(lib):
    (job,) = seed_jobs(lib, 1)
    with pytest.raises(StoreError, match=rf"^job {job.id} is queued; no job has failed$"):
        queue_control.failed_run(lib, job.id)


def test_stop_worker_sends_sigterm_to_a_live_worker_here_only(lib):
    sent = []
    lib.workers.register("here", device="cpu", pid=os.getpid())
    with pytest.raises(StoreError, match=rf"^pid {os.getpid()} of worker here no longer runs a"):
        queue_control.stop_worker(
            lib, "here", kill=lambda pid, sig: sent.append(pid), is_worker=lambda pid: False
        )
    said = queue_control.stop_worker(
        lib, "here", kill=lambda pid, sig: sent.append((pid, sig)), is_worker=lambda pid: True
    )
    assert sent == [(os.getpid(), signal.SIGTERM)]
    assert "asked worker here" in said and "puts its job back" in said
    lib.workers.register("far", device="cpu", pid=os.getpid(), host="gpu-box", machine="gpu-box/x")
    with pytest.raises(StoreError, match=r"runs on gpu-box, not on this machine: stop it there"):
        queue_control.stop_worker(lib, "far", kill=lambda pid, sig: sent.append(pid))
    lib.workers.register("dead", device="cpu", pid=999_999_999)
    with pytest.raises(StoreError, match=r"is not running \(its process is gone\)"):
        queue_control.stop_worker(lib, "dead", kill=lambda pid, sig: sent.append(pid))
    assert len(sent) == 1
    assert [w.id for w in queue_control.here(lib.workers.all())] == ["here"]


def test_a_busy_device_is_named_before_a_second_worker_starts(lib):
    assert queue_control.device_clash(lib, "cpu") is None
    lib.workers.register("w-a", device="cuda", pid=os.getpid())
    lib.workers.register("far", device="cuda:1", pid=os.getpid(), host="x", machine="x/y")
    assert queue_control.device_clash(lib, "cuda:1") is None  # the other is elsewhere
    warning = queue_control.device_clash(lib, "cuda:0")
    assert warning == (
        f"cuda:0 already has 1 live worker on this host: w-a on cuda (pid {os.getpid()});"
        " another one will share its memory and time"
    )
    assert queue_control.device_clash(lib, "auto") is not None  # auto would pick cuda:0
    lib.workers.register("w-a", device="cuda:2", pid=os.getpid())
    assert queue_control.device_clash(lib, "auto") is None


@pytest.mark.skipif("worker" in sys.argv, reason="this test process must not look like a worker")
def test_a_pid_that_runs_no_worker_is_told_apart():
    """The test process is no ``doorways worker``; a real one is told apart in
    tests/process/test_worker_stop.py (it is stopped)."""
    assert not queue_control.runs_a_worker(os.getpid())
