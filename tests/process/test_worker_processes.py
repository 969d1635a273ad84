"""Workers as real processes on one library: sharing, kill -9, SIGTERM, SIGSTOP, --detach."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from doorways_engine.fetch import sha256_file
from doorways_tui.store import Library
from tests.fixtures_store import CLI, ROOT, TINY, doorways, seed_jobs, subprocess_env

pytestmark = pytest.mark.slow  # each starts real worker processes (torch import, model load)


@pytest.fixture
def lib(tmp_path) -> Library:
    library = Library.open(tmp_path / "lib")
    yield library
    library.close()


def start_worker(lib: Library, log: Path, *args: str) -> subprocess.Popen:
    """A ``doorways worker`` process on the library, its output in ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                CLI,
                "--library",
                str(lib.root),
                "worker",
                "--device",
                "cpu",
                *args,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=subprocess_env(lib.root),
            cwd=ROOT,
        )


def wait_for(predicate, *, timeout: float, what: str, procs=()) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        for p in procs:
            assert p.poll() is None, f"worker exited early ({p.returncode}) waiting for {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(10)


def test_two_workers_claim_each_of_20_jobs_exactly_once(lib, tmp_path):
    jobs = seed_jobs(lib, 20, config={**TINY, "steps": 1, "preview_every": 0})
    args = ("--exit-when-idle", "--poll", "0.05")
    a = start_worker(lib, tmp_path / "a.log", "--worker-id", "a", *args)
    b = start_worker(lib, tmp_path / "b.log", "--worker-id", "b", *args)
    try:
        assert a.wait(180) == 0, (tmp_path / "a.log").read_text()
        assert b.wait(180) == 0, (tmp_path / "b.log").read_text()
    finally:
        stop(a, b)
    done = lib.queue.jobs(status="done")
    assert sorted(j.id for j in done) == [j.id for j in jobs]
    assert all(j.attempts == 1 and j.worker_id in ("a", "b") for j in done)
    claims = Counter(e.payload()["job_id"] for e in lib.history.events(kind="job_claimed"))
    assert claims == Counter({j.id: 1 for j in jobs})
    images = lib.images.images()
    assert sorted(i.job_id for i in images) == [j.id for j in jobs]
    for image in images:
        assert sha256_file(lib.abspath(image.path)) == image.sha256
    assert sum(lib.workers.get(w).jobs_done for w in ("a", "b")) == 20
    assert {lib.workers.get(w).state for w in ("a", "b")} == {"stopped"}


def test_kill_9_mid_job_then_another_worker_resumes_from_the_checkpoint(lib, tmp_path):
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 16, "preview_every": 2})
    first = start_worker(lib, tmp_path / "first.log", "--worker-id", "first")
    try:
        wait_for(
            lambda: (lib.queue.job(job.id).checkpoint_step or 0) >= 4,
            timeout=120,
            what="a checkpoint",
            procs=[first],
        )
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    orphan = lib.queue.job(job.id)
    assert orphan.status == "running" and orphan.worker_id == "first" and orphan.step < 16
    at = orphan.checkpoint_step
    assert lib.abspath(orphan.checkpoint).is_file()
    # Its heartbeat is now older than any --stale-after (the shortest is 30 s).
    lib.db.execute("UPDATE jobs SET heartbeat = heartbeat - 3600 WHERE id = ?", (job.id,))
    second_log = tmp_path / "second.log"
    second = start_worker(lib, second_log, "--worker-id", "second", "--max-jobs", "1")
    try:
        assert second.wait(180) == 0, second_log.read_text()
    finally:
        stop(second)
    done = lib.queue.job(job.id)
    assert (done.status, done.worker_id, done.attempts, done.step) == ("done", "second", 2, 16)
    assert f"job {job.id}: resuming from step {at}" in second_log.read_text()
    requeued = [e.payload() for e in lib.history.events(kind="job_requeued")]
    # its process is gone on this host: requeued at the first claim, not after --stale-after
    assert requeued == [
        {"job_id": job.id, "reason": "worker gone", "status": "queued", "from_step": at}
    ]
    (image,) = lib.images.images_for_job(job.id)  # one final, the preview gone
    assert image.kind == "final" and sha256_file(lib.abspath(image.path)) == image.sha256
    assert not any(lib.abspath("checkpoints").iterdir())
    assert [p.name for p in lib.abspath("images").rglob("*.png")] == [Path(image.path).name]


def test_sigterm_stops_after_the_step_and_requeues_with_the_latent(lib, tmp_path):
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 500, "preview_every": 0})
    log = tmp_path / "w.log"
    worker = start_worker(lib, log, "--worker-id", "w")
    try:
        wait_for(lambda: lib.queue.job(job.id).step >= 2, timeout=120, what="progress", procs=[worker])
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, log.read_text()
    finally:
        stop(worker)
    back = lib.queue.job(job.id)
    assert (back.status, back.worker_id, back.attempts) == ("queued", None, 0)
    assert back.checkpoint_step is not None and back.checkpoint_step >= 2
    assert back.step == back.checkpoint_step and lib.abspath(back.checkpoint).is_file()
    assert lib.workers.get("w").state == "stopped"
    assert [e.payload()["reason"] for e in lib.history.events(kind="job_requeued")] == ["worker stopping"]
    assert "put back in the queue" in log.read_text()


def freeze(proc: subprocess.Popen, lib: Library) -> None:
    """SIGSTOP the worker, but never while it holds the library's write lock (a frozen
    writer would stall every other worker: SQLite has no way round that)."""
    for _ in range(100):
        os.kill(proc.pid, signal.SIGSTOP)
        probe = sqlite3.connect(lib.root / "library.db", timeout=0.5, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            os.kill(proc.pid, signal.SIGCONT)
            time.sleep(0.05)
        finally:
            probe.close()
    raise AssertionError("the worker always held the write lock")


def test_a_frozen_worker_that_wakes_after_a_takeover_overwrites_nothing(lib, tmp_path):
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 40, "preview_every": 2})
    a_log = tmp_path / "a.log"
    a = start_worker(lib, a_log, "--worker-id", "a")
    b = None
    try:
        wait_for(
            lambda: (lib.queue.job(job.id).checkpoint_step or 0) >= 2,
            timeout=120,
            what="a checkpoint",
            procs=[a],
        )
        freeze(a, lib)
        lib.db.execute("UPDATE jobs SET heartbeat = 0 WHERE id = ?", (job.id,))  # gone stale
        b_log = tmp_path / "b.log"
        b = start_worker(lib, b_log, "--worker-id", "b", "--max-jobs", "1")
        assert b.wait(180) == 0, b_log.read_text()
        assert (lib.queue.job(job.id).status, lib.queue.job(job.id).worker_id) == ("done", "b")
        os.kill(a.pid, signal.SIGCONT)
        wait_for(
            lambda: "no longer ours" in a_log.read_text(),
            timeout=60,
            what="A to drop the job",
            procs=[a],
        )
        a.send_signal(signal.SIGTERM)
        assert a.wait(60) == 0, a_log.read_text()
    finally:
        stop(a, *([b] if b else []))
    (image,) = lib.images.images_for_job(job.id)
    assert sha256_file(lib.abspath(image.path)) == image.sha256
    assert [p.name for p in lib.abspath("images").rglob("*") if p.is_file()] == [
        Path(image.path).name
    ]
    assert not any(lib.abspath("checkpoints").iterdir())
    assert list(lib.root.rglob("*.tmp")) == []


def test_a_second_signal_gives_the_job_back_at_once(lib, tmp_path):
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 500, "preview_every": 0})
    log = tmp_path / "w.log"
    worker = start_worker(lib, log, "--worker-id", "w")
    try:
        wait_for(lambda: lib.queue.job(job.id).step >= 2, timeout=120, what="progress", procs=[worker])
        freeze(worker, lib)  # so both signals are pending together: the second one lands
        worker.send_signal(signal.SIGTERM)
        worker.send_signal(signal.SIGINT)
        worker.send_signal(signal.SIGCONT)
        assert worker.wait(60) == 130, log.read_text()
    finally:
        stop(worker)
    back = lib.queue.job(job.id)
    assert (back.status, back.worker_id) == ("queued", None)
    assert lib.workers.get("w").state == "stopped"
    assert "interrupted" in log.read_text()


def test_a_job_whose_worker_was_killed_early_runs_on_an_exit_when_idle_worker(lib, tmp_path):
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 4, "preview_every": 0})
    first = start_worker(lib, tmp_path / "first.log", "--worker-id", "first")
    try:
        wait_for(
            lambda: lib.queue.job(job.id).status == "running", timeout=120, what="a claim", procs=[first]
        )
        os.kill(first.pid, signal.SIGKILL)  # while it loads its models, or soon after
        first.wait(10)
    finally:
        stop(first)
    log = tmp_path / "second.log"
    second = start_worker(lib, log, "--worker-id", "second", "--exit-when-idle")
    try:
        assert second.wait(180) == 0, log.read_text()
    finally:
        stop(second)
    done = lib.queue.job(job.id)
    assert (done.status, done.worker_id, done.attempts) == ("done", "second", 2)


def test_detach_outlives_its_terminal_and_logs_to_a_file(lib, tmp_path):
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 2, "preview_every": 0})
    out = doorways("worker", "--device", "cpu", "--detach", "--exit-when-idle", library=lib.root)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.split("pid ")[1].split()[0])
    log = Path(out.stdout.split("log: ")[1].strip())
    try:
        assert os.getsid(pid) == pid != os.getsid(0)  # its own session: no SIGHUP from us
        assert log.parent == lib.root / "logs" and log.name.startswith("worker-")
        wait_for(lambda: lib.queue.job(job.id).status == "done", timeout=120, what="the job")
        wait_for(lambda: not _running(pid), timeout=30, what="the worker to exit")
    finally:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)
    text = log.read_text()
    assert f"job {job.id}: done" in text and "stopped after 1 job" in text
    (worker,) = lib.workers.all(include_stopped=True)
    assert worker.pid == pid and worker.log_path == str(log.relative_to(lib.root))


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not ours to reap) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


POLL_ONCE = (
    "import sys; from doorways_tui.store import Library;"
    " from doorways_tui.workstation.poll import Poller;"
    " lib = Library.open(sys.argv[1]); snap = Poller(lib).snapshot();"
    " print([(q.id, q.status) for q in snap.queue]); lib.close()"
)


def test_a_killed_workers_job_is_requeued_by_the_next_poll_not_after_60_s(lib, tmp_path):
    """kill -9 mid-job: ``status`` (read-only) sees the worker dead and writes nothing; the
    app's next poll, a writer in another process, puts the job back in the queue at once."""
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 400, "preview_every": 0})
    worker = start_worker(lib, tmp_path / "w.log", "--worker-id", "doomed")
    try:
        wait_for(
            lambda: lib.queue.job(job.id).step >= 2, timeout=120, what="a step", procs=[worker]
        )
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        stop(worker)
    killed = time.monotonic()
    status = doorways("status", "--json", library=lib.root)
    assert status.returncode == 0, status.stderr
    assert '"dead": true' in status.stdout
    assert lib.queue.job(job.id).status == "running"  # a read-only look requeues nothing
    poll = subprocess.run(
        [sys.executable, "-c", POLL_ONCE, str(lib.root)],
        capture_output=True,
        text=True,
        env=subprocess_env(lib.root),
        cwd=ROOT,
        timeout=60,
    )
    assert poll.returncode == 0, poll.stderr
    assert f"({job.id}, 'queued')" in poll.stdout
    assert time.monotonic() - killed < 30  # the heartbeat is far from stale (60 s)
    requeued = lib.queue.job(job.id)
    assert (requeued.status, requeued.worker_id) == ("queued", None)
    (event,) = [e.payload() for e in lib.history.events(kind="job_requeued")]
    assert event["reason"] == "worker gone"
