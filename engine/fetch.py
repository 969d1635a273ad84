"""Resumable, verified downloads of model weights into the user's cache.

A download goes to ``NAME.part`` (resumed with an HTTP Range request), is checked (size,
magic bytes or YAML target, sha256) and only then renamed into place, so a dead link's
HTML error page never becomes ``model.yaml``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from doorways_engine.errors import ChecksumError, ModelError

Progress = Callable[[int, int | None], None]  # (bytes done, total or None)
CHUNK = 1 << 20


class UnreachableError(ModelError):
    """The server could not be reached (offline?): the file can be copied in by hand."""

    def __init__(self, message: str, *, url: str, dest: Path) -> None:
        super().__init__(message)
        self.url = url
        self.dest = dest


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _check_transport(url: str, sha256: str | None, dest: Path) -> None:
    """Plain HTTP only with a known checksum (or to this machine, for tests): otherwise
    anyone on the path could swap the file before its first use is trusted."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or sha256:
        return
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return
    raise ModelError(
        f"{url} is not HTTPS and no checksum is known for it: refusing to trust it."
        f" Download it yourself from a source you trust and copy it to {dest}"
    )


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    progress: Progress | None = None,
    validate: Callable[[Path], None] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` to ``dest``, resuming a ``.part`` file left by an earlier try."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    done = part.stat().st_size if part.exists() else 0
    _check_transport(url, sha256, dest)
    request = urllib.request.Request(url, headers={"User-Agent": "doorways"})
    if done:
        request.add_header("Range", f"bytes={done}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and done:  # the .part is already complete
            response = None
        else:
            raise ModelError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise UnreachableError(
            f"cannot reach {url} ({exc}). If this machine is offline, download the file "
            f"elsewhere and copy it to {dest}",
            url=url,
            dest=dest,
        ) from exc
    if response is not None:
        with response:
            _check_transport(response.geturl(), sha256, dest)  # a redirect may leave HTTPS
            if done and response.status != 206:  # server ignored Range: start again
                done = 0
            length = response.headers.get("Content-Length")
            total = done + int(length) if length else None
            ctype = response.headers.get("Content-Type", "")
            if "text/html" in ctype and dest.suffix not in (".yaml", ".yml"):
                raise ModelError(f"{url} answered with an HTML page, not a file: the link is dead")
            with part.open("ab" if done else "wb") as fh:
                while chunk := response.read(CHUNK):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            if total is not None and done < total:
                raise ModelError(
                    f"download of {url} stopped at {done} of {total} bytes; run again to resume"
                )
    if sha256:
        got = sha256_file(part)
        if got != sha256:
            part.unlink()
            raise ChecksumError(
                f"{dest.name}: sha256 {got[:12]}… does not match {sha256[:12]}…; deleted, try again"
            )
    if validate:
        try:
            validate(part)
        except ModelError:
            part.rename(dest.with_name(dest.name + ".bad"))
            raise
    os.replace(part, dest)
    return dest


def verify_sha256(path: Path, expected: str, *, cache: Path | None = None) -> str:
    """Raise ``ChecksumError`` unless ``path`` hashes to ``expected``; return 'ok' or 'cached'.

    A match is remembered in ``cache`` under the file's size, mtime, ctime, inode and device:
    any write, copy or replacement changes ctime (which no user call can set back), so a
    changed file is hashed again, while an unchanged 338 MB release is not hashed per load.
    """
    path = Path(path)
    stamp = _stamp(path)
    cache = Path(cache) if cache else None
    book = _read_json(cache) if cache else {}
    if book.get(str(path)) == {"sha256": expected, "stat": stamp}:
        return "cached"
    got = sha256_file(path)
    if got != expected:
        raise ChecksumError(
            f"{path} has sha256 {got[:12]}…, not the release's {expected[:12]}…: it is corrupt"
            " or was replaced. Delete it and fetch again (doorways models fetch NAME)."
        )
    if cache:
        book[str(path)] = {"sha256": expected, "stat": stamp}
        with contextlib.suppress(OSError):  # a read-only cache only costs a hash next time
            _write_json(cache, book)
    return "ok"


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)


class ChecksumBook:
    """Trust-on-first-use sha256 record for files with no published checksum."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _load(self) -> dict[str, str]:
        if not self.path.is_file():
            return {}
        try:
            return json.loads(self.path.read_text())
        except json.JSONDecodeError:
            return {}

    def get(self, key: str) -> str | None:
        return self._load().get(key)

    def record(self, key: str, digest: str) -> None:
        data = self._load()
        data[key] = digest
        tmp = self.path.with_suffix(".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, self.path)

    def verify(self, key: str, path: Path) -> str:
        """Return 'recorded', 'ok'; raise ChecksumError on a mismatch."""
        digest = sha256_file(path)
        known = self.get(key)
        if known is None:
            self.record(key, digest)
            return "recorded"
        if known != digest:
            raise ChecksumError(
                f"{path} has sha256 {digest[:12]}…, but {known[:12]}… was recorded when it was "
                "first downloaded: the file changed or is corrupt. Delete it and fetch again."
            )
        return "ok"
