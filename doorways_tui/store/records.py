"""Plain, immutable records the library hands out. Safe to pass between threads."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from typing import Any, Self

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
EDIT_KINDS = ("root", "reroll", "modifier", "free", "theme")
IMAGE_KINDS = ("final", "preview")


class _Row:
    @classmethod
    def from_row(cls, row: sqlite3.Row | dict[str, Any]) -> Self:
        keys = row.keys()
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in keys})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Theme(_Row):
    id: int
    name: str
    created: float


@dataclass(frozen=True, slots=True)
class Variant(_Row):
    """A prompt in the tree: ``edit_kind``/``edit_text`` say how it was made from its parent."""

    id: int
    theme_id: int
    parent_id: int | None
    prompt: str
    style: str
    edit_kind: str
    edit_text: str
    created: float
    group_name: str | None = None  # its theme's group (a heading); None: none or older


@dataclass(frozen=True, slots=True)
class VariantNode(_Row):
    """A variant with the counts the tree shows next to it (one aggregated query)."""

    id: int
    theme_id: int
    parent_id: int | None
    prompt: str
    style: str
    edit_kind: str
    edit_text: str
    created: float
    group_name: str | None = None
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    images: int = 0
    starred: int = 0
    untriaged: int = 0


@dataclass(frozen=True, slots=True)
class Job(_Row):
    id: int
    variant_id: int
    seed: int
    config: str  # the full generation config as JSON (seed included)
    status: str
    priority: int
    attempts: int
    error: str | None
    step: int
    total: int
    it_per_s: float | None
    eta_s: float | None
    worker_id: str | None
    heartbeat: float | None
    checkpoint: str | None  # relative path of the latest latent checkpoint
    checkpoint_step: int | None
    seconds: float | None
    created: float
    started: float | None
    finished: float | None
    lease: int = 0  # which claim of the job this is (each claim gets a new one)
    loss: float | None = None  # total loss at its latest report step (while it runs)

    def config_dict(self) -> dict[str, Any]:
        return json.loads(self.config)

    @property
    def progress(self) -> float:
        """0..1, for a progress bar."""
        return self.step / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class QueueItem(_Row):
    """A row of the queue view: the job plus its variant's prompt."""

    id: int
    variant_id: int
    seed: int
    status: str
    priority: int
    attempts: int
    error: str | None
    step: int
    total: int
    it_per_s: float | None
    eta_s: float | None
    worker_id: str | None
    created: float
    started: float | None
    finished: float | None
    prompt: str


@dataclass(frozen=True, slots=True)
class Image(_Row):
    id: int
    job_id: int
    variant_id: int
    path: str  # relative to the library folder
    kind: str  # final | preview
    step: int
    width: int
    height: int
    sha256: str
    door_count: int | None
    rejected: bool
    starred: bool
    rating: int | None
    note: str
    created: float

    @classmethod
    def from_row(cls, row: sqlite3.Row | dict[str, Any]) -> Self:
        data = {f.name: row[f.name] for f in fields(cls)}
        data["rejected"] = bool(data["rejected"])
        data["starred"] = bool(data["starred"])
        return cls(**data)

    @property
    def triaged(self) -> bool:
        return self.door_count is not None or self.rejected


@dataclass(frozen=True, slots=True)
class WorkerInfo(_Row):
    id: str
    pid: int
    host: str
    device: str
    started: float
    heartbeat: float
    state: str
    current_job: int | None
    jobs_done: int
    log_path: str | None
    machine: str | None = None  # whose pids: host name, boot and pid namespace (this_machine)
    alive: bool = True  # heartbeat fresh (and process present, when on this machine)
    dead: bool = False  # on this machine, not stopped, and its process is gone (SIGKILL, crash)


@dataclass(frozen=True, slots=True)
class Throughput:
    """Jobs done recently: how many, over how long (from the start of the first of them,
    at most the window asked for), the rate that makes, and their mean run time."""

    done: int
    elapsed_s: float
    per_hour: float
    mean_job_s: float | None


@dataclass(frozen=True, slots=True)
class Event(_Row):
    id: int
    ts: float
    kind: str
    data: str

    def payload(self) -> dict[str, Any]:
        return json.loads(self.data)


@dataclass(frozen=True, slots=True)
class UndoEntry(_Row):
    """One step in the undo log: ``kind`` (triage | spawn), what it changed (``data``, as
    JSON), and the process that made it (``origin``; None for steps older than that)."""

    id: int
    ts: float
    kind: str
    data: str
    origin: str | None = None

    def payload(self) -> dict[str, Any]:
        return json.loads(self.data)


@dataclass(frozen=True, slots=True)
class UndoResult:
    """What ``lib.history.undo`` reverted: ``kind`` (triage | spawn), a one-line summary,
    and the log ``entry`` it undid. ``undone`` False: the newest step was made elsewhere
    and was left as it is (``entry`` says which); nothing changed."""

    kind: str
    summary: str
    image_id: int | None = None
    job_ids: tuple[int, ...] = ()
    variant_id: int | None = None
    entry: UndoEntry | None = None
    undone: bool = True


@dataclass(frozen=True, slots=True)
class QueueCounts:
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0
