"""The worker's rolling batch, in this process with the demo models: a slot is refilled as
soon as its job ends, a write that fails on the writer thread ends only its job, the store
is read before each step (a cancel is seen within one step, an extended run finishes at its
new count), and the loss is recorded with the progress."""

from __future__ import annotations

import errno
import json

import pytest

import doorways_tui.worker.runner as runner_module
from doorways_engine import read_png_metadata
from doorways_tui.store import Library
from doorways_tui.worker.loop import run_worker
from doorways_tui.worker.options import WorkerOptions
from tests.fixtures_store import TINY, seed_jobs
from tests.worker_shared import BatchSpy, lib  # noqa: F401  (fixtures)

QUIET = {**TINY, "preview_every": 0}


@pytest.fixture(autouse=True)
def shared_models(monkeypatch, demo_models) -> None:
    monkeypatch.setattr(runner_module, "load_models", lambda config, **kw: demo_models)


def options(model_dir, **changes) -> WorkerOptions:
    base = dict(
        device="cpu",
        model_dir=model_dir,
        worker_id="w-test",
        exit_when_idle=True,
        poll_s=0.05,
        batch=2,
    )
    return WorkerOptions(**{**base, **changes})


def queue(lib: Library, variant_id: int, seed: int, **config) -> int:
    (job,) = lib.queue.queue_jobs(variant_id, [seed], {**QUIET, **config}, undoable=False)
    return job.id


def test_a_slot_is_refilled_as_soon_as_its_job_ends(lib, model_dir, monkeypatch):
    (short,) = seed_jobs(lib, 1, config={**QUIET, "steps": 2})
    long = queue(lib, short.variant_id, 1, steps=6)
    after = queue(lib, short.variant_id, 2, steps=2)
    spy = BatchSpy(monkeypatch)
    assert run_worker(lib, options(model_dir), install_signals=False) == 3
    s, g, a = short.id, long, after
    assert spy.steps == [[s, g], [s, g], [g, a], [g, a], [g], [g]]
    assert spy.batches == [[s, g, a]]  # one batch: the models and the batch stay
    assert all(lib.queue.job(j).status == "done" for j in (s, g, a))


def test_a_write_failing_on_the_writer_thread_fails_only_its_job(lib, model_dir, monkeypatch):
    (bad,) = seed_jobs(lib, 1, config={**TINY, "steps": 6, "preview_every": 2})
    good = queue(lib, bad.variant_id, 1, steps=6, preview_every=2)
    real = runner_module.save_png
    writers = set()

    def save_png(path, *args, **kw):
        import threading

        writers.add(threading.current_thread().name)
        if f"j{bad.id:06d}-" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *args, **kw)

    monkeypatch.setattr(runner_module, "save_png", save_png)
    assert run_worker(lib, options(model_dir), install_signals=False) == 2
    failed = lib.queue.job(bad.id)
    assert failed.status == "failed" and failed.error.startswith("disk full writing images/")
    assert "-preview.png" in failed.error and failed.step < 6
    assert lib.queue.job(good).status == "done"
    assert writers == {"writer"}  # previews and finals are encoded off the step path
    assert [p for p in lib.root.rglob("*.tmp")] == []


def test_a_cancel_is_seen_before_the_next_step_and_the_slot_refilled(lib, model_dir, monkeypatch):
    (doomed,) = seed_jobs(lib, 1, config={**QUIET, "steps": 50})
    other = queue(lib, doomed.variant_id, 1, steps=6)
    nxt = queue(lib, doomed.variant_id, 2, steps=2)
    artist = Library.open(lib.root)

    def cancel_at_step_3(batch):
        if len(spy.steps) == 3:
            artist.queue.cancel_job(doomed.id)  # while the third step runs

    spy = BatchSpy(monkeypatch, on_step=cancel_at_step_3)
    assert run_worker(lib, options(model_dir), install_signals=False) == 2
    d, o, n = doomed.id, other, nxt
    # the third step was the doomed run's last; the fourth already runs the next job
    assert spy.steps[:5] == [[d, o], [d, o], [d, o], [o, n], [o, n]]
    assert lib.queue.job(d).status == "cancelled"
    assert lib.queue.job(o).status == lib.queue.job(n).status == "done"
    artist.close()


def test_an_extended_run_finishes_at_its_new_count(lib, model_dir, monkeypatch):
    (job,) = seed_jobs(lib, 1, config={**QUIET, "steps": 4})
    artist = Library.open(lib.root)

    def extend_at_step_2(batch):
        if len(spy.steps) == 2:  # as lib.queue.extend_job does: the stored target rises
            config = {**json.loads(artist.queue.job(job.id).config), "steps": 7}
            artist.db.execute(
                "UPDATE jobs SET config = ?, total = 7 WHERE id = ?", (json.dumps(config), job.id)
            )

    spy = BatchSpy(monkeypatch, on_step=extend_at_step_2)
    assert run_worker(lib, options(model_dir), install_signals=False) == 1
    assert len(spy.steps) == 7
    done = lib.queue.job(job.id)
    assert (done.status, done.step, done.total) == ("done", 7, 7)
    (image,) = lib.images.images_for_job(job.id)
    assert image.step == 7
    assert read_png_metadata(lib.abspath(image.path))["config"]["steps"] == 7
    artist.close()


def test_the_loss_is_recorded_with_the_progress(lib, model_dir):
    (job,) = seed_jobs(lib, 1, config={**QUIET, "steps": 3, "report_every": 1})
    assert lib.queue.job(job.id).loss is None
    assert run_worker(lib, options(model_dir), install_signals=False) == 1
    loss = lib.queue.job(job.id).loss
    assert isinstance(loss, float) and loss > 0


def test_control_reads_ownership_status_and_target_in_one_go(lib):
    first, second, third = seed_jobs(lib, 3, config=QUIET)
    a = lib.claims.claim_job("w")
    b = lib.claims.claim_job("w")
    c = lib.claims.claim_job("other")
    lib.queue.cancel_job(b.id)
    config = {**json.loads(a.config), "steps": 40}
    lib.db.execute("UPDATE jobs SET config = ? WHERE id = ?", (json.dumps(config), a.id))
    got = lib.claims.control("w", {a.id: a.lease, b.id: b.lease, c.id: c.lease, 999: 1})
    assert set(got) == {a.id, b.id, c.id}  # a job that is gone is left out
    assert (got[a.id].owned, got[a.id].status, got[a.id].steps) == (True, "running", 40)
    assert (got[b.id].owned, got[b.id].status) == (False, "cancelled")
    assert not got[c.id].owned
    assert not lib.claims.control("w", {a.id: a.lease + 1})[a.id].owned  # an older claim
    assert lib.claims.control("w", {}) == {}


def test_update_progress_keeps_the_last_loss_when_none_is_given(lib):
    (job,) = seed_jobs(lib, 1, config=QUIET)
    claimed = lib.claims.claim_job("w")
    assert lib.claims.update_progress(job.id, "w", step=1, total=12, loss=0.75, lease=claimed.lease)
    assert lib.claims.update_progress(job.id, "w", step=2, total=12, lease=claimed.lease)
    assert lib.queue.job(job.id).loss == 0.75


def test_the_writer_keeps_order_and_hands_a_crash_back():
    import threading

    from doorways_tui.worker.writer import Writer

    writer, seen, gate = Writer(maxsize=2), [], threading.Event()
    writer.submit(gate.wait)  # holds the thread while more queue up
    writer.submit(lambda: seen.append(1))
    writer.submit(lambda: seen.append(2))
    assert writer.discard() == 2  # not begun: dropped
    gate.set()
    for i in range(5):
        writer.submit(lambda i=i: seen.append(i))
    writer.drain()
    assert seen == [0, 1, 2, 3, 4]

    def broken():
        raise RuntimeError("database gone")

    gate.clear()
    writer.submit(gate.wait)
    writer.submit(broken)
    writer.submit(lambda: seen.append("after"))  # not run: nothing is written after a crash
    gate.set()
    with pytest.raises(RuntimeError, match="database gone"):
        writer.drain()
    assert seen[-1] == 4
    writer.close()
