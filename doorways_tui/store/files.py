"""The library folder on disk: where images, checkpoints and logs go, and atomic writes.

A reader never sees a half-written file: everything is written to a temporary file in the
same folder and moved into place with ``os.replace``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

DB_NAME = "library.db"


def db_path(root: Path) -> Path:
    return root / DB_NAME


def image_relpath(*, variant_id: int, job_id: int, seed: int, kind: str) -> str:
    """``images/v000012/j000345-s7-final.png``: one folder per variant, stable names."""
    return f"images/v{variant_id:06d}/j{job_id:06d}-s{seed}-{kind}.png"


def checkpoint_relpath(job_id: int) -> str:
    return f"checkpoints/job-{job_id:06d}.pt"


def log_relpath(worker_id: str) -> str:
    return f"logs/worker-{worker_id}.log"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
