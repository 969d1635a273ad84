"""An actor's events written into the library, as a local worker writes its own.

The dispatcher is the only writer of the library: it stages each file an actor sent
(``files.staged_path``, named after the actor's worker id and the claim's lease) and hands
it to the store's claims API, which moves it into place only while the job is still that
claim's. An event read twice, or one from a claim that was taken back, changes nothing.

(worker/runner.py does the same from files the engine wrote on this machine; a shared
"stage these bytes and record them" helper is what both would use.)
"""

from __future__ import annotations

import hashlib
import logging
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
    Event,
)
from doorways_tui.store import Image, Job, Library
from doorways_tui.store.files import (
    attempt_tag,
    checkpoint_relpath,
    image_relpath,
    remove_quietly,
    staged_path,
)

log = logging.getLogger("doorways.cluster")

# What ``apply`` says of the job afterwards.
GOING, ENDED, LOST = "going", "ended", "lost"


def write_failed(relpath: str, exc: OSError) -> str:
    """The job's error when the library machine cannot write one of its files."""
    return f"could not write {relpath}: {exc.strerror or exc}"


class LibraryWrites:
    """Writes the events of the actor registered as ``worker_id``."""

    def __init__(self, lib: Library, worker_id: str) -> None:
        self.lib = lib
        self.worker_id = worker_id

    def apply(self, job: Job, event: Event) -> str:
        """Write one event of ``job`` (the claimed row, for its variant and seed). Returns
        ``ended`` when the job's run is over, ``lost`` when it is no longer this claim's
        (the actor must drop it), else ``going``."""
        try:
            return self._apply(job, event)
        except OSError as exc:  # a full disk on the library machine: the job ends failed
            message = write_failed(getattr(exc, "relpath", "a file"), exc)
            log.warning("job %d: %s", job.id, message)
            self.lib.claims.fail_job(job.id, self.worker_id, message, lease=event.lease)
            return LOST

    def _apply(self, job: Job, e: Event) -> str:
        claims, wid = self.lib.claims, self.worker_id
        if e.kind == PROGRESS:
            owned = claims.update_progress(
                job.id,
                wid,
                step=e.step,
                total=e.total,
                it_per_s=e.it_per_s,
                eta_s=e.eta_s,
                loss=e.loss,
                lease=e.lease,
            )
            return GOING if owned else LOST
        if e.kind == PREVIEW:
            rel = image_relpath(
                variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="preview"
            )
            owned = claims.set_preview(
                job.id,
                wid,
                path=rel,
                step=e.step,
                width=e.width,
                height=e.height,
                sha256=_sha256(e.data),
                staged=self._stage(rel, e),
                lease=e.lease,
            )
            return GOING if owned else LOST
        if e.kind == CHECKPOINT:
            return GOING if self._checkpoint(job, e) else LOST
        if e.kind == DONE:
            rel = image_relpath(
                variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="final"
            )
            image = claims.finish_job(
                job.id,
                wid,
                path=rel,
                step=e.step,
                width=e.width,
                height=e.height,
                sha256=_sha256(e.data),
                seconds=e.seconds,
                staged=self._stage(rel, e),
                lease=e.lease,
            )
            if image is None:
                return self._lost(job)
            log.info("job %d: done on %s in %.1f s -> %s", job.id, wid, e.seconds, image.path)
            if e.judged is not None:  # CLIP's suggestion, made on the actor
                self._save_judged(image, e.judged)
            return ENDED
        if e.kind == FAILED:
            log.warning("job %d failed on %s: %s", job.id, wid, e.message)
            return (
                ENDED if claims.fail_job(job.id, wid, e.message, lease=e.lease) else self._lost(job)
            )
        if e.kind == RELEASED:
            if e.data is not None and e.step > (job.checkpoint_step or 0):
                self._checkpoint(job, e)
            if not claims.release_job(job.id, wid, reason=e.message or "released", lease=e.lease):
                return self._lost(job)
            log.info("job %d: put back in the queue at step %d (%s)", job.id, e.step, e.message)
            return ENDED
        if e.kind == DROPPED:
            return self._lost(job)
        raise ValueError(f"unknown event {e.kind!r}")

    def _save_judged(self, image: Image, judged: Any) -> None:
        embedding, suggestion = judged
        try:
            self.lib.curation.save(
                image.id, sha256=image.sha256, embedding=embedding, suggestion=suggestion
            )
        except Exception as exc:  # noqa: BLE001 - the image is done either way
            log.warning("image %d: suggestion not stored (%s)", image.id, exc)

    def _checkpoint(self, job: Job, e: Event) -> bool:
        rel = checkpoint_relpath(job.id)
        return self.lib.claims.set_checkpoint(
            job.id,
            self.worker_id,
            path=rel,
            step=e.step,
            staged=self._stage(rel, e),
            lease=e.lease,
        )

    def _stage(self, relpath: str, e: Event) -> Path:
        """The event's bytes in this claim's temporary file for ``relpath``."""
        staged = staged_path(self.lib.abspath(relpath), attempt_tag(self.worker_id, e.lease))
        try:
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(e.data or b"")
        except OSError as exc:
            remove_quietly(staged)
            exc.relpath = relpath  # type: ignore[attr-defined]
            raise
        return staged

    def _lost(self, job: Job) -> str:
        """Cancelled or taken back: leave it alone (a cancelled job's checkpoint goes, as a
        local worker's does)."""
        status = self.lib.queue.job(job.id).status
        if status == "cancelled":
            remove_quietly(self.lib.abspath(checkpoint_relpath(job.id)))
        log.info("job %d: no longer %s's (%s); dropped", job.id, self.worker_id, status)
        return LOST


def _sha256(data: bytes | None) -> str:
    return hashlib.sha256(data or b"").hexdigest()
