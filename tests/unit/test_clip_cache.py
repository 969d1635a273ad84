"""CLIP releases another tool downloaded (OpenAI's ``clip.load``: ``~/.cache/clip``) are
found and used where they are, after their sha256 matches the release's; a file there
that does not match is never read, and ``models fetch`` gets Doorways' own copy instead."""

from __future__ import annotations

import hashlib

import pytest

import doorways_engine.model_files
import doorways_engine.models
from doorways_engine.config import GenerationConfig
from doorways_engine.errors import ChecksumError
from doorways_engine.model_files import clip_path, found_clip, resolve_models
from doorways_tui.cli import main

RELEASE = b"a tiny stand-in for a CLIP release\n"
SHA = hashlib.sha256(RELEASE).hexdigest()


@pytest.fixture
def other_cache(tmp_path, monkeypatch):
    """An empty ``~/.cache/clip`` of another tool, and a checksum table whose ViT-B/32
    release is ``RELEASE`` (the URL's folder is its sha256, as in clip's own list)."""
    folder = tmp_path / "home-cache-clip"
    folder.mkdir()
    monkeypatch.setattr(doorways_engine.model_files, "OTHER_CLIP_DIRS", (folder,))
    releases = {"ViT-B/32": f"https://example.invalid/models/{SHA}/ViT-B-32.pt"}
    monkeypatch.setattr("doorways_engine.compat_clip.clip_releases", lambda: dict(releases))
    return folder


def _no_download(*args, **kwargs):
    raise AssertionError("downloaded although a good copy was there")


def test_another_tools_release_is_found_and_checked_before_use(other_cache, tmp_path):
    model_dir = tmp_path / "models"
    assert found_clip(model_dir, "ViT-B/32") is None
    (other_cache / "ViT-B-32.pt").write_bytes(RELEASE)
    files = resolve_models(GenerationConfig(vqgan="demo", clip="ViT-B/32"), model_dir)
    assert files.clip == other_cache / "ViT-B-32.pt"
    assert (other_cache / "ViT-B-32.pt", SHA) in files.checks  # verified before it is read


def test_doorways_own_download_comes_first(other_cache, tmp_path):
    model_dir = tmp_path / "models"
    (other_cache / "ViT-B-32.pt").write_bytes(RELEASE)
    own = clip_path(model_dir, "ViT-B/32")
    own.parent.mkdir(parents=True)
    own.write_bytes(RELEASE)
    assert found_clip(model_dir, "ViT-B/32") == own


def test_fetch_uses_a_matching_release_without_downloading(other_cache, tmp_path, monkeypatch):
    monkeypatch.setattr(doorways_engine.models, "download", _no_download)
    (other_cache / "ViT-B-32.pt").write_bytes(RELEASE)
    assert doorways_engine.models.fetch_model("ViT-B/32", tmp_path / "models") == [
        other_cache / "ViT-B-32.pt"
    ]


def test_fetch_downloads_its_own_copy_past_a_corrupt_one(other_cache, tmp_path, monkeypatch):
    (other_cache / "ViT-B-32.pt").write_bytes(b"truncated")
    fetched = []

    def download(url, dest, **kwargs):
        fetched.append(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(RELEASE)
        return dest

    monkeypatch.setattr(doorways_engine.models, "download", download)
    model_dir = tmp_path / "models"
    assert doorways_engine.models.fetch_model("ViT-B/32", model_dir) == [clip_path(model_dir, "ViT-B/32")]
    assert len(fetched) == 1
    assert found_clip(model_dir, "ViT-B/32") == clip_path(model_dir, "ViT-B/32")


def test_a_corrupt_release_there_is_refused_before_it_is_read(other_cache, model_dir, monkeypatch):
    (other_cache / "ViT-B-32.pt").write_bytes(b"not the release")

    def read(path):
        raise AssertionError(f"{path} was read before its checksum")

    monkeypatch.setattr(doorways_engine.models, "load_clip_file", read)
    monkeypatch.setattr(doorways_engine.models, "load_vqgan", read)
    config = GenerationConfig(vqgan="demo", clip="ViT-B/32")
    with pytest.raises(ChecksumError, match="not the release's"):
        doorways_engine.models.load_models(config, device="cpu", model_dir=model_dir)


def test_models_list_says_where_it_was_found(other_cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("DOORWAYS_MODEL_DIR", str(tmp_path / "models"))
    (other_cache / "ViT-B-32.pt").write_bytes(RELEASE)
    assert main(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "ViT-B/32" in line)
    assert f"in {other_cache}" in row
