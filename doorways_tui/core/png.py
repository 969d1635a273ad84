"""Reading back the parameters a Doorways PNG carries, for the details panel and exports.

``doorways_engine.images.save_png`` writes them: a ``doorways`` text chunk of JSON (the whole
config, what this reads first) and a ``parameters`` text in A1111's layout for other
tools (``doorways_engine.parameters``). This reader is the forgiving one the app and exports use:
a file that is missing, damaged or foreign has no parameters, it is not an error. It
lives in ``core`` so that every layer that shows or copies an image can read it (the
engine's own reader loads torch).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from doorways_engine.errors import ConfigError
from doorways_engine.parameters import SAMPLER, config_from_parameters


def png_texts(path: Path) -> dict[str, str]:
    """The PNG's text chunks, tEXt and iTXt alike (the last of a key wins, as in PIL);
    {} if the file is absent or unreadable."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return dict(getattr(im, "text", {}))
    except (OSError, SyntaxError, ValueError):
        return {}


def png_parameters(path: Path) -> str | None:
    """The 'parameters' text (this layout or Doorways' older ``"; "`` one), or None."""
    return png_texts(path).get("parameters")


def png_metadata(path: Path) -> dict[str, Any]:
    """The 'doorways' JSON text chunk of a PNG ({} if absent or unreadable). A Doorways
    PNG that lost that chunk (a tool that rewrote the file kept only 'parameters') gives
    the config its parameters text names (``config_from_parameters``)."""
    texts = png_texts(path)
    try:
        data = json.loads(texts["doorways"]) if texts.get("doorways") else {}
    except json.JSONDecodeError:
        return {}
    if not data and f"Sampler: {SAMPLER}" in (text := texts.get("parameters") or ""):
        try:
            return {"config": config_from_parameters(text).to_dict()}
        except ConfigError:
            return {}
    return data if isinstance(data, dict) else {}
