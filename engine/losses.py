"""Loss terms and weightings of the Doorways method, each a small pure function.

Shapes: N cutouts, P prompts, D embedding width, images (B, 3, H, W) in [0, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from doorways_engine.cutouts import gaussian_blur

# -- CLIP distance --------------------------------------------------------------------


def spherical_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Twice the squared great-circle angle between unit-normalised rows (the canonical
    scripts' distance): a: (N, D), b: (P, D) -> (N, P), from 0 (the same direction) to
    pi^2/2 (opposite directions; ``doorways_engine.config.MAX_DISTANCE``, the range of a stop)."""
    a = F.normalize(a, dim=-1)
    b = F.normalize(b, dim=-1)
    chord = (a[:, None, :] - b[None, :, :]).norm(dim=-1)  # (N, P)
    return chord.div(2).clamp(max=1).arcsin().pow(2).mul(2)


class _ReplaceGrad(torch.autograd.Function):
    """``forward``'s value with ``backward``'s gradient."""

    @staticmethod
    def forward(ctx, forward: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
        ctx.shape = backward.shape
        return forward

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return None, grad.sum_to_size(ctx.shape)


def replace_grad(forward: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
    return _ReplaceGrad.apply(forward, backward)


def stopped_distance(dist: torch.Tensor, weight: torch.Tensor, stop: torch.Tensor) -> torch.Tensor:
    """Each prompt's weighted distance with its stop: (N, P) distances, (P,) weights and
    (P,) stops (NaN: none) -> (N, P) ``dist * weight``, whose gradient is cut where a
    positive prompt is already closer than its stop (a negative one farther). This is
    the canonical ``replace_grad(dists, max(dists, stop))`` on the signed distance; the
    value is not clamped, so the reported loss is the true one."""
    sign = weight.sign()
    signed = dist * sign
    floor = torch.where(stop.isnan(), -math.inf, stop * sign).to(signed.dtype)
    held = replace_grad(signed, torch.maximum(signed, floor))
    return held * weight.abs()


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


SIDES = ("left", "right")  # where an image prompt may aim (None: the whole image)


def side_weights(x: torch.Tensor, sides: list[str | None], mode: str) -> torch.Tensor:
    """Weight of each image prompt for cutouts centred at x: 1 for a prompt on the whole
    image, and for one on a side its share of a two-prompt panorama (left at 0, right at
    1) blended as ``mode`` blends the text prompts ('off' splits at the middle, as 'hard').
    x: (N,) -> (N, G)."""
    out = x.new_ones(x.shape[0], len(sides))
    if any(sides):
        halves = panorama_weights(x, 2, "hard" if mode == "off" else mode)  # (N, 2)
        for g, side in enumerate(sides):
            if side is not None:
                out[:, g] = halves[:, SIDES.index(side)]
    return out


def weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over the first dimension of (N, ...) ``values``, weighted by (N,) ``weights``:
    the size weights move the balance between cutouts, never the loss's scale."""
    w = weights / weights.sum()
    return (values * w.view(-1, *[1] * (values.dim() - 1))).sum()


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


def edge_map(img: torch.Tensor, *, sigma: float) -> torch.Tensor:
    """Blurred edge salience (Sobel magnitude of the luma): (B, 3, H, W) -> (B, 1, H, W)."""
    return gaussian_blur(sobel_magnitude(greyscale(img)), sigma=sigma)


def edge_symmetry_loss(img: torch.Tensor, *, sigma: float) -> torch.Tensor:
    """Blurred edge salience vs its mirror image, squared difference. (B,3,H,W) -> (B,).
    In fp32 whatever the autocast (a bf16 convolution blurs away small differences)."""
    with torch.autocast(img.device.type, enabled=False):
        e = edge_map(img.float(), sigma=sigma)
        return (e - e.flip(-1)).pow(2).mean(dim=(1, 2, 3))


def tone_symmetry_loss(img: torch.Tensor, *, sigma: float) -> torch.Tensor:
    """Blurred greyscale vs its mirror image, L1 (lets objects form before tone is
    matched). (B, 3, H, W) -> (B,). In fp32 whatever the autocast."""
    with torch.autocast(img.device.type, enabled=False):
        g = gaussian_blur(greyscale(img.float()), sigma=sigma)
        return (g - g.flip(-1)).abs().mean(dim=(1, 2, 3))


def mirror_score(img: torch.Tensor, *, sigma: float = 2.0, edges: bool = False) -> torch.Tensor:
    """How mirror-symmetric an image is: 1 - normalised L1 between the blurred greyscale
    (with ``edges``, the blurred edge map) and its flip. 1.0 is a perfect mirror.
    (B, 3, H, W) -> (B,). For tests and reports."""
    g = edge_map(img, sigma=sigma) if edges else gaussian_blur(greyscale(img), sigma=sigma)
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
