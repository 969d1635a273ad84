"""What crosses the network between the dispatcher and its actors: plain data, no files.

The dispatcher hands an actor ``JobSpec``s (the config, and the bytes of the job's
checkpoint and init image: the nodes share no file system with the library); the actor
answers with ``Event``s, which it keeps in an ``EventBuffer`` until the dispatcher
acknowledges them. So a dispatcher that dies and comes back reads what it missed, and one
that reads an event twice changes nothing (every write it makes checks the claim's lease).
No Ray here, and no torch: this module is what the unit tests of the bookkeeping use.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

# What an event says about its job. The last four end the job on the actor.
PROGRESS, PREVIEW, CHECKPOINT = "progress", "preview", "checkpoint"
DONE, FAILED, RELEASED, DROPPED = "done", "failed", "released", "dropped"
ENDINGS = (DONE, FAILED, RELEASED, DROPPED)
# Only the latest of these matters: a newer one replaces an unread older one of its job.
REPLACEABLE = (PROGRESS, PREVIEW, CHECKPOINT)


@dataclass(frozen=True)
class JobSpec:
    """One claimed job as an actor needs it: no path into the library."""

    job_id: int
    lease: int
    config: str  # the stored JSON (init_image, if any, is the library's relative path)
    checkpoint: bytes | None = field(default=None, repr=False)  # the last latent, to resume
    init_image: bytes | None = field(default=None, repr=False)
    probes: Any = None  # the library's curation probes: the actor judges the final image


@dataclass(frozen=True)
class Event:
    """Something an actor reports about one job (``kind`` is one of the names above)."""

    seq: int
    kind: str
    job_id: int
    lease: int
    step: int = 0
    total: int = 0
    it_per_s: float | None = None
    eta_s: float | None = None
    loss: float | None = None  # the total loss at the latest report (progress)
    data: bytes | None = field(default=None, repr=False)  # PNG or run state
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    message: str = ""
    judged: Any = None  # on a final: (Embedding, Suggestion) as the store keeps them, or None


class EventBuffer:
    """An actor's outbox: events in order, kept until acknowledged. A newer progress,
    preview or checkpoint of a job replaces an unread older one, so a dispatcher that is
    slow (or gone for a while) costs the actor one of each per job, not a pile."""

    def __init__(self) -> None:
        self._events: list[Event] = []
        self._seq = 0

    def add(self, kind: str, job_id: int, lease: int, **fields: object) -> Event:
        self._seq += 1
        event = Event(self._seq, kind, job_id, lease, **fields)  # type: ignore[arg-type]
        if kind in REPLACEABLE:
            self._events = [e for e in self._events if not (e.kind == kind and e.job_id == job_id)]
        self._events.append(event)
        return event

    def since(self, acked: int) -> list[Event]:
        """The events after ``acked``; those up to it are forgotten (the reader has them)."""
        self._events = [e for e in self._events if e.seq > acked]
        return list(self._events)

    @property
    def last_seq(self) -> int:
        return self._seq


# -- model files shipped through the object store ------------------------------------------


@dataclass(frozen=True)
class ShippedFile:
    """A model file the library machine has and a node may not: where it goes in the
    node's model cache, and the sha256 the bytes must have when they arrive."""

    relpath: str  # under the model cache: vqgan/NAME/last.ckpt, clip/ViT-B-32.pt
    sha256: str
    size: int


class ShipmentError(Exception):
    """A shipped model file that arrived damaged, or names a place outside the cache."""


def cache_target(model_dir: Path, relpath: str) -> Path:
    """Where a shipped file goes: inside ``model_dir`` only (a relative path, no ``..``)."""
    pure = PurePosixPath(relpath)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise ShipmentError(f"shipped model file {relpath!r} is not a path inside the cache")
    return Path(model_dir, *pure.parts)


def receive_file(model_dir: Path, shipped: ShippedFile, data: bytes) -> Path:
    """Write a shipped model file into the node's cache after checking its sha256; a
    damaged one is refused (and nothing is written)."""
    got = hashlib.sha256(data).hexdigest()
    if got != shipped.sha256:
        raise ShipmentError(
            f"model file {shipped.relpath} arrived with sha256 {got[:12]}…, sent as"
            f" {shipped.sha256[:12]}…: refused"
        )
    target = cache_target(model_dir, shipped.relpath)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
