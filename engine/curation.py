"""Judging a finished image with the CLIP that made it: embeddings, probe scores, matches.

One CLIP forward per image (the whole image, and for a panorama its two halves, as one
batch), after the image is written and never on the step path. From the embeddings:

- zero-shot probabilities over the probe texts (``doorways_engine.probes``): a softmax of
  CLIP's logit scale times the cosine similarities, within each probe group;
- a suggested door count (the winning door probe) and a "figures likely" flag (the mass
  on the figure probes against the empty ones), each with its probability as confidence;
- how well the whole image matches its prompts, and each half of a panorama its own side's
  prompt (cosine similarity, as CLIP's loss sees it).

Nothing here decides: the worker stores it as a suggestion beside the artist's tags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from doorways_engine.config import GenerationConfig
from doorways_engine.images import pil_to_tensor
from doorways_engine.model_files import DEMO
from doorways_engine.models import Models
from doorways_engine.probes import Probes

MAX_LOGIT_SCALE = 100.0  # CLIP clamps its learned temperature here


@dataclass(frozen=True)
class ImageEmbedding:
    """Unit-length CLIP embeddings (D,) float32 on the CPU."""

    whole: torch.Tensor
    left: torch.Tensor | None = None  # images wider than tall only
    right: torch.Tensor | None = None


@dataclass(frozen=True)
class SidePrompts:
    """What an image was asked to show: (text, weight) of its positive prompts, and for a
    panorama with two or more of them the left (first) and right (last) side's own."""

    whole: tuple[tuple[str, float], ...]
    left: str | None = None
    right: str | None = None


@dataclass(frozen=True)
class Judgement:
    """The suggestion for one image (see ``store.curation.Suggestion``)."""

    doors: int | None
    doors_confidence: float | None
    figures: bool | None
    figures_confidence: float | None
    match_whole: float | None
    match_left: float | None
    match_right: float | None
    scores: dict[str, float]  # each probe's probability within its group


def clip_name(config: GenerationConfig) -> str:
    """The name an embedding is stored under: the CLIP that made it. Registry names as
    they are; the demo CLIP with its build version (a rebuilt demo is another model); a
    local file by its resolved path."""
    if config.clip == DEMO:
        from doorways_engine.tiny import DEMO_VERSION

        return f"{DEMO}-v{DEMO_VERSION}"
    from doorways_engine.registry import clip_entries

    if config.clip in clip_entries():
        return config.clip
    return str(Path(config.clip).expanduser().resolve())


def side_prompts(config: GenerationConfig) -> SidePrompts:
    """The positive prompts (style appended, as the run saw them); in panorama mode the
    first and last are the left and right sides' own."""
    positive = [p for p in config.prompt_list() if p.weight > 0]
    whole = tuple((p.text, p.weight) for p in positive)
    if config.panorama != "off" and len(positive) >= 2:
        return SidePrompts(whole, left=positive[0].text, right=positive[-1].text)
    return SidePrompts(whole)


# -- embedding ------------------------------------------------------------------------


def image_views(image: Image.Image, size: int) -> torch.Tensor:
    """(V, 3, S, S) in [0, 1]: the whole image, and for one wider than tall its left and
    right halves, each resized to CLIP's square input. Squeezed, not cropped: a door at
    either edge stays in view, and doors are what is counted."""
    image = image.convert("RGB")
    width, height = image.size
    boxes = [(0, 0, width, height)]
    if width > height:
        half = width // 2
        boxes += [(0, 0, half, height), (width - half, 0, width, height)]
    views = [
        pil_to_tensor(image.crop(box).resize((size, size), Image.Resampling.BICUBIC))
        for box in boxes
    ]
    return torch.cat(views)


@torch.no_grad()
def embed_image(image: Image.Image, models: Models) -> ImageEmbedding:
    """One CLIP forward (a batch of 1 or 3 views) -> unit embeddings on the CPU."""
    dtype = next(models.clip.parameters()).dtype
    views = image_views(image, models.cut_size).to(models.device, dtype)  # (V, 3, S, S)
    emb = torch.nn.functional.normalize(models.encode_image(views).float(), dim=-1).cpu()
    if len(emb) == 3:
        return ImageEmbedding(emb[0], emb[1], emb[2])
    return ImageEmbedding(emb[0])


# -- judging --------------------------------------------------------------------------


def probabilities(image: torch.Tensor, texts: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """(D,) unit image, (P, D) unit texts -> (P,) softmax of the scaled cosines: CLIP's
    zero-shot classification."""
    return torch.softmax(logit_scale * (texts @ image), dim=0)


def logit_scale(models: Models) -> float:
    """CLIP's learned temperature (100 for the OpenAI releases; the demo's is untrained)."""
    return min(MAX_LOGIT_SCALE, float(models.clip.logit_scale.detach().exp()))


def judge(
    embedding: ImageEmbedding,
    *,
    embed_text: Callable[[str], torch.Tensor],
    scale: float,
    probes: Probes,
    prompts: SidePrompts,
) -> Judgement:
    """The suggestion from an image's embeddings; ``embed_text`` gives a text's (D,)
    embedding (any length: normalised here)."""

    def unit(text: str) -> torch.Tensor:
        return torch.nn.functional.normalize(embed_text(text).float().cpu(), dim=-1)

    def stack(texts: list[str]) -> torch.Tensor:
        return torch.stack([unit(t) for t in texts])  # (P, D)

    whole = embedding.whole.float()
    scores: dict[str, float] = {}
    doors = doors_confidence = None
    if probes.doors:
        door_p = probabilities(whole, stack([t for _, t in probes.doors]), scale)  # (P,)
        best = int(door_p.argmax())
        doors, doors_confidence = probes.doors[best][0], float(door_p[best])
        scores |= {t: float(p) for (_, t), p in zip(probes.doors, door_p, strict=True)}
    figures = figures_confidence = None
    if probes.figures:
        texts = [*probes.figures, *probes.empty]
        fig_p = probabilities(whole, stack(texts), scale)  # (F + E,)
        likely = float(fig_p[: len(probes.figures)].sum())
        figures = likely >= 0.5
        figures_confidence = likely if figures else 1.0 - likely
        scores |= {t: float(p) for t, p in zip(texts, fig_p, strict=True)}
    match_whole = None
    if prompts.whole:
        weights = torch.tensor([w for _, w in prompts.whole])[:, None]  # (K, 1)
        target = (weights * stack([t for t, _ in prompts.whole])).sum(0)  # (D,)
        match_whole = float(torch.nn.functional.normalize(target, dim=0) @ whole)

    def side(view: torch.Tensor | None, text: str | None) -> float | None:
        return None if view is None or text is None else float(unit(text) @ view.float())

    return Judgement(
        doors=doors,
        doors_confidence=doors_confidence,
        figures=figures,
        figures_confidence=figures_confidence,
        match_whole=match_whole,
        match_left=side(embedding.left, prompts.left),
        match_right=side(embedding.right, prompts.right),
        scores=scores,
    )


def curate(
    image: Image.Image, models: Models, config: GenerationConfig, probes: Probes
) -> tuple[ImageEmbedding, Judgement]:
    """Embed and judge one finished image with the loaded models that made it."""
    embedding = embed_image(image, models)
    judgement = judge(
        embedding,
        embed_text=models.embed_text,
        scale=logit_scale(models),
        probes=probes,
        prompts=side_prompts(config),
    )
    return embedding, judgement
