"""The export folder on disk: checked before anything is copied, and files that appear
whole or not at all.

Every file is written to a temporary file in the folder, flushed, and then given its name
in one step, so an interrupted export (a full disk, a kill) never leaves a half file under
a real name; a killed export's temporaries are swept by the next one. Images are placed
with a hard link, which fails rather than replace a name that is taken.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from doorways_engine.errors import DoorwaysError

TEMP_PREFIX = ".doorways-export-"
TEMP_SUFFIX = ".tmp"
STALE_TEMP_S = 600.0  # older than this, a temporary file belongs to no running export


class ExportError(DoorwaysError):
    """The folder cannot take the export (a file, unwritable, full). The message is one
    line saying why; what was already exported is whole, and a re-run resumes."""


def export_folder(text: str) -> Path:
    """The folder a user typed (``~`` expanded); an empty one is refused, since ``Path("")``
    would quietly be the current directory."""
    if not text.strip():
        raise ExportError("say which folder to export to")
    return Path(text.strip()).expanduser()


def check_folder(folder: Path) -> Path:
    """Refuse a folder that is plainly not one (before a dialog closes on it)."""
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"{folder} is a file, not a folder")
    return folder


def prepare_folder(folder: Path) -> Path:
    """Create ``folder`` if needed and prove it takes files, before anything is copied."""
    check_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ExportError(f"cannot export to {folder}: {reason(exc)}") from None
    return folder


def reason(exc: OSError) -> str:
    """An OS error as the few words a user needs ("No space left on device")."""
    return exc.strerror or str(exc) or type(exc).__name__


def sweep_temps(folder: Path, *, older_than: float = STALE_TEMP_S) -> None:
    """Remove temporary files an export killed mid-copy left behind."""
    cutoff = time.time() - older_than
    for path in folder.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if path.lstat().st_mtime < cutoff:
                path.unlink()


def _write_temp(folder: Path, data: bytes) -> Path:
    """``data`` in a new temporary file in ``folder``, flushed to disk; removed again if
    the write fails (a full disk), so no half file is left."""
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
    try:
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _publish(temp: Path, path: Path, *, replace: bool) -> bool:
    """Give ``temp`` the name ``path`` in one step. Without ``replace`` a taken name is
    left alone (False): a hard link fails if the name exists; where links are not
    supported (FAT, some network shares) the name is checked first."""
    if replace:
        os.replace(temp, path)
        return True
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    except OSError:
        if path.exists():
            return False
        os.replace(temp, path)
        return True
    temp.unlink(missing_ok=True)
    return True


def same_bytes(path: Path, data: bytes) -> bool:
    """True when ``path`` holds exactly ``data`` (an image exported before)."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _numbered(name: str) -> Iterator[str]:
    """``name``, then ``name (2)``, ``name (3)``... (the number before the extension)."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    yield name
    n = 2
    while True:
        yield f"{stem} ({n}){dot}{suffix}"
        n += 1


def place(folder: Path, name: str, data: bytes, *, reuse: bool = True) -> tuple[Path, bool]:
    """Put ``data`` in ``folder`` under ``name`` (or ``name (2)``...): with ``reuse`` the
    first of those names that already holds these bytes is kept (False: nothing written),
    else the first free one is written (True). Never replaces a file."""
    for candidate in _numbered(name):
        path = folder / candidate
        if path.exists() or path.is_symlink():
            if reuse and same_bytes(path, data):
                return path, False
            continue
        temp = _write_temp(folder, data)
        try:
            if _publish(temp, path, replace=False):
                return path, True
        finally:
            temp.unlink(missing_ok=True)
    raise AssertionError("unreachable")  # _numbered never ends


def create_exclusive(folder: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/name``, or ``name (2)``... if taken; never replaces."""
    return place(folder, name, data, reuse=False)[0]


def replace_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` whole, replacing what was there (our own sidecars)."""
    temp = _write_temp(path.parent, data)
    try:
        _publish(temp, path, replace=True)
    finally:
        temp.unlink(missing_ok=True)
    return path
