"""The private name of OpenAI's ``clip`` package the engine relies on (pinned
``clip-anytorch>=2.6``). Contract test: ``tests/unit/test_compat.py``."""

from __future__ import annotations

__all__ = ["clip_releases"]


def clip_releases() -> dict[str, str]:
    """1. ``clip.clip._MODELS``: each CLIP release's name and download URL, as the
    installed package lists them (the URL's folder is the file's sha256)."""
    from clip.clip import _MODELS

    return dict(_MODELS)
