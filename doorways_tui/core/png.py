"""Reading back the parameters a Doorways PNG carries, for the details panel and exports.

``doorways_engine.images.save_png`` writes them (a ``doorways`` text chunk of JSON); this reader is
the forgiving one the app and exports use: a file that is missing, damaged or foreign has
no parameters, it is not an error. It lives in ``core`` so that every layer that shows or
copies an image can read it (the engine's own reader loads torch).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def png_metadata(path: Path) -> dict[str, Any]:
    """The 'doorways' JSON text chunk of a PNG ({} if absent or unreadable)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            text = getattr(im, "text", {}).get("doorways")
    except (OSError, SyntaxError, ValueError):
        return {}
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
