"""``fit_batch``: a worker on a GPU steps as many jobs together as the free memory holds by
the engine's estimate (engine/memory.py), never more than its ``--batch`` cap, so a small
card gets small batches instead of running out of memory and retrying alone. The free
memory is faked here (this machine has no GPU); the estimate is the real one."""

from __future__ import annotations

import pytest

import doorways_engine.memory as memory
import doorways_tui.worker.runner as runner_module
from doorways_engine import GenerationConfig
from doorways_tui.worker.loop import run_worker
from doorways_tui.worker.options import WorkerOptions
from tests.fixtures_store import TINY, seed_jobs
from tests.worker_shared import BatchSpy, lib  # noqa: F401  (fixtures)

QUIET = {**TINY, "preview_every": 0, "steps": 3}


@pytest.fixture(autouse=True)
def shared_models(monkeypatch, demo_models) -> None:
    monkeypatch.setattr(runner_module, "load_models", lambda config, **kw: demo_models)


def free_for(config: GenerationConfig, images: float) -> int:
    """Free bytes that hold the models and ``images`` images of ``config``."""
    est = memory.estimate(config)
    return int((est.weights + est.workspace + images * est.per_image) / memory.HEADROOM)


def run(lib, model_dir, monkeypatch, *, free: int | None, fit: bool, cap: int = 4) -> BatchSpy:
    monkeypatch.setattr(memory, "free_bytes", lambda device: free)
    spy = BatchSpy(monkeypatch)
    seed_jobs(lib, 6, config=QUIET)
    options = WorkerOptions(
        device="cpu",
        model_dir=model_dir,
        worker_id="w-fit",
        exit_when_idle=True,
        poll_s=0.05,
        batch=cap,
        fit_batch=fit,
    )
    assert run_worker(lib, options, install_signals=False) == 6
    return spy


def test_the_batch_is_fitted_to_the_free_memory(lib, model_dir, monkeypatch):
    config = GenerationConfig.from_dict(QUIET)
    assert memory.pick_batch(config, free_bytes=free_for(config, 2.5), limit=4) == 2
    spy = run(lib, model_dir, monkeypatch, free=free_for(config, 2.5), fit=True)
    assert max(len(step) for step in spy.steps) == 2


def test_the_cap_holds_when_the_memory_is_plentiful(lib, model_dir, monkeypatch):
    config = GenerationConfig.from_dict(QUIET)
    spy = run(lib, model_dir, monkeypatch, free=free_for(config, 40), fit=True, cap=3)
    assert max(len(step) for step in spy.steps) == 3


def test_no_gpu_or_a_batch_asked_for_is_not_fitted(lib, model_dir, monkeypatch):
    config = GenerationConfig.from_dict(QUIET)
    spy = run(lib, model_dir, monkeypatch, free=free_for(config, 1), fit=False, cap=3)
    assert max(len(step) for step in spy.steps) == 3  # --batch 3: the artist's choice
