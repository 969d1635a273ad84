"""The optimisation loop: a config in, an image out, progress through a callback.

One step: snap the latent to the codebook (straight-through), decode, cut out N views,
embed them with CLIP, score against the prompts (weighted by panorama position and
cutout size), add the symmetry terms, and take an Adam step on the latent.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from engine.config import GenerationConfig, snap_size
from engine.cutouts import make_cutouts, sample_cutouts
from engine.errors import Cancelled, ConfigError, ModelFileMissingError, OutOfMemoryError
from engine.images import load_state, pil_to_tensor, tensor_to_pil
from engine.losses import (
    clamp_with_grad,
    edge_symmetry_loss,
    panorama_weights,
    semantic_symmetry_loss,
    size_band_weights,
    size_weights,
    spherical_distance,
    tone_symmetry_loss,
)
from engine.models import Models, load_models
from engine.vqgan import vector_quantize


@dataclass
class StepInfo:
    """What the callback sees after each step."""

    step: int  # steps completed, counting a resumed run's earlier steps
    total: int
    losses: dict[str, float]  # filled on report steps (reading them syncs the GPU)
    it_per_s: float
    eta_s: float
    preview: Image.Image | None  # every config.preview_every steps, and at the end
    width: int
    height: int
    _state: Callable[[], dict[str, Any]] = field(repr=False)

    def state(self) -> dict[str, Any]:
        """A snapshot that a config with ``resume_latent`` continues from exactly."""
        return self._state()


@dataclass
class GenerationResult:
    image: Image.Image
    latent: torch.Tensor  # (1, D, h, w) on the CPU
    steps: int
    losses: dict[str, float]
    seconds: float
    config: GenerationConfig
    notes: list[str] = field(default_factory=list)


Callback = Callable[[int, StepInfo], None]


@dataclass
class _Targets:
    """Text and image targets. Positive prompts are placed across the width in panorama
    mode; negative prompts and image prompts apply everywhere."""

    placed: torch.Tensor  # (P, D)
    placed_w: torch.Tensor  # (P,)
    glob: torch.Tensor  # (G, D)
    glob_w: torch.Tensor  # (G,)


def _targets(config: GenerationConfig, models: Models) -> _Targets:
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
        path, weight = _split_weight(spec)
        glob.append(_embed_image_file(path, models))
        glob_w.append(weight)

    def stack(rows: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(rows) if rows else torch.zeros(0, dim, device=device)

    return _Targets(
        stack(placed),
        torch.tensor(placed_w, device=device),
        stack(glob),
        torch.tensor(glob_w, device=device),
    )


def _split_weight(spec: str) -> tuple[str, float]:
    head, sep, tail = spec.rpartition(":")
    if sep:
        try:
            return head, float(tail)
        except ValueError:
            pass
    return spec, 1.0


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
        with Image.open(p) as im:
            return im.convert("RGB")
    except OSError as exc:
        raise ConfigError(f"{p} is not an image PIL can read ({exc})") from exc


def _init_latent(
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


def synth(z: torch.Tensor, models: Models) -> torch.Tensor:
    """(1, D, h, w) latent -> (1, 3, H, W) image in [0, 1], snapped to the codebook."""
    z_q = vector_quantize(z.movedim(1, 3), models.vqgan.codebook).movedim(3, 1)
    return clamp_with_grad(models.vqgan.decode(z_q).add(1).div(2), 0, 1)


def step_losses(
    x: torch.Tensor,
    z: torch.Tensor,
    *,
    config: GenerationConfig,
    models: Models,
    targets: _Targets,
    gen: torch.Generator,
    noise_gen: torch.Generator,
    progress: float,
    z_init: torch.Tensor | None,
) -> dict[str, torch.Tensor]:
    """Every loss term of one step, as 0-dim tensors (no host sync)."""
    _, _, height, width = x.shape
    params = sample_cutouts(
        gen,
        n=config.cutn,
        width=width,
        height=height,
        cut_min=config.cut_min,
        cut_pow=config.cut_pow,
        rotate_deg=config.aug_rotate,
        skew=config.aug_skew,
        blur_prob=config.aug_blur,
        mirrored=config.semantic_symmetry > 0,
    )
    cutouts = make_cutouts(
        x, params, cut_size=models.cut_size, noise_std=config.aug_noise, noise_gen=noise_gen
    )
    emb = models.encode_image(cutouts)  # (N, D)
    n = params.n
    sw = size_weights(
        params.size_frac, size_band_weights(config.resolved_size_weighting(), progress)
    )
    sw = sw.to(emb.device)  # (N,)
    losses: dict[str, torch.Tensor] = {}
    if targets.placed.shape[0]:
        pw = panorama_weights(params.x_centre(width), targets.placed.shape[0], config.panorama)
        pw = pw.to(emb.device)  # (N, P)
        dist = spherical_distance(emb, targets.placed)  # (N, P)
        losses["prompt"] = (dist * pw * targets.placed_w * sw[:, None]).sum() / n
        if config.semantic_symmetry:
            mix = pw * targets.placed_w.clamp(min=0)  # (N, P), positive prompts only
            text = mix @ F.normalize(targets.placed, dim=-1)  # (N, D)
            losses["semantic"] = config.semantic_symmetry * semantic_symmetry_loss(emb, text)
    if targets.glob.shape[0]:
        dist = spherical_distance(emb, targets.glob)  # (N, G)
        losses["global"] = (dist * targets.glob_w * sw[:, None]).sum() / n
    if config.edge_symmetry:
        losses["edge"] = (
            config.edge_symmetry * edge_symmetry_loss(x.float(), sigma=config.symmetry_blur).sum()
        )
    if config.tone_symmetry:
        losses["tone"] = (
            config.tone_symmetry * tone_symmetry_loss(x.float(), sigma=config.symmetry_blur).sum()
        )
    if z_init is not None and config.init_weight:
        losses["init"] = config.init_weight * F.mse_loss(z, z_init)
    return losses


def _autocast(config: GenerationConfig, device: torch.device):
    use_bf16 = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")
    if use_bf16:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def generate(
    config: GenerationConfig,
    *,
    callback: Callback | None = None,
    cancel: Callable[[], bool] | None = None,
    models: Models | None = None,
    device: str | torch.device | None = None,
    model_dir: Path | None = None,
) -> GenerationResult:
    """Run one generation. Raises Cancelled (with a resumable ``state``) if cancelled."""
    started = time.perf_counter()
    config.validate()
    models = models or load_models(config, device=device, model_dir=model_dir)
    device = models.device
    notes: list[str] = []
    width, height = snap_size(config.width, config.height, models.factor)
    if (width, height) != (config.width, config.height):
        notes.append(
            f"size {config.width}x{config.height} snapped to {width}x{height} "
            f"(a multiple of the VQGAN's factor {models.factor})"
        )
    h, w = height // models.factor, width // models.factor

    gen = torch.Generator().manual_seed(config.seed)
    noise_gen = torch.Generator(device=device).manual_seed(config.seed + 1)
    targets = _targets(config, models)
    codebook = models.vqgan.codebook
    z_min = codebook.min(0).values[None, :, None, None]
    z_max = codebook.max(0).values[None, :, None, None]

    start = 0
    state = None
    if config.resume_latent:
        state = load_state(Path(config.resume_latent))
        z = state["z"].to(device)
        if z.shape[-2:] != (h, w):
            raise ConfigError(
                f"the saved latent is {tuple(z.shape[-2:])} tokens, this run needs {(h, w)}"
            )
        gen.set_state(state["gen"])
        noise_gen.set_state(state["noise_gen"].to(noise_gen.get_state().device))
        start = int(state["step"])
        z_init = state.get("z_init")
        z_init = z_init.to(device) if z_init is not None else None
    else:
        z = _init_latent(config, models, gen, h, w)
        z_init = z.clone() if config.init_weight else None
    z = z.detach().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=config.lr)
    if state is not None and state.get("opt"):
        opt.load_state_dict(state["opt"])

    def snapshot(step: int) -> dict[str, Any]:
        return {
            "z": z.detach().cpu(),
            "opt": opt.state_dict(),
            "gen": gen.get_state(),
            "noise_gen": noise_gen.get_state().cpu(),
            "step": step,
            "z_init": z_init.cpu() if z_init is not None else None,
            "config": config.to_dict(),
        }

    last_losses: dict[str, float] = {}
    tick, tick_step = time.perf_counter(), start
    rate = 0.0
    for step in range(start + 1, config.steps + 1):
        if cancel is not None and cancel():
            raise Cancelled(step - 1, snapshot(step - 1))
        try:
            with _autocast(config, device):
                x = synth(z, models)
                losses = step_losses(
                    x,
                    z,
                    config=config,
                    models=models,
                    targets=targets,
                    gen=gen,
                    noise_gen=noise_gen,
                    progress=(step - 1) / max(1, config.steps - 1),
                    z_init=z_init,
                )
                total = torch.stack([v.float() for v in losses.values()]).sum()
            opt.zero_grad(set_to_none=True)
            total.backward()
            opt.step()
            with torch.no_grad():
                z.copy_(torch.maximum(torch.minimum(z, z_max), z_min))
        except torch.OutOfMemoryError as exc:
            raise OutOfMemoryError(
                f"CUDA out of memory at {width}x{height} with {config.cutn} cutouts on {device}: "
                "try fewer cutouts or a smaller size"
            ) from exc
        report = step % config.report_every == 0 or step == config.steps
        preview_due = step == config.steps or (
            config.preview_every and step % config.preview_every == 0
        )
        if report or preview_due:
            last_losses = {k: float(v.detach()) for k, v in losses.items()}
            last_losses["total"] = float(total.detach())
            now = time.perf_counter()
            rate = (step - tick_step) / max(now - tick, 1e-9)
            tick, tick_step = now, step
        if callback is not None:
            preview = tensor_to_pil(x) if preview_due else None
            callback(
                step,
                StepInfo(
                    step=step,
                    total=config.steps,
                    losses=last_losses if report or preview_due else {},
                    it_per_s=rate,
                    eta_s=(config.steps - step) / rate if rate else 0.0,
                    preview=preview,
                    width=width,
                    height=height,
                    _state=lambda step=step: snapshot(step),
                ),
            )
    with torch.no_grad(), _autocast(config, device):
        image = tensor_to_pil(synth(z, models))
    return GenerationResult(
        image=image,
        latent=z.detach().cpu(),
        steps=config.steps,
        losses=last_losses,
        seconds=time.perf_counter() - started,
        config=config.replace(width=width, height=height),
        notes=notes,
    )
