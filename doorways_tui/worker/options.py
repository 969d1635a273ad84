"""How a worker runs (``WorkerOptions``) and what it is called: what the loop, the job
runner and the ``worker`` command share, in a module that imports neither of them."""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path

from doorways_tui.store.claims import DEFAULT_MAX_ATTEMPTS, DEFAULT_STALE_AFTER


def new_worker_id() -> str:
    """Short and unique enough to name a log file: host plus random hex."""
    host = socket.gethostname().split(".")[0][:16] or "host"
    return f"{host}-{secrets.token_hex(3)}"


@dataclass
class WorkerOptions:
    """How a worker runs. The ``exit``/``max_jobs`` options make tests deterministic."""

    device: str = "auto"
    model_dir: Path | None = None
    worker_id: str = field(default_factory=new_worker_id)
    max_jobs: int | None = None  # stop after this many jobs (done or failed)
    exit_when_idle: bool = False  # stop as soon as nothing is queued
    poll_s: float = 1.0  # how often an idle worker looks for work
    stale_after: float = DEFAULT_STALE_AFTER  # a job heartbeat older than this is requeued
    heartbeat_s: float | None = None  # default: stale_after / 6, at most 10 s
    progress_s: float = 0.5  # progress writes at most this often (plus every preview)
    checkpoint_s: float = 30.0  # a latent checkpoint at least this often (plus every preview)
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    batch: int = 1  # jobs stepped together when they share size and models (at most)
    # lower the batch, per size, to what the GPU's free memory holds by the engine's
    # estimate (engine/memory.py): no out-of-memory-then-retry on a smaller card
    fit_batch: bool = False

    @property
    def heartbeat_interval(self) -> float:
        if self.heartbeat_s is not None:
            return self.heartbeat_s
        return max(0.05, min(10.0, self.stale_after / 6))
