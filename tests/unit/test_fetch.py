"""Downloads from a loopback HTTP server: resume, checksums, dead links."""

import hashlib
import http.server
import threading

import pytest

from doorways_engine.errors import ChecksumError, ModelError
from doorways_engine.fetch import ChecksumBook, download, verify_sha256

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[bytes, str]] = {}
    ranges_seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        body, ctype = self.routes.get(self.path, (None, ""))
        if body is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        if rng := self.headers.get("Range"):
            self.ranges_seen.append(rng)
            start = int(rng.split("=")[1].split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    _Handler.routes = {
        "/model.ckpt": (PAYLOAD, "application/octet-stream"),
        "/dead.ckpt": (b"<html>Link does not exist</html>", "text/html"),
    }
    _Handler.ranges_seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_resumes_a_part_file_and_reports_progress(server, tmp_path):
    dest = tmp_path / "model.ckpt"
    (tmp_path / "model.ckpt.part").write_bytes(PAYLOAD[:300_000])
    seen = []
    download(
        f"{server}/model.ckpt",
        dest,
        sha256=hashlib.sha256(PAYLOAD).hexdigest(),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert dest.read_bytes() == PAYLOAD
    assert _Handler.ranges_seen == ["bytes=300000-"]
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert not (tmp_path / "model.ckpt.part").exists()


def test_checksum_mismatch_deletes_the_part(server, tmp_path):
    with pytest.raises(ChecksumError, match="does not match"):
        download(f"{server}/model.ckpt", tmp_path / "m.ckpt", sha256="0" * 64)
    assert not (tmp_path / "m.ckpt").exists() and not (tmp_path / "m.ckpt.part").exists()


def test_dead_links(server, tmp_path):
    with pytest.raises(ModelError, match="HTML page"):
        download(f"{server}/dead.ckpt", tmp_path / "d.ckpt")
    with pytest.raises(ModelError, match="HTTP 404"):
        download(f"{server}/gone.ckpt", tmp_path / "g.ckpt")
    assert not (tmp_path / "d.ckpt").exists()


def test_checksum_book_records_first_download_then_verifies(tmp_path):
    book = ChecksumBook(tmp_path / "checksums.json")
    f = tmp_path / "last.ckpt"
    f.write_bytes(b"abc" * 1000)
    assert book.verify("m/last.ckpt", f) == "recorded"
    assert book.verify("m/last.ckpt", f) == "ok"
    f.write_bytes(b"abd" * 1000)
    with pytest.raises(ChecksumError, match="was recorded when it was first downloaded"):
        book.verify("m/last.ckpt", f)


def test_verified_checksum_is_cached_until_the_file_changes(tmp_path, monkeypatch):
    import os

    import doorways_engine.fetch

    f, cache = tmp_path / "ViT-B-32.pt", tmp_path / "verified.json"
    f.write_bytes(PAYLOAD)
    good = hashlib.sha256(PAYLOAD).hexdigest()
    assert verify_sha256(f, good, cache=cache) == "ok"
    hashed = []
    real = doorways_engine.fetch.sha256_file
    monkeypatch.setattr(doorways_engine.fetch, "sha256_file", lambda p: hashed.append(p) or real(p))
    assert verify_sha256(f, good, cache=cache) == "cached" and hashed == []
    # Same size, mtime set back: ctime still moves, so the swap is hashed and caught.
    st = f.stat()
    f.write_bytes(PAYLOAD[::-1])
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(ChecksumError, match="not the release"):
        verify_sha256(f, good, cache=cache)
    assert hashed == [f]
    with pytest.raises(ChecksumError):  # a cached match for another digest proves nothing
        verify_sha256(f, "0" * 64, cache=cache)


def test_an_unwritable_cache_only_costs_a_hash(tmp_path):
    f = tmp_path / "m.pt"
    f.write_bytes(PAYLOAD)
    good = hashlib.sha256(PAYLOAD).hexdigest()
    (tmp_path / "a-file").write_text("")  # the cache's folder cannot be made, even by root
    assert verify_sha256(f, good, cache=tmp_path / "a-file" / "verified.json") == "ok"
    assert verify_sha256(f, good, cache=tmp_path / "a-file" / "verified.json") == "ok"


def test_plain_http_without_a_checksum_is_refused_before_connecting(tmp_path):
    with pytest.raises(ModelError, match="not HTTPS and no checksum is known"):
        download("http://example.invalid/model.ckpt", tmp_path / "m.ckpt")
    assert not (tmp_path / "m.ckpt.part").exists()


def test_a_redirect_from_https_to_plain_http_is_refused(tmp_path, monkeypatch):
    import urllib.request

    class Response:
        status = 200
        headers = {"Content-Length": "3"}

        def geturl(self):
            return "http://example.invalid/elsewhere.ckpt"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n):
            return b""

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Response())
    with pytest.raises(ModelError, match="elsewhere.ckpt is not HTTPS"):
        download("https://example.invalid/model.ckpt", tmp_path / "m.ckpt")
