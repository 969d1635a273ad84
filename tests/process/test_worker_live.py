"""Live triage against a real worker process: a cancel of a running job is seen before the
worker's next step (not at its next heartbeat, 10 s apart by default) and the next job
starts at once; the cancelled job's checkpoint stays for an undo to resume from."""

from __future__ import annotations

import time

import pytest

from doorways_tui.store import Library
from tests.fixtures_store import TINY, seed_jobs
from tests.process.test_worker_processes import start_worker, stop, wait_for

pytestmark = pytest.mark.slow  # a real worker process (torch import, model load)


@pytest.fixture
def lib(tmp_path) -> Library:
    library = Library.open(tmp_path / "lib")
    yield library
    library.close()


def test_a_cancelled_running_job_is_dropped_and_the_next_job_starts(lib, tmp_path):
    (doomed,) = seed_jobs(lib, 1, config={**TINY, "steps": 100_000, "preview_every": 2})
    (after,) = lib.queue.queue_jobs(
        doomed.variant_id, [1], {**TINY, "steps": 2, "preview_every": 0}, undoable=False
    )
    log = tmp_path / "w.log"
    worker = start_worker(lib, log, "--worker-id", "w", "--exit-when-idle")
    try:
        wait_for(
            lambda: (lib.queue.job(doomed.id).checkpoint_step or 0) >= 4,
            timeout=120,
            what="the first job's checkpoint",
            procs=[worker],
        )
        checkpoint = lib.abspath(lib.queue.job(doomed.id).checkpoint)
        cancelled_at = time.time()
        lib.queue.cancel_job(doomed.id)
        wait_for(
            lambda: lib.queue.job(after.id).started is not None,
            timeout=60,
            what="the next job to start",
            procs=[worker],
        )
        waited = lib.queue.job(after.id).started - cancelled_at
        assert worker.wait(120) == 0, log.read_text()
    finally:
        stop(worker)
    # a step of the demo models takes well under a second even on a busy machine; the
    # heartbeat would have taken up to 10 s to notice
    assert waited < 5, f"the next job started {waited:.1f} s after the cancel"
    assert lib.queue.job(doomed.id).status == "cancelled"
    assert lib.queue.job(after.id).status == "done"
    assert checkpoint.is_file()  # kept: undoing the cancel resumes from it
    assert f"job {doomed.id}: no longer ours (cancelled); dropped" in log.read_text()
