"""Every GPU of this machine: one worker each (``doorways worker --all-gpus``).

The GPUs are the ones this process may use: torch numbers those ``CUDA_VISIBLE_DEVICES``
leaves visible 0..n-1, and the workers inherit the variable, so ``cuda:N`` names the
same card in each. Each worker gets the batch its card's memory allows, unless told.
torch is imported only to list the cards; tests pass a list of their own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from doorways_tui.worker.loop import Detached, start_detached

GIB = 1024**3


@dataclass(frozen=True)
class Gpu:
    """One visible card, numbered as this process (and its workers) see it."""

    index: int
    name: str
    memory_bytes: int

    @property
    def device(self) -> str:
        return f"cuda:{self.index}"


def visible_gpus() -> list[Gpu]:
    """The CUDA cards torch can use here ([] on a machine without one)."""
    import torch

    if not torch.cuda.is_available():
        return []
    found = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        found.append(Gpu(index, props.name, int(props.total_memory)))
    return found


def visible_note() -> str:
    """What limits the list, for the message when it is empty."""
    mask = os.environ.get("CUDA_VISIBLE_DEVICES")
    return f" (CUDA_VISIBLE_DEVICES={mask!r})" if mask is not None else ""


def worker_ids(base: str, gpus: Sequence[Gpu]) -> list[str]:
    """``BASE-gpuN``: the card in the worker's name, in ``status`` and its log file."""
    return [f"{base}-gpu{gpu.index}" for gpu in gpus]


def start_all(
    library: Path,
    gpus: Sequence[Gpu],
    *,
    base_id: str,
    args: Sequence[str] = (),
    batch: int | None = None,
    start: Callable[..., Detached] | None = None,
) -> list[Detached]:
    """One detached worker per card, each on its device (``--device cuda:N``), with
    ``batch``, or (None) each fitting its batches to its own card's free memory by the
    engine's estimate. ``args`` are further worker options."""
    start = start or start_detached
    size = ["--batch", str(batch)] if batch else []
    return [
        start(library, device=gpu.device, worker_id=worker_id, args=[*args, *size])
        for gpu, worker_id in zip(gpus, worker_ids(base_id, gpus), strict=True)
    ]


def wait_all(
    workers: Sequence[Detached],
    *,
    poll_s: float = 0.5,
    on_signal: Callable[[int], None] | None = None,
) -> int:
    """Wait in the foreground for workers started by ``start_all``: SIGTERM/SIGINT/SIGHUP
    here is passed on to every one (each ends its step and gives its job back); returns
    0 when all ended well, else the first other exit code."""

    def forward(signum: int, _frame) -> None:
        if on_signal is not None:
            on_signal(signum)
        for w in workers:
            if w.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGTERM)

    previous = {
        sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    try:
        while any(w.process.poll() is None for w in workers):
            time.sleep(poll_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return next((w.process.returncode for w in workers if w.process.returncode), 0)
