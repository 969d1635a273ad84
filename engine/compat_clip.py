"""The private name of OpenAI's ``clip`` package the engine relies on (pinned
``clip-anytorch>=2.6``). Contract test: ``tests/unit/test_compat.py``."""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path

__all__ = ["clip_releases"]


def clip_releases() -> dict[str, str]:
    """1. ``clip.clip._MODELS``: each CLIP release's name and download URL, as the
    installed package lists them (the URL's folder is the file's sha256).

    Read from the package's source, not imported: ``clip`` imports torch, and the app
    lists and checks models without torch (only the worker loads it)."""
    return dict(_models())


@functools.cache
def _models() -> dict[str, str]:
    spec = importlib.util.find_spec("clip")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the clip package (clip-anytorch) is not installed")
    source = Path(spec.submodule_search_locations[0], "clip.py").read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "_MODELS" for target in node.targets
        ):
            return dict(ast.literal_eval(node.value))
    raise ImportError("clip/clip.py no longer lists _MODELS (see engine/compat_clip.py)")
