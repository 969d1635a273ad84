"""Running claimed jobs with the engine: resume, progress, previews, checkpoints, results.

Jobs that share a size and models run as one rolling batch (``doorways_engine.loop.Batch``):
before each step one read of the store (``claims.control``) says which jobs the artist
cancelled (dropped at once, their slot refilled) or extended (the run's target rises); a
job that ends frees its slot for the next queued job like it, with the models kept loaded.
Writes (previews, checkpoints, progress, finals) go to a background ``Writer`` in order.

Whatever goes wrong with a job (a bad config, missing weights, out of memory, a full disk)
ends as that job's error text; the worker goes on with the next one.

Every file is written under this attempt's own temporary name and handed to the store, which
moves it into place only while the job is still this worker's (see store/claims.py).
"""

from __future__ import annotations

import errno
import logging
import queue
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from doorways_engine import (
    Cancelled,
    GenerationConfig,
    GenerationResult,
    Models,
    StepInfo,
    load_models,
    load_state,
    save_png,
    save_state,
)
from doorways_engine.config import MAX_STEPS
from doorways_engine.errors import DoorwaysError, OutOfMemoryError
from doorways_engine.fetch import sha256_file
from doorways_engine.loop import Batch
from doorways_tui.store import Image, Job, Library
from doorways_tui.store.files import (
    attempt_tag,
    checkpoint_relpath,
    image_relpath,
    init_image_file,
    remove_quietly,
    staged_path,
)
from doorways_tui.worker.curation import after_finish
from doorways_tui.worker.options import WorkerOptions
from doorways_tui.worker.stopping import check_progress
from doorways_tui.worker.writer import Writer

log = logging.getLogger("doorways.worker")

Outcome = Literal["done", "failed", "released", "lost"]
Refill = Callable[[GenerationConfig, int], list[Job]]  # (like this config, up to n) -> claimed
Ended = Callable[[Job, Outcome], None]


def write_error(relpath: str, exc: OSError) -> str:
    """The job's error when one of its files cannot be written."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full writing {relpath}: free some space, then retry the job"
    return f"could not write {relpath}: {exc.strerror or exc}"


def oom_message(config: GenerationConfig, device: str) -> str:
    return (
        f"out of memory on {device} at {config.width}x{config.height} with {config.cutn} cutouts:"
        " retry with fewer cutouts (--cutn) or a smaller size"
    )


@dataclass
class _Live:
    """A job whose run is in the batch."""

    job: Job
    config: GenerationConfig
    progress: _Progress


class JobRunner:
    """Runs jobs for one worker, keeping the loaded models while jobs share them."""

    def __init__(
        self,
        library: Library,
        worker_id: str,
        *,
        options: WorkerOptions,
        should_stop: Callable[[], bool],
        lost_jobs: set[int],
    ) -> None:
        self.lib = library
        self.worker_id = worker_id
        self.options = options
        self.should_stop = should_stop
        self.lost_jobs = lost_jobs  # ids found cancelled or taken back (poll or heartbeat)
        self.batch_cap = options.batch  # lowered to 1 after a batch runs out of memory
        self.batch_limit = options.batch  # the cap, fitted to the memory (``limit_for``)
        self.writer = Writer()
        self.write_failed: dict[int, str] = {}  # job id -> the write error that ends it
        self._ended: queue.SimpleQueue[tuple[Job, Outcome]] = queue.SimpleQueue()
        self._models: Models | None = None
        self._models_for: GenerationConfig | None = None

    def is_lost(self, job: Job) -> bool:
        return job.id in self.lost_jobs

    def mark_lost(self, job: Job) -> None:
        self.lost_jobs.add(job.id)

    def run(self, job: Job) -> Outcome:
        return self.run_batch([job])[0]

    # -- the rolling batch ----------------------------------------------------------------

    def run_batch(
        self, jobs: list[Job], *, refill: Refill | None = None, ended: Ended | None = None
    ) -> list[Outcome]:
        """Run claimed jobs together until none is left; each ends done, failed, released
        or lost on its own, and ``ended`` hears of it as it does. Between steps a free slot
        takes the jobs ``refill`` claims like the batch. Returns every job's outcome, in
        the order they started."""
        started: list[Job] = []
        outcomes: dict[int, Outcome] = {}
        live: dict[int, _Live] = {}
        batch: Batch | None = None
        pending, last_refill, freed = list(jobs), time.monotonic(), False

        def collect() -> None:
            while True:
                try:
                    job, outcome = self._ended.get_nowait()
                except queue.Empty:
                    return
                outcomes[job.id] = outcome
                if ended is not None:
                    ended(job, outcome)

        try:
            while True:
                started += pending
                batch = self._admit(pending, batch, live)
                pending = []
                if live:
                    before = len(live)
                    self._poll(batch, live)
                    freed = freed or len(live) < before
                # a slot just freed is refilled before the next step; one left free, every poll_s
                now, free = time.monotonic(), self.batch_limit - len(live)
                due = freed or now - last_refill >= self.options.poll_s
                if refill and batch is not None and free > 0 and due and not self.should_stop():
                    pending, last_refill, freed = refill(batch.like, free), now, False
                    if pending:
                        continue
                if not live:
                    break
                for job_id, result in batch.step().items():
                    self._end(live.pop(job_id), result)
                    freed = True
                collect()
        except Exception as exc:  # the whole batch ended: models, memory, a crash
            self._batch_failed(list(live.values()), exc)
        except BaseException:  # leaving mid-job: the loop gives the jobs back
            self.writer.discard()
            raise
        self.writer.drain()
        collect()
        return [outcomes[job.id] for job in started]

    def _admit(self, jobs: list[Job], batch: Batch | None, live: dict[int, _Live]) -> Batch | None:
        """Start each job's run in the batch (a new one when the batch is empty and the
        job needs another size or other models). A job that cannot start fails alone."""
        for job in jobs:
            log.info("job %d (seed %d, attempt %d): starting", job.id, job.seed, job.attempts)
            self.lost_jobs.discard(job.id)  # a fresh claim is ours
            config = None
            try:
                config = self._config(job)
                if batch is None or not live and not batch.fits(config):
                    batch = Batch(self._load(config), config, capacity=self.batch_limit)
                progress = _Progress(self, job, config)
                batch.add(job.id, config, callback=progress)
            except Exception as exc:
                self._ended.put((job, self._job_failed(job, config, exc, size=1)))
                continue
            live[job.id] = _Live(job, config, progress)
        return batch

    def _poll(self, batch: Batch, live: dict[int, _Live]) -> None:
        """Before each step: drop the runs the artist cancelled (or another worker took),
        whose writes failed, or all of them when the worker stops; follow extended targets."""
        controls = self.lib.claims.control(
            self.worker_id, {job_id: entry.job.lease for job_id, entry in live.items()}
        )
        for job_id, entry in list(live.items()):
            control = controls.get(job_id)
            if control is None or not control.owned:
                self.mark_lost(entry.job)
            elif 1 <= (control.steps or 0) <= MAX_STEPS and control.steps != batch.target(job_id):
                log.info("job %d: step target now %d", job_id, control.steps)
                batch.set_steps(job_id, control.steps)
            if self.should_stop() or self.is_lost(entry.job) or job_id in self.write_failed:
                self._end(live.pop(job_id), batch.drop(job_id))

    def _end(self, entry: _Live, result: GenerationResult | Cancelled) -> None:
        """A run left the batch: its ending is written after its own pending writes."""
        # the batch's models: they change only once the batch is empty
        job, models = entry.job, self._models

        def write() -> None:
            if job.id in self.write_failed:
                outcome = self._fail(job, self.write_failed.pop(job.id))
            elif isinstance(result, GenerationResult):
                outcome = self._finish(job, result, models)
            elif self.is_lost(job):
                outcome = self._lost(job)
            else:
                outcome = self._cancelled(job, result)
            self.lost_jobs.discard(job.id)
            self._ended.put((job, outcome))

        self.writer.submit(write)

    def _batch_failed(self, entries: list[_Live], exc: Exception) -> None:
        """The batch raised: every job in it ends, after the writes already queued."""
        self.writer.drain()
        for entry in entries:
            outcome = self._job_failed(entry.job, entry.config, exc, size=len(entries))
            self._ended.put((entry.job, outcome))

    def _job_failed(
        self, job: Job, config: GenerationConfig | None, exc: Exception, *, size: int
    ) -> Outcome:
        """How an exception ends a job: out of memory in a batch requeues it to run alone."""
        if isinstance(exc, OutOfMemoryError) or type(exc).__name__ == "OutOfMemoryError":
            self._free_memory()
            if size > 1:  # try again alone: the batch, not the job, was too big
                self.batch_cap = self.batch_limit = 1  # the batch, not the job, was too big
                log.warning(
                    "job %d: out of memory in a batch of %d; requeued to run alone", job.id, size
                )
                self.lib.claims.release_job(
                    job.id, self.worker_id, reason="out of memory in a batch", lease=job.lease
                )
                return "released"
            if isinstance(exc, OutOfMemoryError) or config is None:  # the engine's says it
                return self._fail(job, str(exc))
            return self._fail(job, oom_message(config, self._device()))
        if isinstance(exc, DoorwaysError):
            return self._fail(job, str(exc))
        log.error("job %d crashed:\n%s", job.id, "".join(traceback.format_exception(exc)))
        return self._fail(job, f"{type(exc).__name__}: {exc}")

    # -- steps of a run -------------------------------------------------------------------

    def _config(self, job: Job) -> GenerationConfig:
        """The job's config, continuing from its checkpoint when one can be read."""
        config = GenerationConfig.from_json(job.config)
        if config.init_image:  # stored relative to the library (older jobs: absolute)
            config = config.replace(init_image=init_image_file(self.lib.root, config.init_image))
        if not job.checkpoint:
            return config
        try:
            path = self.lib.abspath(job.checkpoint)  # a path leading outside: start over
            step = int(load_state(path)["step"])
        except Exception as exc:  # missing or torn: start over rather than fail
            log.warning(
                "job %d: checkpoint %s unusable (%s); starting over", job.id, job.checkpoint, exc
            )
            return config
        log.info("job %d: resuming from step %d", job.id, step)
        return config.replace(resume_latent=str(path), start_step=step)

    def limit_for(self, config: GenerationConfig) -> int:
        """How many jobs like ``config`` to run at once: the cap (``--batch``; 1 after a
        batch ran out of memory), lowered with ``fit_batch`` to what the device's free
        memory holds by the engine's estimate. Loads nothing."""
        self.batch_limit = self.batch_cap
        if not self.options.fit_batch or self.batch_cap <= 1:
            return self.batch_limit
        from doorways_engine.memory import estimate, free_bytes, pick_batch
        from doorways_engine.models import pick_device

        device = (
            self._models.device if self._models is not None else pick_device(self.options.device)
        )
        free = free_bytes(device)
        if free is None:
            return self.batch_limit
        loaded = self._models_for is not None and config.same_models(self._models_for)
        fitted = pick_batch(config, free_bytes=free, limit=self.batch_cap, loaded=loaded)
        if fitted != self.batch_limit:
            per_image = estimate(config).per_image / 2**30
            log.info(
                "batch %d at %dx%d: %.1f GiB free, about %.1f GiB an image",
                fitted,
                config.width,
                config.height,
                free / 2**30,
                per_image,
            )
        self.batch_limit = fitted
        return fitted

    def _load(self, config: GenerationConfig) -> Models:
        if (
            self._models is None
            or self._models_for is None
            or not config.same_models(self._models_for)
        ):
            self._models = None
            self._free_memory()
            self._models = load_models(
                config, device=self.options.device, model_dir=self.options.model_dir
            )
            self._models_for = config
            log.info("models: %s on %s", self._models.files.label, self._models.device)
        return self._models

    def _finish(self, job: Job, result: GenerationResult, models: Models | None) -> Outcome:
        rel = image_relpath(variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="final")
        staged = self.staged(job, rel)
        try:
            save_png(
                staged,
                result.image,
                result.config,
                extra={"job_id": job.id, "losses": result.losses},
            )
            image = self.lib.claims.finish_job(
                job.id,
                self.worker_id,
                path=rel,
                step=result.steps,
                width=result.image.width,
                height=result.image.height,
                sha256=sha256_file(staged),
                seconds=result.seconds,
                staged=staged,
                lease=job.lease,
            )
        except OSError as exc:
            remove_quietly(staged)
            return self._fail(job, write_error(rel, exc))
        if image is None:
            return self._lost(job)
        self.final_written(job, image, result, models)
        return "done"

    def final_written(
        self, job: Job, image: Image, result: GenerationResult, models: Models | None
    ) -> None:
        """A job's final image was written and recorded (writer thread): the CLIP
        suggestion follows, with the models that made it (issue 18; it never fails the job)."""
        log.info("job %d: done in %.1f s -> %s", job.id, result.seconds, image.path)
        if models is not None:
            after_finish(self.lib, image, result.image, models, result.config)

    def stop_rule_fired(self, job: Job, step: int, info: StepInfo) -> bool:
        """At a loss report (step thread): a stop rule that fires saves the latent (after
        the job's pending writes, so undo resumes from this step), cancels the run and
        drops it from the batch (issue 17)."""

        def checkpoint() -> None:
            self.writer.drain()
            self.checkpoint(job, info.state(), step)

        if check_progress(self.lib, job, step, info.losses, checkpoint=checkpoint) is None:
            return False
        self.mark_lost(job)
        return True

    def staged(self, job: Job, relpath: str) -> Path:
        """This attempt's temporary file for the library file ``relpath``."""
        return staged_path(self.lib.abspath(relpath), attempt_tag(self.worker_id, job.lease))

    def _cancelled(self, job: Job, exc: Cancelled) -> Outcome:
        """The worker is stopping: save the latest state and give the job back."""
        if exc.state is not None and exc.step > (job.checkpoint_step or 0):
            try:
                self.checkpoint(job, exc.state, exc.step)
            except DoorwaysError as error:  # it resumes from an older checkpoint
                log.warning("job %d: %s", job.id, error)
        if not self.lib.claims.release_job(
            job.id, self.worker_id, reason="worker stopping", lease=job.lease
        ):
            return self._lost(job)
        log.info("job %d: stopped at step %d and put back in the queue", job.id, exc.step)
        return "released"

    def _lost(self, job: Job) -> Outcome:
        """The job was cancelled or given to another worker: leave it alone. Its latest
        checkpoint stays (undoing a cancel resumes from it), and no file of ours reached
        its place once it was not ours."""
        status = self.lib.queue.job(job.id).status
        log.info("job %d: no longer ours (%s); dropped", job.id, status)
        return "lost"

    def _fail(self, job: Job, message: str) -> Outcome:
        log.warning("job %d failed: %s", job.id, message)
        if not self.lib.claims.fail_job(job.id, self.worker_id, message, lease=job.lease):
            return self._lost(job)
        return "failed"

    def checkpoint(self, job: Job, state: dict, step: int) -> None:
        """Save the resumable state and record it (the file moves into place with the row).
        A file that cannot be written is a DoorwaysError saying why."""
        rel = checkpoint_relpath(job.id)
        staged = self.staged(job, rel)
        try:
            save_state(staged, state)
            owned = self.lib.claims.set_checkpoint(
                job.id, self.worker_id, path=rel, step=step, staged=staged, lease=job.lease
            )
        except OSError as exc:
            remove_quietly(staged)
            raise DoorwaysError(write_error(rel, exc)) from exc
        if not owned:
            self.mark_lost(job)

    def _device(self) -> str:
        return str(self._models.device) if self._models is not None else self.options.device

    def _free_memory(self) -> None:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


class _Progress:
    """The engine callback, on the step path: it decides what is due (throttled progress,
    previews, checkpoints) and hands the writing to the runner's writer."""

    def __init__(self, runner: JobRunner, job: Job, config: GenerationConfig) -> None:
        self.runner, self.job, self.config = runner, job, config
        self.lib, self.worker_id = runner.lib, runner.worker_id
        self.last_write = 0.0
        self.last_checkpoint = time.monotonic()
        self.loss: float | None = None
        self.preview_rel = image_relpath(
            variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="preview"
        )

    def __call__(self, step: int, info: StepInfo) -> None:
        now = time.monotonic()
        last = step >= info.total
        if info.losses:
            self.loss = info.losses.get("total", self.loss)
            if not last and self.runner.stop_rule_fired(self.job, step, info):
                return
        options, submit = self.runner.options, self.runner.writer.submit
        preview = info.preview if not last else None
        if preview is not None:
            submit(lambda: self._preview(step, preview))
        if not last and (preview is not None or now - self.last_checkpoint >= options.checkpoint_s):
            state = info.state()  # a copy: the run steps on while it is written
            submit(lambda: self._checkpoint(state, step))
            self.last_checkpoint = now
        if preview is not None or last or now - self.last_write >= options.progress_s:
            progress = dict(
                step=step,
                total=info.total,
                it_per_s=info.it_per_s,
                eta_s=info.eta_s,
                loss=self.loss,
            )
            submit(lambda: self._progress(progress))
            self.last_write = now

    # -- on the writer thread -------------------------------------------------------------

    def _skip(self) -> bool:
        """A job whose write failed or that is no longer ours writes nothing more."""
        return self.job.id in self.runner.write_failed or self.runner.is_lost(self.job)

    def _progress(self, progress: dict) -> None:
        if not self._skip():
            self._owned(
                self.lib.claims.update_progress(
                    self.job.id, self.worker_id, lease=self.job.lease, **progress
                )
            )

    def _checkpoint(self, state: dict, step: int) -> None:
        if self._skip():
            return
        try:
            self.runner.checkpoint(self.job, state, step)
        except DoorwaysError as exc:
            self.runner.write_failed[self.job.id] = str(exc)

    def _preview(self, step: int, preview) -> None:
        if self._skip():
            return
        staged = self.runner.staged(self.job, self.preview_rel)
        try:
            save_png(staged, preview, self.config, extra={"job_id": self.job.id, "step": step})
            owned = self.lib.claims.set_preview(
                self.job.id,
                self.worker_id,
                path=self.preview_rel,
                step=step,
                width=preview.width,
                height=preview.height,
                sha256=sha256_file(staged),
                staged=staged,
                lease=self.job.lease,
            )
        except OSError as exc:
            remove_quietly(staged)
            self.runner.write_failed[self.job.id] = write_error(self.preview_rel, exc)
            return
        self._owned(owned)

    def _owned(self, owned: bool) -> None:
        if not owned:
            self.runner.mark_lost(self.job)
