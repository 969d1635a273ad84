"""Helpers shared by the library_integrity tests of every tier."""

from __future__ import annotations

from pathlib import Path

from doorways_engine.fetch import sha256_file
from doorways_tui.store import Library
from doorways_tui.store.files import image_relpath
from tests.fixtures_store import seed_jobs


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (what "left as it was" means). SQLite's
    -shm index, and an empty -wal, which any reader of a WAL database may leave beside it
    (where it can), hold no data and are left out; a -wal with frames in it is a write."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file()
        and not p.name.endswith("-shm")
        and not (p.name.endswith("-wal") and p.stat().st_size == 0)
    }


def small_library(root: Path) -> None:
    """Two jobs: one queued, one done with a real (starred) PNG."""
    from PIL import Image as PILImage

    with Library.open(root) as lib:
        seed_jobs(lib, 2)
        job = lib.claims.claim_job("w1")
        rel = image_relpath(variant_id=job.variant_id, job_id=job.id, seed=job.seed, kind="final")
        lib.abspath(rel).parent.mkdir(parents=True, exist_ok=True)
        PILImage.new("RGB", (64, 64), (90, 40, 20)).save(lib.abspath(rel))
        image = lib.claims.finish_job(
            job.id, "w1", path=rel, step=job.total, width=64, height=64,
            sha256=sha256_file(lib.abspath(rel)), seconds=1.0,
        )  # fmt: skip
        lib.images.toggle_star(image.id)
