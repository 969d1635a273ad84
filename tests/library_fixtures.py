"""Libraries with finished images made directly through the store: small deterministic
PNGs, no engine, no Textual (the unit tier drives the workstation layer on them; the app
tier opens the app over them through ``app_fixtures``)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image as PILImage
from PIL import PngImagePlugin

from doorways_engine.fetch import sha256_file
from doorways_tui.store import Library
from doorways_tui.store.files import image_relpath

CONFIG = {
    "width": 64,
    "height": 32,
    "steps": 12,
    "cutn": 4,
    "vqgan": "demo",
    "clip": "demo",
    "panorama": "cosine",
    "preview_every": 4,
}
PROMPTS = ("entrance to heaven | entrance to hell", "entrance to the forest realm")


def write_png(path: Path, seed: int, config: dict, size: tuple[int, int] = (64, 32)) -> None:
    """A small PNG whose colours depend on ``seed``, with a 'doorways' chunk like the
    engine's (config and losses)."""
    w, h = size
    image = PILImage.new("RGB", size)
    pixels = image.load()
    for y in range(h):
        for x in range(w):
            pixels[x, y] = ((x * 4 + seed * 37) % 256, (y * 8 + seed * 91) % 256, (seed * 53) % 256)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("parameters", f"{config.get('prompts')}\nSeed: {seed}")
    meta = {"config": config, "losses": {"prompt": 1.0 + seed / 100, "total": 1.5 + seed / 100}}
    info.add_itxt("doorways", json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG", pnginfo=info)


def show_preview(lib: Library, job, worker: str, *, pixels: int, step: int) -> str:
    """Write ``job``'s live preview (``write_png`` of ``pixels``) and record it as
    ``worker``'s at ``step``, the way a worker does; its path in the library."""
    rel = image_relpath(variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="preview")
    write_png(lib.abspath(rel), pixels, job.config_dict())
    lib.claims.set_preview(
        job.id, worker, path=rel, step=step, width=64, height=32,
        sha256=sha256_file(lib.abspath(rel)),
    )  # fmt: skip
    return rel


def finish_all(lib: Library, worker: str = "test-worker") -> list[int]:
    """Claim and finish every queued job with a fake image; returns the image ids."""
    ids = []
    while (job := lib.claims.claim_job(worker)) is not None:
        rel = image_relpath(variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="final")
        write_png(lib.abspath(rel), job.seed + 7 * job.variant_id, job.config_dict())
        image = lib.claims.finish_job(
            job.id, worker, path=rel, step=job.total, width=64, height=32,
            sha256=sha256_file(lib.abspath(rel)), seconds=2.5,
        )  # fmt: skip
        assert image is not None
        ids.append(image.id)
    return ids


def populate(root: Path, *, seeds: int = 3, prompts=PROMPTS, child: bool = True) -> list[int]:
    """A theme with a variant per prompt (and a child edit of the first), ``seeds`` finished
    images each. Returns the image ids in order."""
    with Library.open(root) as lib:
        theme = lib.tree.add_theme("doors")
        first = None
        for prompt in prompts:
            variant = lib.tree.root_variant(
                theme_id=theme.id, prompt=prompt, style="by James Gurney"
            )
            first = first or variant
            lib.queue.queue_jobs(variant.id, range(seeds), CONFIG, undoable=False)
        if child and first is not None:
            kid = lib.tree.add_variant(
                prompt="underwater entrance to heaven | underwater entrance to hell",
                parent_id=first.id, edit_kind="modifier", edit_text="+underwater",
                undoable=False,
            )  # fmt: skip
            lib.queue.queue_jobs(kid.id, range(2), CONFIG, undoable=False)
        return finish_all(lib)
