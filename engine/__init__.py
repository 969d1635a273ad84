"""The Doorways generator: VQGAN + CLIP in pure PyTorch, no UI or database.

    result = generate(GenerationConfig(prompts="entrance to heaven | entrance to hell",
                                       style="by James Gurney", panorama="cosine"),
                      callback=lambda step, info: ..., cancel=lambda: False)

The config (``config``, ``options``), the errors and which files a model needs
(``model_files``) import without torch; everything else loads on first use, so a command
that only reads the library or checks a theme's models never pays for torch.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from doorways_engine.config import (
    GenerationConfig,
    Prompt,
    format_prompts,
    parse_prompts,
    parse_size,
    snap_size,
)
from doorways_engine.errors import (
    Cancelled,
    ConfigError,
    DeviceError,
    DoorwaysError,
    ModelError,
    OutOfMemoryError,
)

# clip imports pkg_resources (setuptools < 81 keeps it); its deprecation notice says
# nothing a user can act on. (Model files are read by doorways_engine.safe_load, never torch.jit.)
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

_LAZY = {
    "GenerationResult": "doorways_engine.loop",
    "StepInfo": "doorways_engine.loop",
    "generate": "doorways_engine.loop",
    "generate_batch": "doorways_engine.loop",
    "config_from_png": "doorways_engine.images",
    "load_state": "doorways_engine.images",
    "read_png_metadata": "doorways_engine.images",
    "save_png": "doorways_engine.images",
    "save_state": "doorways_engine.images",
    "Models": "doorways_engine.models",
    "default_model_dir": "doorways_engine.model_files",
    "load_models": "doorways_engine.models",
    "pick_device": "doorways_engine.models",
    "resolve_models": "doorways_engine.model_files",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'doorways_engine' has no attribute {name!r}")


__all__ = [
    "Cancelled",
    "ConfigError",
    "DeviceError",
    "DoorwaysError",
    "GenerationConfig",
    "ModelError",
    "OutOfMemoryError",
    "Prompt",
    "format_prompts",
    "parse_prompts",
    "parse_size",
    "snap_size",
    *_LAZY,
]
