"""The worker in this process with the tiny models: outcomes, failures, cancel, model reuse."""

from __future__ import annotations

import json
import threading
import time

import pytest

import doorways_tui.worker.runner as runner_module
from doorways_engine import read_png_metadata
from doorways_engine.errors import OutOfMemoryError
from doorways_tui.store import Library, StoreError
from doorways_tui.worker.loop import run_worker
from doorways_tui.worker.options import WorkerOptions
from tests.fixtures_store import TINY, seed_jobs
from tests.worker_shared import BatchSpy, lib  # noqa: F401  (fixtures)

FAST = {**TINY, "steps": 2, "preview_every": 0}




@pytest.fixture(autouse=True)
def shared_models(monkeypatch, demo_models) -> list[str]:
    """Hand every job the session's loaded demo models; records each load asked for."""
    loads: list[str] = []

    def load(config, **kw):
        if config.vqgan != "demo":
            return real_load(config, **kw)  # the real error for missing weights
        loads.append(config.vqgan)
        return demo_models

    real_load = runner_module.load_models
    monkeypatch.setattr(runner_module, "load_models", load)
    return loads


def options(model_dir, **changes) -> WorkerOptions:
    base = dict(
        device="cpu", model_dir=model_dir, worker_id="w-test", exit_when_idle=True, poll_s=0.05
    )
    base.update(changes)
    return WorkerOptions(**base)


def test_runs_jobs_writes_previews_checkpoints_and_final(lib, model_dir):
    (job,) = seed_jobs(lib, 1, config={**TINY, "steps": 6, "preview_every": 2})
    seen: list[tuple[str, int | None]] = []
    original = lib.claims.set_preview

    def spy(job_id, worker_id, **kw):
        seen.append((kw["path"], lib.queue.job(job_id).checkpoint_step))
        return original(job_id, worker_id, **kw)

    lib.claims.set_preview = spy
    assert run_worker(lib, options(model_dir), install_signals=False) == 1
    done = lib.queue.job(job.id)
    assert (done.status, done.step, done.attempts, done.checkpoint) == ("done", 6, 1, None)
    assert len(seen) == 2 and seen[0][0].endswith("-preview.png")  # steps 2 and 4, not 6
    (image,) = lib.images.images_for_job(job.id)
    path = lib.abspath(image.path)
    assert image.kind == "final" and (image.width, image.height) == (64, 64) and path.is_file()
    assert not lib.abspath(seen[0][0]).exists()  # the preview went with the final
    assert not any(lib.abspath("checkpoints").iterdir())
    meta = read_png_metadata(path)
    assert meta["job_id"] == job.id and meta["config"]["seed"] == job.seed
    worker = lib.workers.get("w-test")
    assert (worker.state, worker.jobs_done) == ("stopped", 1)


def test_bad_jobs_fail_alone_and_the_worker_goes_on(lib, model_dir):
    good = seed_jobs(lib, 1, config=FAST)[0]
    variant = lib.tree.variant(good.variant_id)
    # the store refuses both now; rows written by an older version still hold them
    for bad in ({**FAST, "colour": "red"}, {**FAST, "cutn": 0}):
        with pytest.raises(StoreError, match="nothing queued"):
            lib.queue.queue_jobs(variant.id, [9], bad)
    bad_key, bad_value = lib.queue.queue_jobs(variant.id, [10, 11], FAST)
    for job, bad in ((bad_key, {"colour": "red"}), (bad_value, {"cutn": 0})):
        stored = json.dumps({**json.loads(job.config), **bad})
        lib.db.execute("UPDATE jobs SET config = ? WHERE id = ?", (stored, job.id))
    no_weights = lib.queue.queue_jobs(variant.id, [12], {**FAST, "vqgan": "no_such_vqgan"})[0]
    last = lib.queue.queue_jobs(variant.id, [13], FAST)[0]
    # the two bad configs fail when claimed, before they run: 3 jobs run
    assert run_worker(lib, options(model_dir), install_signals=False) == 3
    status = {j.id: (j.status, j.error or "") for j in lib.queue.jobs()}
    assert status[good.id][0] == status[last.id][0] == "done"
    assert status[bad_key.id][0] == "failed" and "colour" in status[bad_key.id][1]
    assert status[bad_value.id][0] == "failed" and "cutn" in status[bad_value.id][1]
    assert status[no_weights.id][0] == "failed" and "no_such_vqgan" in status[no_weights.id][1]
    assert len(lib.images.images()) == 2


def test_out_of_memory_fails_the_job_with_advice(lib, model_dir, monkeypatch):
    jobs = seed_jobs(lib, 2, config=FAST)

    def flaky(batch):
        if len(spy.steps) == 1:
            raise OutOfMemoryError(
                "CUDA out of memory at 64x64 with 4 cutouts on cuda:0: try fewer cutouts or a smaller size"
            )

    spy = BatchSpy(monkeypatch, on_step=flaky)
    run_worker(lib, options(model_dir), install_signals=False)
    first, second = lib.queue.job(jobs[0].id), lib.queue.job(jobs[1].id)
    assert first.status == "failed" and "fewer cutouts" in first.error
    assert second.status == "done"


def test_models_are_loaded_once_for_jobs_that_share_them(lib, model_dir, shared_models):
    seed_jobs(lib, 3, config=FAST)
    assert run_worker(lib, options(model_dir), install_signals=False) == 3
    assert shared_models == ["demo"]


def test_cancelling_a_running_job_stops_it_and_cleans_up(lib, model_dir):
    (slow,) = seed_jobs(lib, 1, config={**TINY, "steps": 400, "preview_every": 2})
    (after,) = lib.queue.queue_jobs(slow.variant_id, [99], FAST, priority=-1)
    other = Library.open(lib.root)  # the artist's process
    worker_thread = threading.Thread(
        target=run_worker,
        args=(lib, options(model_dir, stale_after=1.2)),
        kwargs={"install_signals": False},
    )
    worker_thread.start()
    deadline = time.monotonic() + 60
    while other.queue.job(slow.id).checkpoint_step is None:
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)
    other.queue.cancel_job(slow.id)
    worker_thread.join(timeout=60)
    assert not worker_thread.is_alive()
    cancelled = other.queue.job(slow.id)
    assert cancelled.status == "cancelled" and cancelled.step < 400
    assert other.images.images_for_job(slow.id) == []
    # its latest checkpoint stays: undoing the cancel resumes from it
    assert [p.name for p in lib.abspath("checkpoints").iterdir()] == [f"job-{slow.id:06d}.pt"]
    assert other.queue.job(after.id).status == "done"  # the worker went on
    files = {p.name for p in (lib.root / "images").rglob("*") if p.is_file()}
    assert files == {f"j{after.id:06d}-s99-final.png"}
    other.close()


def test_a_missing_checkpoint_restarts_the_job(lib, model_dir):
    (job,) = seed_jobs(lib, 1, config=FAST)
    lib.claims.claim_job("ghost")
    lib.claims.set_checkpoint(job.id, "ghost", path="checkpoints/job-000001.pt", step=1)  # never written
    lib.claims.release_job(job.id, "ghost", reason="test")
    run_worker(lib, options(model_dir), install_signals=False)
    assert lib.queue.job(job.id).status == "done"


def test_jobs_of_one_size_run_as_a_batch(lib, model_dir, monkeypatch):
    jobs = seed_jobs(lib, 5, config=FAST)
    (odd,) = lib.queue.queue_jobs(jobs[0].variant_id, [77], {**FAST, "width": 128}, priority=-1)
    spy = BatchSpy(monkeypatch)
    opts = options(model_dir)
    opts.batch = 3
    assert run_worker(lib, opts, install_signals=False) == 6
    ids = [j.id for j in jobs]
    # one batch of the 64-wide jobs, refilled as its first three ended; the 128-wide job
    # is never mixed in
    assert spy.batches == [ids, [odd.id]]
    assert spy.steps == [ids[:3], ids[:3], ids[3:], ids[3:], [odd.id], [odd.id]]
    assert all(lib.queue.job(j.id).status == "done" for j in [*jobs, odd])
    assert len({lib.images.images_for_job(j.id)[0].sha256 for j in jobs}) == 5


def test_a_batch_out_of_memory_requeues_its_jobs_to_run_alone(lib, model_dir, monkeypatch):
    jobs = seed_jobs(lib, 3, config=FAST)

    def oom_when_batched(batch):
        if len(batch) > 1:
            raise OutOfMemoryError("CUDA out of memory at 64x64 with 4 cutouts x 3 image(s)")

    spy = BatchSpy(monkeypatch, on_step=oom_when_batched)
    opts = options(model_dir)
    opts.batch = 3
    assert run_worker(lib, opts, install_signals=False) == 3
    ids = [j.id for j in jobs]
    assert spy.steps == [ids] + [[i] for i in ids for _ in range(2)]  # then alone, 2 steps each
    assert all(lib.queue.job(j.id).status == "done" for j in jobs)


def test_a_second_worker_on_the_same_device_is_warned_about(lib):
    from doorways_tui.worker.loop import device_warning

    lib.workers.register("first", device="cuda")
    lib.workers.register("second", device="cuda:0")
    lib.workers.register("other-gpu", device="cuda:1")
    lib.workers.register("killed", device="cuda:0", pid=999_999_999)
    warning = device_warning(lib, "second")
    assert warning is not None and "first" in warning and "killed" not in warning
    assert device_warning(lib, "other-gpu") is None


def test_a_worker_on_another_machine_under_this_host_name_is_not_warned_about(lib):
    """Pods and cloned VMs share a host name, not a GPU: "here" is the store's machine."""
    import socket

    from doorways_tui.worker.loop import device_warning

    host = socket.gethostname()
    lib.workers.register("pod-b", device="cuda:0", host=host, machine=f"{host}/pidns=1")
    lib.workers.register("old-row", device="cuda:0", host=host, machine=None)
    lib.db.execute("UPDATE workers SET machine = NULL WHERE id = 'old-row'")
    lib.workers.register("pod-a", device="cuda:0")
    warning = device_warning(lib, "pod-a")
    assert warning is not None and "old-row" in warning and "pod-b" not in warning


def test_a_job_with_an_init_image_runs_after_the_library_moved(lib, model_dir, tmp_path):
    from PIL import Image as PILImage

    outside = tmp_path / "door.png"
    PILImage.new("RGB", (64, 64), "red").save(outside)
    (job,) = seed_jobs(lib, 1, config={**FAST, "init_image": str(outside)})
    stored = job.config_dict()["init_image"]
    assert stored.startswith("inits/")  # copied in: the library can move, the photo too
    outside.unlink()
    moved = tmp_path / "moved"
    lib.close()
    lib.root.rename(moved)
    with Library.open(moved) as there:
        run_worker(there, options(model_dir), install_signals=False)
        done = there.queue.job(job.id)
        assert done.status == "done", done.error
