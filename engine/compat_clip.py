"""The private name of OpenAI's ``clip`` package the engine relies on (pinned
``clip-anytorch>=2.6``). Contract test: ``tests/unit/test_compat.py``."""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path

from doorways_engine.errors import ModelError

__all__ = ["clip_releases"]


def clip_releases() -> dict[str, str]:
    """1. ``clip.clip._MODELS``: each CLIP release's name and download URL, as the
    installed package lists them (the URL's folder is the file's sha256).

    Read from the package's source, not imported: ``clip`` imports torch, and the app
    lists and checks models without torch (only the worker loads it). A missing,
    unreadable or reshaped file is one ``ModelError`` line naming it."""
    return dict(_models())


@functools.cache
def _models() -> dict[str, str]:
    spec = importlib.util.find_spec("clip")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the clip package (clip-anytorch) is not installed")
    path = Path(spec.submodule_search_locations[0], "clip.py")
    changed = ModelError(
        f"{path} no longer lists _MODELS as Doorways reads it (engine/compat_clip.py)"
    )
    try:
        body = ast.parse(path.read_text(encoding="utf-8")).body
    except OSError as exc:
        raise ModelError(f"cannot read clip's model list {path}: {exc.strerror or exc}") from None
    except (SyntaxError, ValueError):  # ValueError: not UTF-8, or a NUL byte
        raise changed from None
    for node in body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "_MODELS" for target in node.targets
        ):
            try:
                models = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                raise changed from None
            if isinstance(models, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in models.items()
            ):
                return models
            raise changed
    raise changed
