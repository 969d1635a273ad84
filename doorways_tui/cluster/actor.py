"""The cluster's GPU actor: runs batches of jobs on one device of one node and reports
back as data (``messages.Event``), never touching the library.

One actor per GPU (Ray gives it ``num_gpus=1`` and sets ``CUDA_VISIBLE_DEVICES``, so
its device is ``cuda``). It loads the models once and keeps them while batches share
them, like a local worker's runner. A run goes on in a thread of the actor; the actor's
methods (``poll``, ``cancel``) answer while it runs, so a cancel lands within one step.
The class is plain Python: the dispatcher wraps it with ``ray.remote``, and the unit tests
call it in-process.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from doorways_tui.cluster.messages import (
    CHECKPOINT,
    DONE,
    DROPPED,
    FAILED,
    PREVIEW,
    PROGRESS,
    RELEASED,
    EventBuffer,
    JobSpec,
    ShippedFile,
    cache_target,
    receive_file,
)
from doorways_tui.store.claims import this_machine

log = logging.getLogger("doorways.cluster.actor")


class GpuActor:
    """Runs the batches the dispatcher sends, one at a time, on one device."""

    def __init__(
        self,
        *,
        slot: int,
        device: str = "auto",
        model_dir: str | None = None,
        batch: int = 1,
        progress_s: float = 0.5,
        checkpoint_s: float = 30.0,
    ) -> None:
        self.slot = slot
        self.device_option = device
        self.model_dir = Path(model_dir) if model_dir else None
        self.batch_limit = batch  # lowered to 1 after a batch runs out of memory
        self.progress_s, self.checkpoint_s = progress_s, checkpoint_s
        self._lock = threading.Lock()
        self._events = EventBuffer()
        self._jobs: dict[int, int] = {}  # job id -> lease, while its batch runs
        self._drop: set[int] = set()  # cancelled or not ours: stop, report nothing more
        self._release: set[int] = set()  # the dispatcher is stopping: stop, send the latent
        self._targets: dict[int, int] = {}  # job id -> a new step target (live triage)
        self._thread: threading.Thread | None = None
        self._models: Any = None
        self._models_for: Any = None
        self._tmp = Path(tempfile.mkdtemp(prefix="doorways-actor-"))
        self._gpu = _ray_gpu()

    # -- what the dispatcher calls --------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """Who this actor is: the worker row the dispatcher registers for it."""
        return {
            "slot": self.slot,
            "host": socket.gethostname(),
            "machine": this_machine(),
            "pid": os.getpid(),
            "node": _ray_node(),
            "device": f"cuda:{self._gpu}" if self._gpu is not None else self._torch_device(),
            "batch_limit": self.batch_limit,
        }

    def start(self, specs: Sequence[JobSpec], shipment: Sequence[tuple] = ()) -> list[int]:
        """Start running a batch in the background; refused while another one runs.
        ``shipment``: (ShippedFile, bytes or an object-store reference) for model files
        this node may lack."""
        if self._thread is not None:  # its endings are sent: it is leaving
            self._thread.join(timeout=5)
        with self._lock:
            if self._jobs:
                raise RuntimeError(f"actor {self.slot} is busy with jobs {sorted(self._jobs)}")
            self._jobs = {s.job_id: s.lease for s in specs}
            self._drop.clear()
            self._release.clear()
        self._thread = threading.Thread(
            target=self._run, args=(list(specs), list(shipment)), name="run", daemon=True
        )
        self._thread.start()
        return [s.job_id for s in specs]

    def poll(self, acked: int) -> dict[str, Any]:
        """The events after ``acked`` (those up to it are forgotten), and what runs now."""
        with self._lock:
            return {
                "events": self._events.since(acked),
                "jobs": dict(self._jobs),
                "batch_limit": self.batch_limit,
            }

    def cancel(self, job_ids: Sequence[int], *, keep: bool = False) -> None:
        """Stop these jobs at the end of the current step: ``keep`` sends their latent back
        (the dispatcher is stopping and requeues them), otherwise they are dropped
        (cancelled by the artist, or no longer this actor's)."""
        with self._lock:
            (self._release if keep else self._drop).update(job_ids)

    def extend(self, job_id: int, steps: int) -> None:
        """The artist changed a running job's step target: its run follows it from the
        next step (the engine's ``Batch.set_steps``)."""
        with self._lock:
            self._targets[job_id] = steps

    def running(self) -> dict[int, int]:
        """Job id -> lease of the batch running now (what a restarted dispatcher adopts)."""
        with self._lock:
            return dict(self._jobs)

    # -- a batch ----------------------------------------------------------------------------

    def _emit(self, kind: str, job_id: int, lease: int, **fields: Any) -> None:
        with self._lock:
            self._events.add(kind, job_id, lease, **fields)

    def _stopped(self, job_id: int) -> bool:
        return job_id in self._drop or job_id in self._release

    def _run(self, specs: list[JobSpec], shipment: list[tuple]) -> None:
        try:
            self._run_batch(specs, shipment)
        except BaseException as exc:  # never leave jobs without an ending
            log.error("batch crashed:\n%s", "".join(traceback.format_exception(exc)))
            for spec in specs:
                self._emit(FAILED, spec.job_id, spec.lease, message=f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._jobs = {}

    def _run_batch(self, specs: list[JobSpec], shipment: list[tuple]) -> None:
        from doorways_engine import Cancelled, GenerationResult
        from doorways_engine.errors import DoorwaysError

        ready: list[tuple[JobSpec, Any]] = []
        for spec in specs:
            try:
                ready.append((spec, self._config(spec)))
            except DoorwaysError as exc:
                self._emit(FAILED, spec.job_id, spec.lease, message=str(exc))
        if not ready:
            return
        try:
            results = self._step_all(ready, self._load(ready[0][1], shipment))
        except Exception as exc:
            self._batch_failed(ready, exc)
            return
        for spec, _ in ready:
            result = results[spec.job_id]
            if isinstance(result, GenerationResult):
                self._done(spec, result)
            elif isinstance(result, Cancelled):
                self._cancelled(spec, result)
            else:
                self._emit(FAILED, spec.job_id, spec.lease, message=str(result))

    def _step_all(self, ready: list[tuple[JobSpec, Any]], models: Any) -> dict[int, Any]:
        """Step the batch to its end, following step targets the artist changes."""
        from doorways_engine.loop import Batch

        batch = Batch(models, ready[0][1], capacity=len(ready))
        results: dict[int, Any] = {}
        for spec, config in ready:
            try:
                batch.add(
                    spec.job_id,
                    config,
                    callback=_Report(self, spec, config),
                    cancel=lambda s=spec: self._stopped(s.job_id),
                )
            except Exception as exc:  # a bad init image or latent ends its own job only
                results[spec.job_id] = exc
        while batch:
            with self._lock:
                targets, self._targets = self._targets, {}
            for job_id, steps in targets.items():
                if job_id in batch and steps >= 1:
                    batch.set_steps(job_id, steps)
            results.update(batch.step())
        return results

    def _config(self, spec: JobSpec):
        """The job's config on this node: its init image and checkpoint as local files."""
        from doorways_engine import GenerationConfig, load_state
        from doorways_engine.errors import ConfigError

        config = GenerationConfig.from_json(spec.config)
        if config.init_image:
            if spec.init_image is None:
                raise ConfigError(f"init image {config.init_image} did not reach this node")
            path = self._tmp / f"init-{spec.job_id}{Path(config.init_image).suffix or '.png'}"
            path.write_bytes(spec.init_image)
            config = config.replace(init_image=str(path))
        if spec.checkpoint is None:
            return config
        path = self._tmp / f"job-{spec.job_id}.pt"
        path.write_bytes(spec.checkpoint)
        try:
            step = int(load_state(path)["step"])
        except Exception as exc:  # torn or unreadable: start over rather than fail
            log.warning("job %d: checkpoint unusable (%s); starting over", spec.job_id, exc)
            return config
        log.info("job %d: resuming from step %d", spec.job_id, step)
        return config.replace(resume_latent=str(path), start_step=step)

    def _load(self, config, shipment: list[tuple]):
        from doorways_engine import load_models

        if self._models is not None and config.same_models(self._models_for):
            return self._models
        self._models = None
        self._free_memory()
        model_dir = self.model_dir
        if shipment:
            from doorways_engine.model_files import default_model_dir

            model_dir = model_dir or default_model_dir()
            for shipped, blob in shipment:
                _receive(model_dir, shipped, blob)
        self._models = load_models(config, device=self._torch_device(), model_dir=model_dir)
        self._models_for = config
        log.info("models: %s on %s", self._models.files.label, self._models.device)
        return self._models

    def _torch_device(self) -> str:
        """Ray shows an actor only its own GPU: it is ``cuda`` (cuda:0) inside."""
        return "cuda" if self._gpu is not None else self.device_option

    def _done(self, spec: JobSpec, result) -> None:
        data = self._png(spec, "final", result.image, result.config, losses=result.losses)
        judged = self._judge(spec, result)
        self._emit(
            DONE,
            spec.job_id,
            spec.lease,
            step=result.steps,
            total=result.config.steps,
            data=data,
            width=result.image.width,
            height=result.image.height,
            seconds=result.seconds,
            judged=judged,
        )

    def _judge(self, spec: JobSpec, result) -> Any:
        """CLIP's suggestion for a final image, with the models that made it (issue 18:
        what a local worker stores after each final); None if it cannot be had."""
        if spec.probes is None or self._models is None:
            return None
        from doorways_engine.curation import clip_name, curate
        from doorways_tui.store.curation import stored

        try:
            embedding, judgement = curate(result.image, self._models, result.config, spec.probes)
            return stored(embedding, judgement, model=clip_name(result.config), probes=spec.probes)
        except Exception as exc:  # noqa: BLE001 - a suggestion never costs a finished image
            log.warning("job %d: no CLIP suggestion (%s: %s)", spec.job_id, type(exc).__name__, exc)
            return None

    def _cancelled(self, spec: JobSpec, exc) -> None:
        if spec.job_id in self._drop:
            self._emit(DROPPED, spec.job_id, spec.lease, step=exc.step)
            return
        data = self._state(spec, exc.state) if exc.state is not None else None
        self._emit(
            RELEASED,
            spec.job_id,
            spec.lease,
            step=exc.step,
            data=data,
            message="cluster dispatcher stopping",
        )

    def _batch_failed(self, ready: list[tuple[JobSpec, Any]], exc: Exception) -> None:
        from doorways_engine.errors import DoorwaysError, OutOfMemoryError

        oom = isinstance(exc, OutOfMemoryError) or type(exc).__name__ == "OutOfMemoryError"
        if oom:
            self._free_memory()
        for spec, config in ready:
            if oom and len(ready) > 1:  # the batch, not the job, was too big: alone next
                self.batch_limit = 1
                self._emit(RELEASED, spec.job_id, spec.lease, message="out of memory in a batch")
            elif oom and not isinstance(exc, OutOfMemoryError):
                message = (
                    f"out of memory on {self.info()['device']} at {config.width}x{config.height}"
                    f" with {config.cutn} cutouts: retry with fewer cutouts or a smaller size"
                )
                self._emit(FAILED, spec.job_id, spec.lease, message=message)
            elif isinstance(exc, DoorwaysError):
                self._emit(FAILED, spec.job_id, spec.lease, message=str(exc))
            else:
                log.error(
                    "job %d crashed:\n%s", spec.job_id, "".join(traceback.format_exception(exc))
                )
                self._emit(FAILED, spec.job_id, spec.lease, message=f"{type(exc).__name__}: {exc}")

    # -- files as bytes ---------------------------------------------------------------------

    def _png(self, spec: JobSpec, kind: str, image, config, **extra: Any) -> bytes:
        from doorways_engine import save_png

        path = self._tmp / f"j{spec.job_id}-{kind}.png"
        save_png(path, image, config, extra={"job_id": spec.job_id, **extra})
        return _read_and_remove(path)

    def _state(self, spec: JobSpec, state: dict) -> bytes:
        from doorways_engine import save_state

        path = self._tmp / f"j{spec.job_id}-state.pt"
        save_state(path, state)
        return _read_and_remove(path)

    def _free_memory(self) -> None:
        import gc

        import torch

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "_tmp", ""), ignore_errors=True)


class _Report:
    """The engine's callback on the actor: previews and checkpoints as bytes, throttled
    progress (what worker/runner.py's progress callback writes to the library)."""

    def __init__(self, actor: GpuActor, spec: JobSpec, config) -> None:
        self.actor, self.spec, self.config = actor, spec, config
        self.last_write = 0.0
        self.last_checkpoint = time.monotonic()
        self.loss: float | None = None

    def __call__(self, step: int, info) -> None:
        actor, spec = self.actor, self.spec
        now = time.monotonic()
        last = step >= info.total
        if info.losses:
            self.loss = info.losses.get("total", self.loss)
        preview = info.preview if not last else None
        if preview is not None:
            data = actor._png(spec, "preview", preview, self.config, step=step)
            actor._emit(
                PREVIEW,
                spec.job_id,
                spec.lease,
                step=step,
                data=data,
                width=preview.width,
                height=preview.height,
            )
        if not last and (preview is not None or now - self.last_checkpoint >= actor.checkpoint_s):
            actor._emit(
                CHECKPOINT,
                spec.job_id,
                spec.lease,
                step=step,
                data=actor._state(spec, info.state()),
            )
            self.last_checkpoint = now
        if preview is not None or last or now - self.last_write >= actor.progress_s:
            actor._emit(
                PROGRESS,
                spec.job_id,
                spec.lease,
                step=step,
                total=info.total,
                it_per_s=info.it_per_s,
                eta_s=info.eta_s,
                loss=self.loss,
            )
            self.last_write = now


def _read_and_remove(path: Path) -> bytes:
    try:
        return path.read_bytes()
    finally:
        path.unlink(missing_ok=True)


def _receive(model_dir: Path, shipped: ShippedFile, blob: Any) -> None:
    """A shipped model file into this node's cache, unless it is there already with the
    right checksum; the bytes are fetched from the object store only then (once a node)."""
    from doorways_engine.fetch import sha256_file

    target = cache_target(model_dir, shipped.relpath)
    here = target.is_file() and target.stat().st_size == shipped.size
    if here and sha256_file(target) == shipped.sha256:
        return
    if not isinstance(blob, bytes):  # an object-store reference
        import ray

        blob = ray.get(blob)
    receive_file(model_dir, shipped, blob)
    log.info("model file %s received (%d bytes, sha256 checked)", shipped.relpath, len(blob))


def _ray_gpu() -> int | None:
    """The GPU Ray gave this actor, or None (not under Ray, or on CPUs)."""
    try:
        import ray

        if not ray.is_initialized():
            return None
        ids = ray.get_gpu_ids()
    except Exception:
        return None
    return int(ids[0]) if ids else None


def _ray_node() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()[:12] if ray.is_initialized() else "local"
    except Exception:
        return "local"
