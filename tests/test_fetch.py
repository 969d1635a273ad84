"""Downloads from a loopback HTTP server: resume, checksums, dead links."""

import hashlib
import http.server
import threading

import pytest

from engine.errors import ChecksumError, ModelError
from engine.fetch import ChecksumBook, download

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
