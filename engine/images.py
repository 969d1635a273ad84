"""PNG output with the full parameters inside, and resumable run state, written atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from PIL import Image, PngImagePlugin

from engine.config import GenerationConfig
from engine.errors import ConfigError


def tensor_to_pil(x: torch.Tensor) -> Image.Image:
    """(3, H, W) or (1, 3, H, W) in [0, 1] -> RGB PIL image."""
    if x.dim() == 4:
        x = x[0]
    arr = x.detach().float().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr, "RGB")


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (1, 3, H, W) float in [0, 1]."""
    import numpy as np

    arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def parameters_line(config: GenerationConfig) -> str:
    """The one-line summary other generators write under the 'parameters' key."""
    prompts = "; ".join(
        p.text if p.weight == 1 else f"{p.text}:{p.weight:g}" for p in config.prompt_list()
    )
    return (
        f"{prompts}\nSteps: {config.steps}, Seed: {config.seed}, Size: {config.width}x{config.height}, "
        f"LR: {config.lr:g}, Cutouts: {config.cutn}, VQGAN: {config.vqgan}, CLIP: {config.clip}, "
        f"Panorama: {config.panorama}, Symmetry: edge {config.edge_symmetry:g} tone "
        f"{config.tone_symmetry:g} semantic {config.semantic_symmetry:g}"
    )


def save_png(
    path: Path, image: Image.Image, config: GenerationConfig, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``image`` with 'parameters' (readable) and 'doorways' (JSON) text chunks."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = PngImagePlugin.PngInfo()
    info.add_itxt("parameters", parameters_line(config))
    info.add_itxt(
        "doorways", json.dumps({"config": config.to_dict(), **(extra or {})}, ensure_ascii=False)
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        image.save(tmp, format="PNG", pnginfo=info)
        os.replace(tmp, path)
    except BaseException:  # a full disk must not leave half a file behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_png_metadata(path: Path) -> dict[str, Any]:
    """The 'doorways' chunk of a PNG written by save_png ({} if it has none)."""
    with Image.open(path) as im:
        text = im.text.get("doorways") if hasattr(im, "text") else None
    return json.loads(text) if text else {}


def config_from_png(path: Path) -> GenerationConfig:
    meta = read_png_metadata(path)
    if "config" not in meta:
        raise ConfigError(f"{path} carries no Doorways parameters")
    return GenerationConfig.from_dict(meta["config"])


def save_state(path: Path, state: dict[str, Any]) -> Path:
    """Save a resumable snapshot (``StepInfo.state()``) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_state(path: Path) -> dict[str, Any]:
    from engine.vqgan import safe_torch_load

    return safe_torch_load(Path(path))
