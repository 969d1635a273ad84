"""Shared fixtures: tiny real-format models built once per session, and an isolated
environment (model cache, config file, library) for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache holding the tiny demo models (built through doorways_engine.tiny)."""
    from doorways_engine.tiny import ensure_demo_models

    root = Path(os.environ.get("DOORWAYS_TEST_MODEL_DIR") or tmp_path_factory.mktemp("models"))
    ensure_demo_models(root)
    return root


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, model_dir: Path) -> None:
    monkeypatch.setenv("DOORWAYS_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("DOORWAYS_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("DOORWAYS_LIBRARY", str(tmp_path / "library"))
    monkeypatch.setenv("DOORWAYS_DEVICE", "cpu")
    # not this machine's ~/.cache/clip (another tool's CLIP downloads; test_clip_cache.py)
    monkeypatch.setattr("doorways_engine.model_files.OTHER_CLIP_DIRS", ())


@pytest.fixture(scope="session")
def demo_models(model_dir: Path):
    """The demo models loaded once on the CPU (frozen; safe to share between tests)."""
    from doorways_engine import GenerationConfig, load_models

    return load_models(
        GenerationConfig(vqgan="demo", clip="demo"), device="cpu", model_dir=model_dir
    )


def tiny_config(**changes):
    """A config small enough for a CPU test: 64x64, 8 cutouts, a few steps."""
    from doorways_engine import GenerationConfig

    base = dict(
        prompts="entrance to the forest realm",
        width=64,
        height=64,
        steps=6,
        cutn=8,
        seed=1,
        vqgan="demo",
        clip="demo",
        preview_every=3,
    )
    base.update(changes)
    return GenerationConfig(**base)
