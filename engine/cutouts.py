"""Random, augmented cutouts made in one batched ``grid_sample`` call.

Each cutout is an affine map from CLIP's square input onto the image: a centre, a size,
a rotation and a shear. The parameters are drawn on the CPU from a per-image generator
(no device syncs, and the same seed gives the same cutouts on any device); the x-centres
are what panoramas weight by, and mirrored pairs are what semantic symmetry compares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class CutoutParams:
    """Per-cutout geometry, all (N,) float tensors on the CPU, in pixels and radians."""

    size: torch.Tensor  # side of the square patch before resizing
    cx: torch.Tensor  # centre x
    cy: torch.Tensor  # centre y
    angle: torch.Tensor
    shear: torch.Tensor
    blur: torch.Tensor  # 1.0 where this cutout gets the slight blur
    size_frac: torch.Tensor  # 0 = smallest allowed, 1 = largest, for size weighting
    mirrored: bool  # True when cutout i and i + N/2 are mirror images

    @property
    def n(self) -> int:
        return self.size.shape[0]

    def x_centre(self, width: int) -> torch.Tensor:
        """(N,) x-centres as a fraction of the width: 0 = left edge, 1 = right edge."""
        return self.cx / width


def smallest_cutout(cut_min: float, *, short: int, cut_size: int) -> float:
    """The smallest cutout's side in pixels, for the config's ``cut_min``: 0 is CLIP's
    input size ``cut_size`` (as the canonical loop: no cutout is magnified to reach CLIP),
    a value below 1 a fraction of the ``short`` side, any other value pixels. Never more
    than the short side, nor less than one pixel."""
    if cut_min == 0:
        side = float(cut_size)
    elif cut_min < 1:
        side = cut_min * short
    else:
        side = float(cut_min)
    return min(float(short), max(1.0, side))


def sample_cutouts(
    gen: torch.Generator,
    *,
    n: int,
    width: int,
    height: int,
    cut_min: float,
    cut_size: int,
    cut_pow: float,
    rotate_deg: float,
    skew: float,
    blur_prob: float,
    mirrored: bool,
) -> CutoutParams:
    """Draw cutout geometry, sides from ``smallest_cutout`` to the short side. With
    ``mirrored``, the second half mirrors the first about the vertical centre line: same
    size and y, x reflected, rotation and shear negated."""
    m = n // 2 if mirrored else n
    short = min(width, height)
    lo = smallest_cutout(cut_min, short=short, cut_size=cut_size)
    frac = torch.rand(m, generator=gen) ** cut_pow  # (m,) 0..1
    size = lo + (short - lo) * frac
    cx = size / 2 + torch.rand(m, generator=gen) * (width - size)
    cy = size / 2 + torch.rand(m, generator=gen) * (height - size)
    angle = (torch.rand(m, generator=gen) * 2 - 1) * math.radians(rotate_deg)
    shear = (torch.rand(m, generator=gen) * 2 - 1) * skew
    blur = (torch.rand(m, generator=gen) < blur_prob).float()
    if mirrored:
        size, frac, cy, blur = (torch.cat([t, t]) for t in (size, frac, cy, blur))
        cx = torch.cat([cx, width - cx])
        angle = torch.cat([angle, -angle])
        shear = torch.cat([shear, -shear])
    return CutoutParams(size, cx, cy, angle, shear, blur, frac, mirrored)


def cutout_theta(p: CutoutParams, width: int, height: int) -> torch.Tensor:
    """(N, 2, 3) affine matrices for ``F.affine_grid``, mapping output to input coords."""
    cos, sin = torch.cos(p.angle), torch.sin(p.angle)
    # M = R(angle) @ [[1, shear], [0, 1]]: rotation of a sheared square, in pixels
    m00, m01 = cos, cos * p.shear - sin
    m10, m11 = sin, sin * p.shear + cos
    half = p.size / 2
    theta = torch.stack(
        [
            torch.stack([m00 * half * 2 / width, m01 * half * 2 / width, 2 * p.cx / width - 1], -1),
            torch.stack(
                [m10 * half * 2 / height, m11 * half * 2 / height, 2 * p.cy / height - 1], -1
            ),
        ],
        1,
    )  # (N, 2, 3)
    return theta


def make_cutouts(
    image: torch.Tensor,
    params: CutoutParams,
    *,
    cut_size: int,
    noise_std: float = 0.0,
    noise_gen: torch.Generator | None = None,
) -> torch.Tensor:
    """(1, 3, H, W) image in [0, 1] -> (N, 3, cut_size, cut_size) fp32 augmented cutouts.

    Large patches are read from an average-pooled copy so resizing them to CLIP's input
    does not alias; every patch of one pyramid level is sampled in one call. Geometry and
    sampling run in fp32 whatever the autocast: in bf16 a 224-pixel grid is off by up to
    ~0.75 px and neighbouring columns collapse (CLIP casts the result for itself).
    """
    with torch.autocast(image.device.type, enabled=False):
        return _make_cutouts(
            image.float(), params, cut_size=cut_size, noise_std=noise_std, noise_gen=noise_gen
        )


def _make_cutouts(
    image: torch.Tensor,
    params: CutoutParams,
    *,
    cut_size: int,
    noise_std: float,
    noise_gen: torch.Generator | None,
) -> torch.Tensor:
    _, _, height, width = image.shape
    theta = cutout_theta(params, width, height).to(image.device, torch.float32)
    # pyramid level: how many times the patch can be halved and still cover cut_size pixels
    levels = torch.clamp(torch.floor(torch.log2(params.size / cut_size)), min=0).long().tolist()
    pieces, order = [], []
    level_image = image
    for level in range(max(levels) + 1):
        if level:
            level_image = F.avg_pool2d(level_image, 2, ceil_mode=True)
        idx = [i for i, lv in enumerate(levels) if lv == level]
        if not idx:
            continue
        index = torch.tensor(idx, device=image.device)
        grid = F.affine_grid(theta[index], [len(idx), 3, cut_size, cut_size], align_corners=False)
        src = level_image.expand(len(idx), -1, -1, -1)
        pieces.append(
            F.grid_sample(
                src, grid, mode="bilinear", padding_mode="reflection", align_corners=False
            )
        )
        order += idx
    out = torch.cat(pieces)  # (N, 3, S, S) in level order
    if order != sorted(order):
        out = out[torch.argsort(torch.tensor(order, device=image.device))]
    blur_mask = params.blur.to(out.device, out.dtype)[:, None, None, None]
    if bool(params.blur.any()):
        out = torch.lerp(out, gaussian_blur(out, sigma=0.8), blur_mask)
    if noise_std:
        scale = torch.rand(params.n, 1, 1, 1, generator=noise_gen, device=image.device) * noise_std
        noise = torch.randn(out.shape, generator=noise_gen, device=image.device, dtype=out.dtype)
        out = out + scale * noise
    return out


def gaussian_kernel1d(sigma: float, *, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()  # (2r+1,)


def gaussian_blur(x: torch.Tensor, *, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with reflect padding. (B, C, H, W) -> (B, C, H, W)."""
    if sigma <= 0:
        return x
    c = x.shape[1]
    k = gaussian_kernel1d(sigma, device=x.device, dtype=x.dtype)
    r = k.shape[0] // 2
    r_h, r_w = min(r, x.shape[2] - 1), min(r, x.shape[3] - 1)
    kh = k[r - r_h : r + r_h + 1] if r_h < r else k
    kw = k[r - r_w : r + r_w + 1] if r_w < r else k
    x = F.pad(x, (r_w, r_w, 0, 0), mode="reflect")
    x = F.conv2d(x, (kw / kw.sum()).view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, r_h, r_h), mode="reflect")
    return F.conv2d(x, (kh / kh.sum()).view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
