"""Opening the images a run reads (an init image, image prompts), refusing decompression
bombs before a single pixel is decoded.

Torch-free, so the CLI can check a file when a job is queued, not only when a worker runs it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image

from doorways_engine.errors import ConfigError

# An input is scaled to at most the output's 4096x4096, so 64 megapixels (a large camera
# photo) is plenty; decoding more takes gigabytes (PIL's own limit is 89 million pixels,
# and past it only a warning).
MAX_INPUT_PIXELS = 8192 * 8192


def open_image(path: Path | str) -> Image.Image:
    """The image at ``path``, opened lazily (only its header is read), or ConfigError if it
    declares more than MAX_INPUT_PIXELS. Other read errors are PIL's own (OSError...)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ConfigError(f"{path}: {_too_large()}") from None
    width, height = image.size
    if width * height > MAX_INPUT_PIXELS:
        image.close()
        raise ConfigError(f"{path}: {width}x{height} is {_too_large()}")
    return image


def _too_large() -> str:
    return f"too large to read safely (at most {MAX_INPUT_PIXELS:,} pixels); scale it down first"
