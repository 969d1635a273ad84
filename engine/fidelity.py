"""What a precision costs: the latent's gradient of one step, and the cosine of two.

A fast precision is kept only where its gradient points where fp32's does (cosine >= 0.98
at the default and the panorama settings: tests/unit/test_precision.py); the speed
benchmark prints the same figure per mode on the GPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from doorways_engine.config import GenerationConfig, snap_size
from doorways_engine.cutouts import make_cutouts
from doorways_engine.models import Models
from doorways_engine.targets import build_targets, init_latent


def latent_gradient(config: GenerationConfig, models: Models) -> torch.Tensor:
    """(1, D, h, w) fp32 gradient of the first step's total loss with respect to the
    latent, computed as the loop computes it (same seeds, same cutouts) in the config's
    precision."""
    from doorways_engine.loop import draw_cutouts, image_losses, synth

    models = models.for_run(config)
    width, height = snap_size(config.width, config.height, models.factor)
    gen = torch.Generator().manual_seed(config.seed)
    noise_gen = torch.Generator(device=models.device).manual_seed(config.seed + 1)
    targets = build_targets(config, models)
    z = init_latent(config, models, gen, height // models.factor, width // models.factor)
    z = z.detach().requires_grad_(True)
    with models.autocast():
        x = synth(z, models)  # (1, 3, H, W)
        params = draw_cutouts(config, gen, width, height, cut_size=models.cut_size)
        cuts = make_cutouts(
            x, params, cut_size=models.cut_size, noise_std=config.aug_noise, noise_gen=noise_gen
        )
        emb = models.encode_image(cuts)  # (N, D)
        losses = image_losses(emb, params, x, config=config, targets=targets, progress=0.0)
        total = torch.stack([v.float() for v in losses.values()]).sum()
    (grad,) = torch.autograd.grad(total, z)
    return grad.detach().float().cpu()


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine of two tensors as flat vectors, in float64: 1 = the same direction."""
    return float(F.cosine_similarity(a.flatten().double(), b.flatten().double(), dim=0))
