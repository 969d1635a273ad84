"""The worker's data integrity, in this process: a worker that lost its job replaces no
file, an image file the library has no row for is never replaced, a full disk ends as the
job's error, a gone worker's job is back in the queue at once, killed workers' temporary
files are swept."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest
from PIL import Image as PILImage

import doorways_tui.worker.runner as runner_module
from doorways_engine.fetch import sha256_file
from doorways_tui.store import Library
from doorways_tui.store.files import image_relpath
from doorways_tui.worker.loop import run_worker
from doorways_tui.worker.options import WorkerOptions
from doorways_tui.worker.runner import JobRunner
from tests.fixtures_store import TINY, seed_jobs
from tests.worker_shared import BatchSpy

FAST = {**TINY, "steps": 2, "preview_every": 0}


@pytest.fixture
def lib(tmp_path) -> Library:
    library = Library.open(tmp_path / "lib")
    yield library
    library.close()


@pytest.fixture(autouse=True)
def shared_models(monkeypatch, demo_models) -> None:
    """Every job gets the session's loaded demo models."""
    monkeypatch.setattr(runner_module, "load_models", lambda config, **kw: demo_models)


def options(model_dir: Path, **changes) -> WorkerOptions:
    base = dict(
        device="cpu", model_dir=model_dir, worker_id="w-test", exit_when_idle=True, poll_s=0.05
    )
    base.update(changes)
    return WorkerOptions(**base)


def runner(lib: Library, worker_id: str, model_dir: Path) -> JobRunner:
    return JobRunner(
        lib,
        worker_id,
        options=options(model_dir, worker_id=worker_id),
        should_stop=lambda: False,
        lost_jobs=set(),
    )


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.tmp")]


# -- a worker that lost its job --------------------------------------------------------------


def test_a_frozen_worker_waking_after_a_takeover_replaces_no_file(lib, model_dir, monkeypatch):
    """Worker A is frozen mid-job; its heartbeat goes stale, B takes the job over and
    finishes it; A wakes, writes a late preview and checkpoint, then its own final."""
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 4, "preview_every": 2})
    b_outcomes = []

    def froze(batch):
        if len(spy.steps) > 1:
            return  # A's later steps, or B's run: real ones
        lib.db.execute("UPDATE jobs SET heartbeat = 0")  # A froze: its heartbeat went stale
        taken = lib.claims.claim_job("b")
        assert taken is not None and taken.id == job.id
        b_outcomes.extend(runner(lib, "b", model_dir).run_batch([taken]))

    spy = BatchSpy(monkeypatch, on_step=froze)
    a = runner(lib, "a", model_dir)
    # A wakes up and runs to the end without noticing (no look at the store before its
    # steps): its callbacks write a preview and a checkpoint, and its final differs from B's.
    a._poll = lambda batch, live: None
    real_finish = a._finish

    def red_finish(job, result, models):
        result.image = PILImage.new("RGB", result.image.size, (255, 0, 0))
        return real_finish(job, result, models)

    a._finish = red_finish
    mine = lib.claims.claim_job("a")
    assert a.run_batch([mine]) == ["lost"]
    assert b_outcomes == ["done"]
    done = lib.queue.job(job.id)
    assert (done.status, done.worker_id) == ("done", "b")
    (image,) = lib.images.images_for_job(job.id)
    assert sha256_file(lib.abspath(image.path)) == image.sha256  # B's image, untouched
    assert files_under(lib.root / "images") == {image.path.removeprefix("images/")}
    assert not any((lib.root / "checkpoints").iterdir())
    assert temp_files(lib.root) == []


def test_an_old_claim_of_the_same_worker_id_writes_nothing(lib, tmp_path):
    """A worker id reused by a new process: the old process's claim has an older lease."""
    (job,) = seed_jobs(lib, 1)
    old = lib.claims.claim_job("w")
    lib.db.execute("UPDATE jobs SET heartbeat = 0")
    new = lib.claims.claim_job("w")
    assert (new.id, new.worker_id) == (old.id, "w") and new.lease == old.lease + 1
    staged = tmp_path / "lib" / "images" / ".late.tmp"
    staged.write_bytes(b"old")
    rel = image_relpath(variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="final")
    kw = dict(path=rel, step=1, width=1, height=1, sha256="x", seconds=1.0, staged=staged)
    assert lib.claims.finish_job(job.id, "w", lease=old.lease, **kw) is None
    assert not staged.exists() and not lib.abspath(rel).exists()
    assert not lib.workers.heartbeat("w", job.id, lease=old.lease)
    assert not lib.claims.update_progress(job.id, "w", step=1, total=2, lease=old.lease)
    assert not lib.claims.fail_job(job.id, "w", "late", lease=old.lease)
    still = lib.queue.job(job.id)
    assert (still.status, still.worker_id, still.lease) == ("running", "w", new.lease)


# -- files the library has no row for ---------------------------------------------------------


def test_an_image_file_without_a_row_is_never_replaced(lib, model_dir):
    """A file left at a job's final and preview paths (an older library in this folder)."""
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 4, "preview_every": 2})
    leftovers = {}
    for kind in ("final", "preview"):
        rel = image_relpath(variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind=kind)
        lib.abspath(rel).parent.mkdir(parents=True, exist_ok=True)
        lib.abspath(rel).write_bytes(f"an older library's {kind}".encode())
        leftovers[rel] = lib.abspath(rel).read_bytes()
    assert run_worker(lib, options(model_dir), install_signals=False) == 1
    for rel, data in leftovers.items():
        assert lib.abspath(rel).read_bytes() == data
    (image,) = lib.images.images_for_job(job.id)
    assert image.path.endswith("-final-2.png") and image.path not in leftovers
    assert sha256_file(lib.abspath(image.path)) == image.sha256
    assert files_under(lib.root / "images") == {
        p.removeprefix("images/") for p in [*leftovers, image.path]
    }


# -- a full disk ------------------------------------------------------------------------------


def _enospc(*_args, **_kw):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_writing_the_final_fails_the_job_with_the_reason(lib, model_dir, monkeypatch):
    first, second = seed_jobs(lib, 2, config=FAST)
    real_save = PILImage.Image.save
    calls = []

    def save(self, fp, *args, **kw):
        calls.append(fp)
        if len(calls) == 1:  # the first final: half written, then the disk is full
            Path(fp).write_bytes(b"\x89PNG half")
            _enospc()
        return real_save(self, fp, *args, **kw)

    monkeypatch.setattr(PILImage.Image, "save", save)
    assert run_worker(lib, options(model_dir), install_signals=False) == 2
    failed = lib.queue.job(first.id)
    assert failed.status == "failed" and failed.error.startswith("disk full writing images/")
    assert "-final.png" in failed.error
    assert lib.queue.job(second.id).status == "done"
    assert lib.images.images_for_job(first.id) == []
    assert temp_files(lib.root) == []
    assert lib.workers.get("w-test").state == "stopped"


def test_a_full_disk_writing_a_checkpoint_fails_the_job_with_the_reason(
    lib, model_dir, monkeypatch
):
    import torch

    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 6, "preview_every": 2})
    real_save = torch.save

    def save(obj, f, *args, **kw):
        if str(f).endswith(".tmp"):
            real_save(obj, f, *args, **kw)  # written in full, then the flush fails
            _enospc()
        return real_save(obj, f, *args, **kw)

    monkeypatch.setattr(torch, "save", save)
    assert run_worker(lib, options(model_dir), install_signals=False) == 1
    failed = lib.queue.job(job.id)
    assert failed.status == "failed"
    assert failed.error == (
        "disk full writing checkpoints/job-000001.pt: free some space, then retry the job"
    )
    assert temp_files(lib.root) == [] and not any((lib.root / "checkpoints").iterdir())


# -- a worker gone mid-job ---------------------------------------------------------------------


def _dead_pid() -> int:
    """A crashed worker's pid, without starting a child: above Linux's largest pid_max
    (2**22), so no process has it (as tests/unit/test_queue.py's killed worker)."""
    return 999_999_999


def test_a_job_whose_worker_process_is_gone_runs_at_once_even_exit_when_idle(lib, model_dir):
    (job,) = seed_jobs(lib, 1, config=FAST)
    lib.workers.register("crashed", device="cpu", pid=_dead_pid())
    assert lib.claims.claim_job("crashed").id == job.id  # then killed during its model load
    assert run_worker(lib, options(model_dir), install_signals=False) == 1  # stale after 60 s
    done = lib.queue.job(job.id)
    assert (done.status, done.worker_id, done.attempts) == ("done", "w-test", 2)
    (requeued,) = [e.payload() for e in lib.history.events(kind="job_requeued")]
    assert requeued["reason"] == "worker gone"


def test_a_worker_restarted_under_the_same_id_gives_back_its_old_jobs(lib, model_dir):
    """The old process (same id, so its row now carries the new pid) died mid-job."""
    (job,) = seed_jobs(lib, 1, config=FAST)
    lib.workers.register("w-test", device="cpu", pid=_dead_pid())
    lib.claims.claim_job("w-test")
    assert run_worker(lib, options(model_dir), install_signals=False) == 1
    done = lib.queue.job(job.id)
    assert (done.status, done.attempts) == ("done", 2)




def test_a_live_or_frozen_worker_on_this_host_keeps_its_job(lib):
    (job,) = seed_jobs(lib, 1)
    lib.workers.register("alive", device="cpu")  # this process
    lib.claims.claim_job("alive")
    assert lib.claims.requeue_stale() == [] and lib.queue.job(job.id).status == "running"


def test_leaving_mid_job_gives_the_job_back_at_once(lib, model_dir, monkeypatch):
    """A second SIGTERM raises KeyboardInterrupt wherever the worker is."""
    (job,) = seed_jobs(lib, 1, config=FAST)

    def interrupted(batch):
        raise KeyboardInterrupt

    BatchSpy(monkeypatch, on_step=interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_worker(lib, options(model_dir), install_signals=False)
    back = lib.queue.job(job.id)
    assert (back.status, back.worker_id, back.attempts) == ("queued", None, 1)
    assert lib.workers.get("w-test").state == "stopped"
    assert [e.payload()["reason"] for e in lib.history.events(kind="job_requeued")] == ["worker exited"]


# -- temporary files left by kill -9 -----------------------------------------------------------


def test_a_starting_worker_sweeps_temporary_files_killed_workers_left(lib, model_dir):
    lib.workers.register("busy", device="cpu")  # alive: this process, a fresh heartbeat
    folder = lib.root / "images" / "v000001"
    folder.mkdir(parents=True)
    hour_ago = time.time() - 3600
    old = [
        folder / ".j000001-s1-final.png.gone-1.a1.tmp",
        folder / "..j000001-s1-final.png.gone-1.a1.tmp.4242.tmp",
        lib.root / "checkpoints" / ".job-000001.pt.gone-2.a3.tmp",
    ]
    busy = folder / ".j000002-s1-final.png.busy.a1.tmp"
    recent = folder / ".j000003-s1-final.png.gone-3.a1.tmp"
    mine = folder / "notes.tmp"  # not hidden: not a worker's
    for path in [*old, busy, recent, mine]:
        path.write_bytes(b"partial")
    for path in [*old, busy, mine]:
        os.utime(path, (hour_ago, hour_ago))
    run_worker(lib, options(model_dir), install_signals=False)
    assert [p.exists() for p in old] == [False] * len(old)
    assert busy.exists() and recent.exists() and mine.exists()


def test_the_sweep_follows_a_symlinked_images_folder_and_stays_in_the_stored_folders(tmp_path):
    """images/ moved to a bigger disk is still the library's; the rest of the folder (the
    artist's own files beside library.db) is not the sweep's."""
    disk = tmp_path / "disk" / "images"
    (disk / "v000001").mkdir(parents=True)
    root = tmp_path / "lib"
    Library.open(root).close()
    (root / "images").rmdir()
    (root / "images").symlink_to(disk, target_is_directory=True)
    hour_ago = time.time() - 3600
    old = disk / "v000001" / ".j000001-s1-final.png.gone-1.a1.tmp"
    outside = root / "drafts" / ".sketch.png.gone-1.a1.tmp"
    outside.parent.mkdir()
    for path in (old, outside):
        path.write_bytes(b"partial")
        os.utime(path, (hour_ago, hour_ago))
    with Library.open(root) as library:
        swept = library.workers.sweep_temp_files()
    assert swept == [root / "images" / "v000001" / old.name]
    assert not old.exists() and outside.exists()


def test_a_starting_worker_forgets_workers_gone_for_over_an_hour(lib, model_dir):
    """``status`` only looks now; a starting worker is what keeps old rows from piling up."""
    lib.workers.register("old-stopped", device="cpu", log_path="logs/worker-old-stopped.log")
    lib.workers.set_state("old-stopped", "stopped")
    lib.workers.register("recent-stopped", device="cpu", log_path="logs/worker-recent.log")
    lib.workers.set_state("recent-stopped", "stopped")
    lib.db.execute("UPDATE workers SET heartbeat = heartbeat - 7200 WHERE id = 'old-stopped'")
    run_worker(lib, options(model_dir))
    ids = {w.id for w in lib.workers.all(include_stopped=True, seen_within=None)}
    assert "old-stopped" not in ids
    assert {"recent-stopped", "w-test"} <= ids
