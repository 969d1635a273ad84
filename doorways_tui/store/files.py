"""The library folder on disk: where images, checkpoints and logs go, and atomic writes.

A reader never sees a half-written file: everything is written to a temporary file in the
same folder and moved into place with ``os.replace``. A path read back from the database
goes through ``library_path`` before anything opens, copies or deletes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from doorways_tui.store.db import StoreError

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


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# -- staged writes: a worker's files appear only if it still owns the job ----------------------

TMP_SUFFIX = ".tmp"


def _name_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text) or "_"


def attempt_tag(worker_id: str, lease: int) -> str:
    """Names one claim of a job by one worker, safe inside a file name."""
    return f"{_name_safe(worker_id)}.a{lease}"


def staged_path(path: Path, tag: str) -> Path:
    """Where one attempt (``attempt_tag``) writes ``path`` before the store may move it into
    place: the same folder (so ``os.replace`` is atomic), hidden, named after the attempt, so
    two workers never share a temporary file and a sweep can tell whose it is."""
    return path.with_name(f".{path.name}.{tag}{TMP_SUFFIX}")


def stale_temp_files(
    root: Path, *, older_than: float, now: float, live_workers: Iterable[str] = ()
) -> list[Path]:
    """Hidden ``.tmp`` files in the library's stored folders (``STORED_DIRS``, where workers
    write) last written over ``older_than`` seconds ago whose name carries no live worker's
    id: what a killed process left behind. A stored folder may be a symlink (images/ moved to
    a bigger disk), and is followed; nothing else in the library is looked at."""
    tags = [f".{_name_safe(worker_id)}." for worker_id in live_workers]
    found = []
    for sub in STORED_DIRS:
        # os.walk follows its top folder when it is a symlink, never one below it.
        for folder, _dirs, names in os.walk(root / sub):
            for name in names:
                if not (name.startswith(".") and name.endswith(TMP_SUFFIX)):
                    continue
                if any(tag in name for tag in tags):
                    continue
                path = Path(folder) / name
                try:
                    if path.stat().st_mtime <= now - older_than:
                        found.append(path)
                except FileNotFoundError:
                    continue
    return found


def numbered_relpath(relpath: str, n: int) -> str:
    """``images/v1/j2-s3-final.png`` -> ``images/v1/j2-s3-final-2.png`` (n = 2): the next name
    to try when a file is already there."""
    path = PurePosixPath(relpath)
    return str(path.with_name(f"{path.stem}-{n}{path.suffix}"))


# -- stored paths: the database is data, never an order to touch a file elsewhere ---------

INIT_DIR = "inits"  # init images a job starts from, copied into the library (made when needed)
WORK_DIRS = ("images", "checkpoints", "logs")  # made when a library opens for writing
STORED_DIRS = (*WORK_DIRS, INIT_DIR)  # the only folders a stored path may name


def library_path(root: Path, relpath: object) -> Path:
    """The file on disk for a path read from the library's database.

    A row may come from a damaged or crafted ``library.db`` (a shared library, a backup),
    so its path is checked before anything opens, copies or deletes it: it must be relative,
    without ``..``, inside images/, checkpoints/ or logs/ (never ``library.db`` itself), and
    no symlink below those folders may lead out of them. Those folders may themselves be
    symlinks (images/ moved to a bigger disk): the filesystem is the owner's, the rows are
    not. Anything else is a ``StoreError``."""
    if not isinstance(relpath, str) or not relpath or "\0" in relpath:
        raise StoreError(f"stored path {relpath!r} is not a path in the library")
    pure = PurePosixPath(relpath)
    if pure.is_absolute() or ".." in pure.parts:
        raise StoreError(f"stored path {relpath!r} points outside the library")
    if not pure.parts or pure.parts[0] not in STORED_DIRS:
        raise StoreError(f"stored path {relpath!r} is not under {', '.join(STORED_DIRS)}")
    path = Path(root, *pure.parts)
    try:
        inside = path.resolve().is_relative_to(Path(root, pure.parts[0]).resolve())
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise StoreError(f"stored path {relpath!r} leads outside the library (a symlink)")
    return path


def library_path_or_none(root: Path, relpath: object) -> Path | None:
    """``library_path``, or None for a path that must not be followed (shown as nothing)."""
    try:
        return library_path(root, relpath)
    except StoreError:
        return None


# -- init images: stored relative to the library, so it can move -----------------------------


def store_init_image(root: Path, value: str | None) -> str | None:
    """What a job's config stores for its init image: a path relative to the library
    (``inits/...``). An image outside the library is copied in first, named by its
    checksum (the same picture is kept once); one already inside is named as it is.
    A path that is not (or no longer) there is kept as given: the job says so when it runs."""
    if not value:
        return value
    pure = PurePosixPath(value)
    if not pure.is_absolute():
        library_path(root, value)  # refuses one leading outside
        return value
    src = Path(value)
    inside = _inside_inits(root, src)
    if inside is not None:
        return inside
    try:
        data = src.read_bytes()
    except OSError:
        return _moved_init(root, src) or value
    digest = hashlib.sha256(data).hexdigest()[:16]
    relpath = f"{INIT_DIR}/init-{digest}{src.suffix.lower() or '.png'}"
    target = Path(root, relpath)
    if not (target.is_file() and target.read_bytes() == data):
        atomic_write_bytes(target, data)
    return relpath


def _inside_inits(root: Path, path: Path) -> str | None:
    try:
        rel = path.resolve().relative_to((root / INIT_DIR).resolve())
    except (ValueError, OSError, RuntimeError):
        return None
    return f"{INIT_DIR}/{rel.as_posix()}"


def _moved_init(root: Path, path: Path) -> str | None:
    """An absolute path into an ``inits/`` folder that is gone (the library moved, stored
    before init paths were relative): the same name in this library's ``inits/``."""
    if path.parent.name == INIT_DIR and (root / INIT_DIR / path.name).is_file():
        return f"{INIT_DIR}/{path.name}"
    return None


def init_image_file(root: Path, value: str | None) -> str | None:
    """The file a worker opens for a stored init image: a relative path in this library,
    or an absolute one as stored (older jobs), found in this library's ``inits/`` when the
    library moved since."""
    if not value:
        return value
    if not PurePosixPath(value).is_absolute():
        return str(library_path(root, value))
    path = Path(value)
    if not path.exists() and (moved := _moved_init(root, path)) is not None:
        return str(root / moved)
    return value
