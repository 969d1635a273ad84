"""What a run aims at and where it starts: prompt embeddings and the first latent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from engine.config import GenerationConfig, split_image_prompt
from engine.errors import ConfigError, ModelFileMissingError
from engine.images import pil_to_tensor
from engine.inputs import open_image
from engine.models import Models


@dataclass
class Targets:
    """Text and image targets. Positive prompts are placed across the width in panorama
    mode; negative prompts and image prompts apply everywhere."""

    placed: torch.Tensor  # (P, D)
    placed_w: torch.Tensor  # (P,)
    glob: torch.Tensor  # (G, D)
    glob_w: torch.Tensor  # (G,)


def build_targets(config: GenerationConfig, models: Models) -> Targets:
    device = models.device
    dim = int(models.clip.text_projection.shape[1])
    placed, placed_w, glob, glob_w = [], [], [], []
    for p in config.prompt_list():
        emb = models.embed_text(p.text)
        if config.panorama != "off" and p.weight < 0:
            glob.append(emb)
            glob_w.append(p.weight)
        else:
            placed.append(emb)
            placed_w.append(p.weight)
    for spec in config.image_prompts:
        path, weight = split_image_prompt(spec)
        glob.append(_embed_image_file(path, models))
        glob_w.append(weight)

    def stack(rows: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(rows) if rows else torch.zeros(0, dim, device=device)

    return Targets(
        stack(placed),
        torch.tensor(placed_w, device=device),
        stack(glob),
        torch.tensor(glob_w, device=device),
    )


@torch.no_grad()
def _embed_image_file(path: str, models: Models) -> torch.Tensor:
    image = _open_image(path)
    s = models.cut_size
    x = pil_to_tensor(image).to(models.device)
    x = F.interpolate(x, size=(s, s), mode="bicubic", align_corners=False, antialias=True).clamp(
        0, 1
    )
    return models.encode_image(x)[0]


def _open_image(path: str) -> Image.Image:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelFileMissingError(f"image not found: {p}")
    try:
        with open_image(p) as im:
            return im.convert("RGB")
    except OSError as exc:
        raise ConfigError(f"{p} is not an image PIL can read ({exc})") from exc


def init_latent(
    config: GenerationConfig, models: Models, gen: torch.Generator, h: int, w: int
) -> torch.Tensor:
    """(1, D, h, w): the encoded (optionally blurred) init image, or random codes."""
    codebook = models.vqgan.codebook
    if config.init_image:
        image = _open_image(config.init_image)
        image = _cover(image, w * models.factor, h * models.factor)
        if config.init_blur > 0:
            image = image.filter(ImageFilter.GaussianBlur(config.init_blur))
        x = pil_to_tensor(image).to(models.device) * 2 - 1
        with torch.no_grad():
            return models.vqgan.encode(x)
    idx = torch.randint(codebook.shape[0], (h * w,), generator=gen).to(models.device)
    return codebook[idx].T.reshape(1, -1, h, w).clone()


def _cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Resize to cover width x height, then centre-crop (keeps the aspect ratio)."""
    scale = max(width / image.width, height / image.height)
    size = (max(width, round(image.width * scale)), max(height, round(image.height * scale)))
    image = image.resize(size, Image.Resampling.LANCZOS)
    left, top = (image.width - width) // 2, (image.height - height) // 2
    return image.crop((left, top, left + width, top + height))
