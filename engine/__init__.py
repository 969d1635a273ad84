"""The Doorways generator: VQGAN + CLIP in pure PyTorch, no UI or database.

result = generate(GenerationConfig(prompts="entrance to heaven | entrance to hell",
                                   style="by James Gurney", panorama="cosine"),
                  callback=lambda step, info: ..., cancel=lambda: False)
"""

import warnings

# clip imports pkg_resources (setuptools < 81 keeps it); its deprecation notice is noise.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from engine.config import (
    GenerationConfig,
    Prompt,
    format_prompts,
    parse_prompts,
    parse_size,
    snap_size,
)
from engine.errors import (
    Cancelled,
    ConfigError,
    DeviceError,
    DoorwaysError,
    ModelError,
    OutOfMemoryError,
)
from engine.generate import GenerationResult, StepInfo, generate
from engine.images import config_from_png, load_state, read_png_metadata, save_png, save_state
from engine.models import Models, default_model_dir, load_models, pick_device, resolve_models

__all__ = [
    "Cancelled",
    "ConfigError",
    "DeviceError",
    "DoorwaysError",
    "GenerationConfig",
    "GenerationResult",
    "ModelError",
    "Models",
    "OutOfMemoryError",
    "Prompt",
    "StepInfo",
    "config_from_png",
    "default_model_dir",
    "format_prompts",
    "generate",
    "load_models",
    "load_state",
    "parse_prompts",
    "parse_size",
    "pick_device",
    "read_png_metadata",
    "resolve_models",
    "save_png",
    "save_state",
    "snap_size",
]
