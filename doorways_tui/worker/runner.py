"""Running one claimed job with the engine: resume, progress, previews, checkpoints, result.

Whatever goes wrong with a job (a bad config, missing weights, out of memory, a full disk)
ends as that job's error text; the worker goes on with the next one.

Every file is written under this attempt's own temporary name and handed to the store, which
moves it into place only while the job is still this worker's (see store/claims.py).
"""

from __future__ import annotations

import errno
import logging
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from doorways_engine import (
    Cancelled,
    GenerationConfig,
    GenerationResult,
    Models,
    StepInfo,
    generate_batch,
    load_models,
    load_state,
    save_png,
    save_state,
)
from doorways_engine.errors import DoorwaysError, OutOfMemoryError
from doorways_engine.fetch import sha256_file
from doorways_tui.store import Job, Library
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

log = logging.getLogger("doorways.worker")

Outcome = Literal["done", "failed", "released", "lost"]


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


class JobRunner:
    """Runs jobs for one worker, keeping the loaded models while jobs share them. Jobs that
    share a size and models can run as one batch (``run_batch``)."""

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
        self.lost_jobs = lost_jobs  # ids the heartbeat found cancelled or taken back
        self.batch_limit = options.batch  # lowered to 1 after a batch runs out of memory
        self._models: Models | None = None
        self._models_for: GenerationConfig | None = None

    def is_lost(self, job: Job) -> bool:
        return job.id in self.lost_jobs

    def mark_lost(self, job: Job) -> None:
        self.lost_jobs.add(job.id)

    def run(self, job: Job) -> Outcome:
        return self.run_batch([job])[0]

    def run_batch(self, jobs: list[Job]) -> list[Outcome]:
        """Run claimed jobs together; each ends done, failed, released or lost on its own."""
        outcomes: dict[int, Outcome] = {}
        ready: list[tuple[Job, GenerationConfig]] = []
        for job in jobs:
            log.info("job %d (seed %d, attempt %d): starting", job.id, job.seed, job.attempts)
            try:
                ready.append((job, self._config(job)))
            except DoorwaysError as exc:
                outcomes[job.id] = self._fail(job, str(exc))
        if ready:
            self._run_ready(ready, outcomes)
        return [outcomes[job.id] for job in jobs]

    def _run_ready(
        self, ready: list[tuple[Job, GenerationConfig]], outcomes: dict[int, Outcome]
    ) -> None:
        configs = [config for _, config in ready]
        try:
            models = self._load(configs[0])
            results = generate_batch(
                configs,
                callbacks=[_Progress(self, job, config) for job, config in ready],
                cancels=[
                    lambda job=job: self.should_stop() or self.is_lost(job) for job, _ in ready
                ],
                models=models,
            )
        except Exception as exc:  # the whole batch ended: models, memory, a crash
            for job, config in ready:
                outcomes[job.id] = self._batch_failed(job, config, exc, size=len(ready))
            return
        for (job, _), result in zip(ready, results, strict=True):
            if isinstance(result, GenerationResult):
                outcomes[job.id] = self._finish(job, result)
            elif isinstance(result, Cancelled):
                outcomes[job.id] = self._cancelled(job, result)
            else:
                outcomes[job.id] = self._fail(job, str(result))

    def _batch_failed(
        self, job: Job, config: GenerationConfig, exc: Exception, *, size: int
    ) -> Outcome:
        oom = isinstance(exc, OutOfMemoryError) or type(exc).__name__ == "OutOfMemoryError"
        if oom:
            self._free_memory()
            if size > 1:  # try again alone: the batch, not the job, was too big
                self.batch_limit = 1
                log.warning(
                    "job %d: out of memory in a batch of %d; requeued to run alone", job.id, size
                )
                self.lib.claims.release_job(
                    job.id, self.worker_id, reason="out of memory in a batch", lease=job.lease
                )
                return "released"
            if isinstance(exc, OutOfMemoryError):  # the engine's message says what to change
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

    def _finish(self, job: Job, result) -> Outcome:
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
        log.info("job %d: done in %.1f s -> %s", job.id, result.seconds, image.path)
        # issue 18: the CLIP suggestion, once the image is written (never fails the job)
        after_finish(self.lib, image, result.image, self._load(result.config), result.config)
        return "done"

    def staged(self, job: Job, relpath: str) -> Path:
        """This attempt's temporary file for the library file ``relpath``."""
        return staged_path(self.lib.abspath(relpath), attempt_tag(self.worker_id, job.lease))

    def _cancelled(self, job: Job, exc: Cancelled) -> Outcome:
        if self.is_lost(job):
            return self._lost(job)
        if exc.state is not None and exc.step > (job.checkpoint_step or 0):
            try:
                self.checkpoint(job, exc.state, exc.step)
            except DoorwaysError as error:  # it resumes from an older checkpoint
                log.warning("job %d: %s", job.id, error)
        self.lib.claims.release_job(job.id, self.worker_id, reason="worker stopping", lease=job.lease)
        log.info("job %d: stopped at step %d and put back in the queue", job.id, exc.step)
        return "released"

    def _lost(self, job: Job) -> Outcome:
        """The job was cancelled or given to another worker: leave it alone. (Its preview
        went with the cancel, and no file of ours reached its place once it was not ours.)"""
        status = self.lib.queue.job(job.id).status
        if status == "cancelled":
            remove_quietly(self.lib.abspath(checkpoint_relpath(job.id)))
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
    """The engine callback: throttled progress writes, previews and checkpoints."""

    def __init__(self, runner: JobRunner, job: Job, config: GenerationConfig) -> None:
        self.runner, self.job, self.config = runner, job, config
        self.lib, self.worker_id = runner.lib, runner.worker_id
        now = time.monotonic()
        self.last_write = 0.0
        self.last_checkpoint = now
        self.preview_rel = image_relpath(
            variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="preview"
        )

    def __call__(self, step: int, info: StepInfo) -> None:
        now = time.monotonic()
        last = step >= info.total
        preview = info.preview if not last else None
        if preview is not None:
            self._preview(step, preview)
        options = self.runner.options
        if not last and (preview is not None or now - self.last_checkpoint >= options.checkpoint_s):
            self.runner.checkpoint(self.job, info.state(), step)
            self.last_checkpoint = now
        if preview is not None or last or now - self.last_write >= options.progress_s:
            self._owned(
                self.lib.claims.update_progress(
                    self.job.id,
                    self.worker_id,
                    step=step,
                    total=info.total,
                    it_per_s=info.it_per_s,
                    eta_s=info.eta_s,
                    lease=self.job.lease,
                )
            )
            self.last_write = now

    def _preview(self, step: int, preview) -> None:
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
            raise DoorwaysError(write_error(self.preview_rel, exc)) from exc
        self._owned(owned)

    def _owned(self, owned: bool) -> None:
        if not owned:
            self.runner.mark_lost(self.job)
