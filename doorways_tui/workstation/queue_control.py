"""The queue and the workers from the app: cancel runs, retry failed ones, read a failure
whole, stop a worker, and the check before a second worker on one device. Each returns the
line the app shows (a ``StoreError`` is the one line for what cannot be done); cancels and
retries are undoable steps (``u``), as the keys that queue work are. No Textual, no torch.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from doorways_tui.core.triage import plural
from doorways_tui.store import Job, Library, StoreError, WorkerInfo
from doorways_tui.store.claims import this_machine

# What a worker started with device "auto" picks (the first GPU, Apple's, or the CPU): a
# worker already on one of these may be the one it would share.
_AUTO_PICKS = ("cuda:0", "mps", "cpu")


# -- cancel and retry -------------------------------------------------------------------------


def cancel_run(lib: Library, job_id: int) -> str:
    """Cancel one queued or running job (a running one stops at its worker's next
    heartbeat); undo puts it back in the queue."""
    was = lib.queue.job(job_id)
    if was.status not in ("queued", "running"):
        raise StoreError(f"job {job_id} (seed {was.seed}) is {was.status}: nothing to cancel")
    lib.queue.cancel_job(job_id, undoable=True)
    return f"cancelled job {job_id} (seed {was.seed}, was {was.status}); u puts it back"


def cancel_queued(
    lib: Library, *, variant_id: int | None = None, theme_id: int | None = None, label: str
) -> str:
    """Cancel every queued job of one variant, or of one theme (``label`` names it); one
    undo step puts them all back."""
    if variant_id is None and theme_id is None:
        raise StoreError("pick a variant or a prompt theme in the tree first")
    n = lib.queue.cancel_queued(
        variant_id=variant_id, theme_id=theme_id, undoable=True, what=f"cancel {label}"
    )
    if not n:
        return f"no queued jobs in {label}"
    return f"cancelled {plural(n, 'queued job')} in {label}; u puts them back"


def retry_run(lib: Library, job_id: int) -> str:
    """Queue a failed (or cancelled) job again; undo puts it back as it was while no
    worker has taken it."""
    was = lib.queue.job(job_id)
    if was.status not in ("failed", "cancelled"):
        raise StoreError(
            f"job {job_id} (seed {was.seed}) is {was.status}: only failed or cancelled jobs retry"
        )
    lib.queue.retry_job(job_id, undoable=True)
    return f"job {job_id} (seed {was.seed}) queued again; u puts it back"


def retry_failed(lib: Library) -> str:
    """Queue every failed job again, as one undo step."""
    n = lib.queue.retry_failed(undoable=True)
    if not n:
        return "no failed jobs to retry"
    return f"{plural(n, 'failed job')} queued again; u puts them back"


# -- a failure, whole -------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedRun:
    """A failed job with what the artist needs to read its error: the prompt it ran."""

    job: Job
    prompt: str

    @property
    def error(self) -> str:
        return self.job.error or "no error was recorded"

    def title(self) -> str:
        return (
            f"job {self.job.id} · seed {self.job.seed} failed"
            f" after {plural(self.job.attempts, 'attempt')}"
        )


def failed_run(lib: Library, job_id: int | None) -> FailedRun:
    """The failed run ``job_id``; without one (or when it did not fail) the latest
    failure, so the key always shows something to read."""
    job = lib.queue.job(job_id) if job_id is not None else None
    if job is None or job.status != "failed":
        latest = lib.queue.jobs(status="failed", limit=1)
        if not latest:
            what = f"job {job_id} is {job.status}; " if job is not None else ""
            raise StoreError(f"{what}no job has failed")
        job = latest[0]
    return FailedRun(job, lib.tree.variant(job.variant_id).prompt)


# -- workers ----------------------------------------------------------------------------------


def here(workers: Iterable[WorkerInfo]) -> list[WorkerInfo]:
    """The live workers on this machine (the ones the app can stop: their pids are ours
    to signal)."""
    me = this_machine()
    return [w for w in workers if w.alive and w.machine == me]


def runs_a_worker(pid: int) -> bool:
    """Whether process ``pid`` is a ``doorways worker`` (its command line has the
    ``worker`` command), where /proc tells: a pid a dead worker's row still names may
    have been given to another process since. Without /proc the fresh heartbeat is all
    there is to go by."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True
    return b"worker" in args


def stop_worker(
    lib: Library,
    worker_id: str,
    *,
    kill: Callable[[int, int], None] = os.kill,
    is_worker: Callable[[int], bool] = runs_a_worker,
) -> str:
    """Send the worker SIGTERM, as ``kill PID`` does: it ends its step, puts its job back
    in the queue and exits. Only a live worker on this machine (a pid elsewhere is another
    process), and only if that pid still runs a worker. Not undoable: ``w`` starts a
    worker again."""
    w = lib.workers.get(worker_id)
    if w.machine != this_machine():
        raise StoreError(
            f"worker {worker_id} runs on {w.host}, not on this machine: stop it there (kill {w.pid})"
        )
    if not w.alive:
        why = "its process is gone" if w.dead else f"it is {w.state}"
        raise StoreError(f"worker {worker_id} is not running ({why})")
    if not is_worker(w.pid):
        raise StoreError(f"pid {w.pid} of worker {worker_id} no longer runs a worker: nothing sent")
    try:
        kill(w.pid, signal.SIGTERM)
    except ProcessLookupError:
        raise StoreError(f"worker {worker_id} (pid {w.pid}) has already exited") from None
    except PermissionError:
        raise StoreError(f"worker {worker_id} (pid {w.pid}) is not yours to stop") from None
    return (
        f"asked worker {worker_id} (pid {w.pid}) to stop: it ends its step,"
        " puts its job back in the queue and exits"
    )


def _device(name: str) -> str:
    return "cuda:0" if name == "cuda" else name


def device_clash(lib: Library, device: str) -> str | None:
    """Before ``w`` starts a worker on ``device``: the CLI's same-device warning when a
    live worker on this machine already uses it (two share the GPU's memory and time), or
    None. ``auto`` may pick the first GPU or the CPU: a worker on either counts."""
    wanted = _device(device)
    busy = [
        w
        for w in here(lib.workers.all())
        if (_device(w.device) in _AUTO_PICKS if wanted == "auto" else _device(w.device) == wanted)
    ]
    if not busy:
        return None
    names = ", ".join(f"{w.id} on {w.device} (pid {w.pid})" for w in busy)
    return (
        f"{device} already has {plural(len(busy), 'live worker')} on this host: {names};"
        " another one will share its memory and time"
    )
