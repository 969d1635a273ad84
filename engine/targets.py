"""What a run aims at and where it starts: prompt embeddings and the first latent."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from doorways_engine.config import GenerationConfig, parse_image_prompt
from doorways_engine.errors import ConfigError, ModelFileMissingError
from doorways_engine.images import pil_to_tensor
from doorways_engine.inputs import open_image
from doorways_engine.models import Models


@dataclass
class Targets:
    """Text and image targets. Positive prompts are placed across the width in panorama
    mode; negative prompts apply everywhere, image prompts everywhere or on one side.
    Stops are distances (NaN: none, ``doorways_engine.losses.stopped_distance``)."""

    placed: torch.Tensor  # (P, D)
    placed_w: torch.Tensor  # (P,)
    placed_stop: torch.Tensor  # (P,)
    glob: torch.Tensor  # (G, D)
    glob_w: torch.Tensor  # (G,)
    glob_stop: torch.Tensor  # (G,)
    glob_side: list[str | None]  # (G,) "left", "right" or None (the whole image)


def build_targets(config: GenerationConfig, models: Models) -> Targets:
    device = models.device
    dim = int(models.clip.text_projection.shape[1])
    placed: list[tuple[torch.Tensor, float, float]] = []
    glob: list[tuple[torch.Tensor, float, float, str | None]] = []
    for p in config.prompt_list():
        emb = models.embed_text(p.text)
        stop = math.nan if p.stop is None else p.stop
        if config.panorama != "off" and p.weight < 0:
            glob.append((emb, p.weight, stop, None))
        else:
            placed.append((emb, p.weight, stop))
    for spec in config.image_prompts:
        image = parse_image_prompt(spec)
        crops = _embed_image_file(image.path, models)  # (K, D): its weight shared by K crops
        glob += [(emb, image.weight / len(crops), math.nan, image.side) for emb in crops]

    def stack(rows: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(rows) if rows else torch.zeros(0, dim, device=device)

    def column(values: list[float]) -> torch.Tensor:
        return torch.tensor(values, device=device, dtype=torch.float32)

    return Targets(
        placed=stack([row[0] for row in placed]),
        placed_w=column([row[1] for row in placed]),
        placed_stop=column([row[2] for row in placed]),
        glob=stack([row[0] for row in glob]),
        glob_w=column([row[1] for row in glob]),
        glob_stop=column([row[2] for row in glob]),
        glob_side=[row[3] for row in glob],
    )


def image_prompt_crops(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The squares an image prompt is embedded from, as (left, top, right, bottom): the
    centre square of the short side (the cover crop: the aspect is kept, never squashed),
    and two squares of 3/4 of it towards either end of the long side, so that the target
    also knows the parts a centre crop cuts off, as the run's cutouts do."""
    short, long_side = min(width, height), max(width, height)
    small = max(1, round(short * 0.75))
    boxes = []
    for centre, side in (
        (long_side / 2, short),
        (long_side / 4, small),
        (long_side * 3 / 4, small),
    ):
        start = min(max(0, round(centre - side / 2)), long_side - side)  # along the long side
        across = (short - side) // 2
        if width >= height:
            boxes.append((start, across, start + side, across + side))
        else:
            boxes.append((across, start, across + side, start + side))
    return boxes


@torch.no_grad()
def _embed_image_file(path: str, models: Models) -> torch.Tensor:
    """(K, D): the CLIP embeddings of the image's crops (``image_prompt_crops``)."""
    image = _open_image(path)
    s = models.cut_size
    x = pil_to_tensor(image).to(models.device)
    crops = [
        F.interpolate(
            x[:, :, top:bottom, left:right],
            size=(s, s),
            mode="bicubic",
            align_corners=False,
            antialias=True,
        ).clamp(0, 1)
        for left, top, right, bottom in image_prompt_crops(image.width, image.height)
    ]
    return models.encode_image(torch.cat(crops)).float()


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
