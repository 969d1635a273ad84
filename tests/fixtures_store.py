"""Helpers for store, queue and worker tests (imported explicitly; conftest.py is shared)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from doorways_engine.fetch import sha256_file
from doorways_tui.store import Job, Library
from doorways_tui.store.files import atomic_write_bytes, image_relpath

ROOT = Path(__file__).resolve().parent.parent

# A generation config for the tiny demo models: seconds on a CPU.
TINY = {
    "width": 64,
    "height": 64,
    "steps": 12,
    "cutn": 4,
    "vqgan": "demo",
    "clip": "demo",
    "preview_every": 4,
}


@dataclass
class Clock:
    """A clock the test moves by hand."""

    t: float = 1_000_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def new_library(path: Path, clock: Clock | None = None) -> Library:
    return Library.open(path, clock=clock) if clock else Library.open(path)


def seed_jobs(
    lib: Library, n: int, *, prompt: str = "entrance to heaven", config=None
) -> list[Job]:
    theme = lib.tree.add_theme("doors")
    variant = lib.tree.root_variant(theme_id=theme.id, prompt=prompt)
    return lib.queue.queue_jobs(variant.id, range(n), config or TINY, undoable=False)


def finish_fake(lib: Library, job: Job, worker_id: str = "w1") -> int:
    """Finish a claimed job with a small fake PNG-named file; returns the image id."""
    rel = image_relpath(variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="final")
    atomic_write_bytes(lib.abspath(rel), f"image {job.id}".encode())
    image = lib.claims.finish_job(
        job.id,
        worker_id,
        path=rel,
        step=job.total,
        width=64,
        height=64,
        sha256=sha256_file(lib.abspath(rel)),
        seconds=1.0,
    )
    assert image is not None
    return image.id


def subprocess_env(library: Path, model_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["DOORWAYS_LIBRARY"] = str(library)
    env["DOORWAYS_CONFIG"] = str(library / "no-config.toml")
    if model_dir is not None:
        env["DOORWAYS_MODEL_DIR"] = str(model_dir)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")  # two workers on two cores: no oversubscription
    return env


CLI = "import sys; from doorways_tui.cli import main; sys.exit(main(sys.argv[1:]))"


def doorways(*args: str, library: Path, model_dir: Path | None = None, timeout: float = 120):
    """Run the ``doorways`` CLI in a fresh interpreter; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-c", CLI, "--library", str(library), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(library, model_dir),
        cwd=ROOT,
    )


def job_rows(lib: Library) -> list[dict]:
    return [dict(r) for r in lib.db.rows("SELECT * FROM jobs ORDER BY id")]


def config_of(job: Job) -> dict:
    return json.loads(job.config)
