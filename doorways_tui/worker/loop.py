"""The GPU worker: claims jobs from the library and runs them to the end, several at once
when they share a size and models (``--batch``): a rolling batch, where a job that ends
frees its slot for the next queued job like it at once (worker/runner.py).

One process per GPU. It registers itself, heartbeats from a background thread (so a long
model load or a slow step never looks like death), and on SIGTERM/SIGINT stops at the end of
the current step, saves the latent and puts the job back in the queue; a second signal, or
anything else that ends it mid-job, gives its jobs back at once. A worker that dies without
a word (kill -9, power cut) stops heartbeating; the next claim by any worker puts its job
back in the queue (at once when it ran on the same host and its process is gone), and it
resumes from its last latent checkpoint. On start, a worker removes the temporary files
that killed workers left behind.

This module imports neither Textual nor (until a job runs) torch.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from doorways_tui.core.gpu import cpu_fallback_warning, nvidia_gpus
from doorways_tui.store import Library, WorkerInfo
from doorways_tui.store.files import log_relpath
from doorways_tui.store.workers import FORGET_WORKERS_AFTER_S
from doorways_tui.worker.options import WorkerOptions, new_worker_id

log = logging.getLogger("doorways.worker")


def _same_device(a: str, b: str) -> bool:
    def norm(d: str) -> str:
        return "cuda:0" if d == "cuda" else d

    return norm(a) == norm(b)


def _same_machine(a: WorkerInfo, b: WorkerInfo) -> bool:
    """Whether two workers run on one machine, as the store tells it (``this_machine``:
    pods and cloned VMs may share a host name); a row from before machines were recorded
    has only its host name."""
    return a.machine == b.machine if a.machine and b.machine else a.host == b.host


def same_device_workers(lib: Library, me: WorkerInfo) -> list[WorkerInfo]:
    """Other live workers on this machine using the device worker ``me`` registered
    with (two workers on one GPU share its memory and its time: usually a mistake)."""
    return [
        w
        for w in lib.workers.all()
        if w.id != me.id and w.alive and _same_machine(w, me) and _same_device(w.device, me.device)
    ]


def device_warning(lib: Library, worker_id: str) -> str | None:
    """A one-line warning when another live worker here uses the same device, else None."""
    me = lib.workers.get(worker_id)
    others = same_device_workers(lib, me)
    if not others:
        return None
    names = ", ".join(f"{w.id} (pid {w.pid})" for w in others)
    return (
        f"warning: {me.device} already has {len(others)} live worker(s) on this host: {names};"
        " they will share its memory and time"
    )


class Worker:
    """Runs jobs from one library on one device until told to stop."""

    def __init__(self, library: Library, options: WorkerOptions) -> None:
        self.lib = library
        self.options = options
        self.id = options.worker_id
        self.stop = threading.Event()  # set by a signal: finish this step and leave
        self.lost_jobs: set[int] = set()  # current jobs that stopped being ours
        self.current_jobs: dict[int, int] = {}  # job id -> the lease of our claim
        self.jobs_run = 0
        self._runner = None

    # -- lifetime -------------------------------------------------------------------------

    def run(self) -> int:
        """The main loop; returns how many jobs this worker ran (done or failed)."""
        device = self._check_device()
        self.lib.workers.register(self.id, device=device, log_path=log_relpath(self.id))
        log.info("worker %s on %s, library %s", self.id, device, self.lib.root)
        if warning := device_warning(self.lib, self.id):
            log.warning("%s", warning)
        if warning := self._fallback_warning(device):
            log.warning("%s", warning)
        self.lib.workers.prune(older_than=FORGET_WORKERS_AFTER_S)
        if swept := self.lib.workers.sweep_temp_files():
            log.info("removed %d temporary file(s) left by killed workers", len(swept))
        beat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        beat.start()
        try:
            self._loop()
        finally:
            self.stop.set()
            if self._runner is not None:
                self._runner.writer.close()  # idle by now: every batch drains its writes
            beat.join(timeout=5)
            self.lib.workers.set_state(self.id, "stopped")
            log.info("worker %s stopped after %d job(s)", self.id, self.jobs_run)
        return self.jobs_run

    def _loop(self) -> None:
        idle = False
        while not self.stop.is_set():
            if self.options.max_jobs is not None and self.jobs_run >= self.options.max_jobs:
                return
            job = self.lib.claims.claim_job(
                self.id,
                stale_after=self.options.stale_after,
                max_attempts=self.options.max_attempts,
            )
            if job is None:
                if not idle:
                    self.lib.workers.set_state(self.id, "idle")
                    idle = True
                if self.options.exit_when_idle:
                    return
                self.stop.wait(self.options.poll_s)
                continue
            idle = False
            self.current_jobs[job.id] = job.lease
            jobs = [job, *self._fill_batch(job)]
            try:
                self._job_runner().run_batch(jobs, refill=self._refill, ended=self._ended)
            except BaseException:
                self._abandon()
                raise
            finally:
                self.current_jobs.clear()

    def _ended(self, job, outcome: str) -> None:
        """One job of the batch ended (its slot is free already)."""
        self.jobs_run += outcome in ("done", "failed")
        self.current_jobs.pop(job.id, None)

    def _abandon(self) -> None:
        """Leaving mid-job (a second signal, a crash): give the jobs back now, not when the
        heartbeat goes stale, so any worker (even one started with --exit-when-idle) runs
        them next."""
        try:
            back = self.lib.claims.abandon_jobs(
                self.id, self.current_jobs, max_attempts=self.options.max_attempts
            )
        except Exception:  # the database itself failing: the heartbeat going stale will do
            log.exception("could not give back jobs %s", sorted(self.current_jobs))
            return
        if back:
            log.info("gave back job(s) %s unfinished", ", ".join(map(str, back)))

    def _fill_batch(self, first) -> list:
        """Claim more queued jobs with the first one's size and models, up to the batch."""
        from doorways_engine.config import GenerationConfig  # no torch
        from doorways_engine.errors import ConfigError

        try:
            like = GenerationConfig.from_json(first.config)
        except ConfigError:
            return []  # it will fail alone
        return self._refill(like, self._job_runner().limit_for(like) - len(self.current_jobs))

    def _refill(self, like, free: int) -> list:
        """Claim up to ``free`` queued jobs that can join a batch of ``like``'s size and
        models (within ``max_jobs``, counting the jobs still running)."""
        if self.options.max_jobs is not None:
            free = min(free, self.options.max_jobs - self.jobs_run - len(self.current_jobs))
        from doorways_engine.config import GenerationConfig  # no torch

        more = []
        while len(more) < free and not self.stop.is_set():
            job = self.lib.claims.claim_job(
                self.id,
                stale_after=self.options.stale_after,
                max_attempts=self.options.max_attempts,
                like=like.batch_key(),
                defaults=GenerationConfig.batch_defaults(),
            )
            if job is None:
                break
            self.current_jobs[job.id] = job.lease
            more.append(job)
        return more

    def _job_runner(self):
        if self._runner is None:
            from doorways_tui.worker.runner import JobRunner  # torch loads here

            self._runner = JobRunner(
                self.lib,
                self.id,
                options=self.options,
                should_stop=self.stop.is_set,
                lost_jobs=self.lost_jobs,
            )
        return self._runner

    def _check_device(self) -> str:
        """Fail before claiming anything if the device is absent (cuda:3 on a 1-GPU box)."""
        from doorways_engine.models import pick_device

        return str(pick_device(self.options.device))

    def _fallback_warning(self, device: str) -> str | None:
        """Said loudly: ``auto`` chose the CPU on a machine with an NVIDIA GPU."""
        if device != "cpu" or self.options.device not in ("", "auto"):
            return None  # the driver is not asked unless it matters
        import torch

        cuda = torch.version.cuda
        build = f"{torch.__version__}, {'CUDA ' + cuda if cuda else 'CPU-only'}"
        return cpu_fallback_warning(
            requested=self.options.device, device=device, torch_build=build, gpus=nvidia_gpus()
        )

    # -- heartbeat and signals ------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        interval = self.options.heartbeat_interval
        while not self.stop.wait(interval):
            for job_id, lease in list(self.current_jobs.items()) or [(None, None)]:
                try:
                    owned = self.lib.workers.heartbeat(self.id, job_id, lease=lease)
                except Exception:  # a heartbeat must never kill the worker
                    log.exception("heartbeat failed")
                    continue
                if job_id is not None and not owned and self.current_jobs.get(job_id) == lease:
                    log.info(
                        "job %s is no longer ours (cancelled or taken back): dropping it", job_id
                    )
                    self.lost_jobs.add(job_id)

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT/SIGHUP: stop at the end of the current step (the job goes back to
        the queue with its latent); a second signal exits at once."""

        def handler(signum: int, _frame) -> None:
            if self.stop.is_set():
                raise KeyboardInterrupt
            log.info("signal %s: stopping after the current step", signal.Signals(signum).name)
            self.stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, handler)


def run_worker(
    library: Library,
    options: WorkerOptions,
    *,
    install_signals: bool = True,
    on_start: Callable[[Worker], None] | None = None,
) -> int:
    worker = Worker(library, options)
    if install_signals:
        worker.install_signal_handlers()
    if on_start is not None:
        on_start(worker)
    started = time.monotonic()
    n = worker.run()
    log.info("ran %d job(s) in %.1f s", n, time.monotonic() - started)
    return n


@dataclass(frozen=True)
class Detached:
    """A worker started in the background: its process id, worker id and log file."""

    pid: int
    worker_id: str
    log_path: Path
    process: subprocess.Popen = field(repr=False, compare=False)


def start_detached(
    library: Path,
    *,
    device: str = "auto",
    worker_id: str | None = None,
    args: Sequence[str] = (),
) -> Detached:
    """Start ``doorways worker`` in its own session (no SIGHUP when the terminal or SSH
    connection goes), output appended to ``<library>/logs/worker-<id>.log``. The app uses
    this too. ``args`` are further ``doorways worker`` options (``--exit-when-idle``...)."""
    library = Path(library).expanduser().resolve()
    worker_id = worker_id or new_worker_id()
    log_path = library / log_relpath(worker_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # `python -m doorways_tui`: the console script's entry point, with this interpreter.
    cmd = [sys.executable, "-m", "doorways_tui", "--library", str(library), "worker"]
    cmd += ["--worker-id", worker_id, "--device", device, *args]
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return Detached(proc.pid, worker_id, log_path, proc)
