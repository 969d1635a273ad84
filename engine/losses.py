"""Loss terms and weightings of the Doorways method, each a small pure function.

Shapes: N cutouts, P prompts, D embedding width, images (B, 3, H, W) in [0, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from engine.cutouts import gaussian_blur

# -- CLIP distance --------------------------------------------------------------------


def spherical_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared great-circle distance between unit-normalised rows.

    a: (N, D), b: (P, D) -> (N, P); 0 for identical directions, pi^2/... at most 2 (opposite).
    """
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    chord = (a[:, None, :] - b[None, :, :]).norm(dim=-1)  # (N, P)
    return chord.div(2).clamp(max=1).arcsin().pow(2).mul(2)


# -- panoramas: prompts placed across the width ---------------------------------------


def panorama_weights(x: torch.Tensor, n_prompts: int, mode: str) -> torch.Tensor:
    """Weight of each prompt for cutouts centred at x (0 = left edge, 1 = right edge).

    x: (N,) -> (N, P); each row sums to 1. Prompt k sits at k / (P - 1).
    'linear' interpolates between neighbours, 'cosine' eases the same blend, 'hard'
    gives each cutout to its nearest prompt (an exact tie is split), 'off' gives every
    prompt full weight everywhere.
    """
    n = x.shape[0]
    if mode == "off":
        return x.new_ones(n, n_prompts)
    if n_prompts == 1:
        return x.new_ones(n, 1)
    pos = x.clamp(0, 1) * (n_prompts - 1)  # (N,) position in prompt units
    centres = torch.arange(n_prompts, dtype=x.dtype, device=x.device)  # (P,)
    dist = (pos[:, None] - centres[None, :]).abs()  # (N, P)
    if mode == "hard":
        w = (dist == dist.min(dim=1, keepdim=True).values).to(x.dtype)
        return w / w.sum(dim=1, keepdim=True)
    tent = (1 - dist).clamp(min=0)  # (N, P), linear hat per prompt, rows sum to 1
    if mode == "linear":
        return tent
    if mode == "cosine":
        eased = 0.5 - 0.5 * torch.cos(math.pi * tent)  # same end points, flat near prompts
        return eased / eased.sum(dim=1, keepdim=True)
    raise ValueError(f"unknown panorama mode {mode!r}")


# -- size-weighted cutouts ------------------------------------------------------------

SIZE_BANDS = {  # weight of (small, medium, large) cutouts; mean 1
    "uniform": (1.0, 1.0, 1.0),
    "layout": (0.25, 0.75, 2.0),
    "detail": (2.0, 0.75, 0.25),
}


def size_band_weights(preset: str, progress: float) -> tuple[float, float, float]:
    """Band weights for a preset; 'layout-to-detail' moves linearly over the run (0..1)."""
    if preset == "layout-to-detail":
        a, b = SIZE_BANDS["layout"], SIZE_BANDS["detail"]
        t = min(max(progress, 0.0), 1.0)
        return tuple(x + (y - x) * t for x, y in zip(a, b, strict=True))  # type: ignore[return-value]
    return SIZE_BANDS[preset]


def size_weights(size_frac: torch.Tensor, bands: tuple[float, float, float]) -> torch.Tensor:
    """(N,) size fraction (0 smallest .. 1 largest) -> (N,) loss weight from its third."""
    band = (size_frac * 3).long().clamp(0, 2)
    return torch.tensor(bands, dtype=size_frac.dtype)[band]


# -- symmetry -------------------------------------------------------------------------


def greyscale(img: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) luma."""
    r, g, b = img.unbind(1)
    return (0.299 * r + 0.587 * g + 0.114 * b)[:, None]


def sobel_magnitude(grey: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) -> (B, 1, H, W) edge strength."""
    kx = grey.new_tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    k = torch.stack([kx, kx.T])[:, None]  # (2, 1, 3, 3)
    g = F.conv2d(F.pad(grey, (1, 1, 1, 1), mode="replicate"), k)  # (B, 2, H, W)
    return (g.pow(2).sum(1, keepdim=True) + 1e-8).sqrt()


def edge_symmetry_loss(img: torch.Tensor, *, sigma: float) -> torch.Tensor:
    """Blurred edge salience vs its mirror image, squared difference. (B,3,H,W) -> (B,)."""
    e = gaussian_blur(sobel_magnitude(greyscale(img)), sigma=sigma)
    return (e - e.flip(-1)).pow(2).mean(dim=(1, 2, 3))


def tone_symmetry_loss(img: torch.Tensor, *, sigma: float) -> torch.Tensor:
    """Blurred greyscale vs its mirror image, L1 (lets objects form before tone is
    matched). (B, 3, H, W) -> (B,)."""
    g = gaussian_blur(greyscale(img), sigma=sigma)
    return (g - g.flip(-1)).abs().mean(dim=(1, 2, 3))


def mirror_score(img: torch.Tensor, *, sigma: float = 2.0) -> torch.Tensor:
    """How mirror-symmetric an image is: 1 - normalised L1 between the blurred greyscale
    and its flip. 1.0 is a perfect mirror. (B, 3, H, W) -> (B,). For tests and reports."""
    g = gaussian_blur(greyscale(img), sigma=sigma)
    spread = (g - g.mean(dim=(2, 3), keepdim=True)).abs().mean(dim=(1, 2, 3)) + 1e-8
    return 1 - (g - g.flip(-1)).abs().mean(dim=(1, 2, 3)) / (2 * spread)


def semantic_symmetry_loss(image_embeds: torch.Tensor, text_targets: torch.Tensor) -> torch.Tensor:
    """Cutouts come in mirrored pairs (i, i + N/2). For each pair, maximise
    cos(patch_i - text_i, patch_j - text_j): what the left patch adds beyond its prompt
    should point the same way as what the mirrored right patch adds beyond its own, so
    objects are translated from one context into the other rather than copied.

    image_embeds: (N, D), text_targets: (N, D) the prompt mix governing each cutout
    -> scalar loss = -mean cosine (lower is more symmetric).
    """
    n = image_embeds.shape[0] // 2
    e = F.normalize(image_embeds, dim=-1)
    t = F.normalize(text_targets, dim=-1)
    d = e - t  # (N, D)
    return -F.cosine_similarity(d[:n], d[n : 2 * n], dim=-1).mean()


# -- the rest -------------------------------------------------------------------------


class _ClampWithGrad(torch.autograd.Function):
    """Clamp in the forward pass; in the backward pass let through gradients that would
    move an out-of-range value back into range (so saturated pixels can recover)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(x)
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        inward = grad * (grad * (x - x.clamp(ctx.lo, ctx.hi)) >= 0)
        return inward, None, None


def clamp_with_grad(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    return _ClampWithGrad.apply(x, lo, hi)
