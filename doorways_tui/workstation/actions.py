"""What the workstation's run keys do to the library: reroll, edit the prompt, run from an
init image, start a worker. Each new run reuses its parent job's config (models included)
with a new seed or prompt. No Textual, no torch.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from doorways_tui.core.triage import plural
from doorways_tui.store import Image, Job, Library, Variant
from doorways_tui.store.files import INIT_DIR

REROLL_MANY = 4  # seeds queued by R


@dataclass(frozen=True)
class Queued:
    """New work: the jobs, and the child variant when one was made."""

    jobs: tuple[Job, ...]
    variant: Variant | None = None

    def summary(self) -> str:
        seeds = ", ".join(str(j.seed) for j in self.jobs)
        what = f"{len(self.jobs)} job(s) queued (seed {seeds})"
        if self.variant is not None:
            return f"{what} for “{self.variant.prompt}”"
        return what


def reroll(lib: Library, image_id: int, n: int = 1) -> Queued:
    """``n`` more seeds of the image's variant, same config."""
    return Queued(tuple(lib.queue.reroll(image_id=image_id, n=n)))


def edit_prompt(
    lib: Library, image: Image, prompt: str, *, edit_kind: str, edit_text: str
) -> Queued:
    """A child variant of the image's variant with ``prompt``, queued with the image's seed
    (so the edit's effect can be compared seed for seed)."""
    job = lib.queue.job(image.job_id)
    variant, jobs = lib.queue.spawn(
        parent_id=image.variant_id,
        prompt=prompt,
        edit_kind=edit_kind,
        edit_text=edit_text,
        seeds=[job.seed],
        config=job.config_dict(),
    )
    return Queued(tuple(jobs), variant)


def init_copy_path(lib: Library, image: Image) -> Path:
    """A finished image's copy is one per image; a live preview's, one per step it
    reached (the file under it changes as the run goes on)."""
    step = f"-step{image.step}" if image.kind == "preview" else ""
    return lib.root / INIT_DIR / f"init-image-{image.id:06d}{step}.png"


def prepare_init(lib: Library, image: Image) -> Path:
    """A copy of the image for the artist to edit before it seeds a run; an existing copy
    (perhaps already edited) is kept."""
    target = init_copy_path(lib, image)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(lib.abspath(image.path), tmp)
        os.replace(tmp, target)
    return target


# The method's two passes from an image (docs/method.md): refining an edited output blurs
# it so the optimiser re-decides the details, and weights small cutouts so the layout stays;
# a seed sketch is already soft, and weights large cutouts so the layout comes from it.
REFINE_BLUR = 3.0
SEED_BLUR = 0.0


@dataclass(frozen=True)
class InitRun:
    """How a run starts from an image: the file, its blur (pixels), the size weighting,
    and ``doors`` when the file is a seed sketch (0: the image itself, refined)."""

    path: Path
    blur: float = REFINE_BLUR
    doors: int = 0

    @property
    def weighting(self) -> str:
        return "layout" if self.doors else "detail"


def seed_copy_path(lib: Library, image: Image, doors: int, *, on_image: bool) -> Path:
    ground = "on" if on_image else "grey"
    return lib.root / INIT_DIR / f"seed-image-{image.id:06d}-{doors}-{ground}.png"


def prepare_seed(lib: Library, image: Image, doors: int, *, on_image: bool = True) -> Path:
    """A seed sketch with ``doors`` door blotches, the image's size, on the blurred image
    (or on grey), written next to the init copies (each time: it is cheap)."""
    from doorways_engine.seed_image import open_parent, sketch

    source = open_parent(lib.abspath(image.path))
    seed = sketch(size=source.size, doors=doors, parent=source if on_image else None)
    target = seed_copy_path(lib, image, doors, on_image=on_image)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    seed.save(tmp, format="PNG")
    os.replace(tmp, target)
    return target


def queue_init(lib: Library, image: Image, run: InitRun) -> Queued:
    """A child variant (same prompt and seed) whose run starts from ``run.path``, with its
    blur and size weighting; a seed sketch does not pull towards its own pixels."""
    job = lib.queue.job(image.job_id)
    variant = lib.tree.variant(image.variant_id)
    # The store keeps it relative to the library (copied in when it is elsewhere).
    config = {
        **job.config_dict(),
        "init_image": str(Path(run.path).resolve()),
        "init_blur": run.blur,
        "size_weighting": run.weighting,
    }
    if run.doors:
        config["init_weight"] = 0.0
        edit_text = f"seed: {plural(run.doors, 'door')} on image {image.id}"
    else:
        edit_text = f"init: image {image.id}"
    child, jobs = lib.queue.spawn(
        parent_id=variant.id,
        prompt=variant.prompt,
        edit_kind="free",
        edit_text=edit_text,
        seeds=[job.seed],
        config=config,
    )
    return Queued(tuple(jobs), child)


@dataclass(frozen=True)
class WorkerLaunch:
    ok: bool
    message: str


def start_detached_worker(
    library: Path, device: str = "auto", *, timeout: float = 60.0
) -> WorkerLaunch:
    """Start a worker in its own session (it keeps running when the app or the SSH
    connection closes) and wait until it has registered in the library."""
    from doorways_tui.worker.loop import start_detached

    started = start_detached(library, device=device)
    deadline = time.monotonic() + timeout
    with Library.open(library) as lib:
        while time.monotonic() < deadline:
            if lib.workers.registered(started.worker_id):
                return WorkerLaunch(
                    True,
                    f"worker {started.worker_id} started (pid {started.pid}); "
                    f"log: {started.log_path}",
                )
            if started.process.poll() is not None:
                tail = _tail(started.log_path)
                return WorkerLaunch(False, f"the worker exited at once: {tail}")
            time.sleep(0.2)
    return WorkerLaunch(True, f"worker {started.worker_id} is starting (pid {started.pid})")


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
