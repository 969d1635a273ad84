"""The public VQGAN+CLIP script's loop, run as it runs, for speed and memory comparisons.

It runs as nerdyrodent/VQGAN-CLIP ``generate.py`` runs, unmodified, on the same weights:

- CLIP as ``clip.load`` leaves it: on CUDA its convolutions, linear maps, attention and
  projections in fp16 (``clip.model.convert_weights``), fp32 on the CPU;
- the VQGAN in fp32, with PyTorch's default TF32 convolutions on Ampere and later
  (``torch.backends.cudnn.allow_tf32``, which the script leaves on) and no autocast;
- one image at a time: decode, 32 cutouts cut and resized one by one to CLIP's input
  size, augmented, CLIP ViT-B/32, squared spherical distance to the prompt, Adam (lr
  0.1), the latent clamped to the codebook's range;
- the loss read back every step (the script prints it: a host sync each step).

Deliberately independent of the engine (it shares only the model weights): its small
helpers restate the well-known formulas on purpose, so an engine change can never speed
up the reference by accident.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class _ReplaceGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_forward, x_backward):
        ctx.shape = x_backward.shape
        return x_forward

    @staticmethod
    def backward(ctx, grad_in):
        return None, grad_in.sum_to_size(ctx.shape)


class _ClampWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(x)
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad_in):
        (x,) = ctx.saved_tensors
        return grad_in * (grad_in * (x - x.clamp(ctx.lo, ctx.hi)) >= 0), None, None


def _vector_quantize(x, codebook):
    d = x.pow(2).sum(dim=-1, keepdim=True) + codebook.pow(2).sum(dim=1) - 2 * x @ codebook.T
    x_q = F.one_hot(d.argmin(-1), codebook.shape[0]).to(d.dtype) @ codebook
    return _ReplaceGrad.apply(x_q, x)


class MakeCutouts(torch.nn.Module):
    """Cut, resize and augment each cutout separately, the way the scripts do."""

    def __init__(self, cut_size: int, cutn: int, cut_pow: float = 1.0) -> None:
        super().__init__()
        self.cut_size, self.cutn, self.cut_pow = cut_size, cutn, cut_pow

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        side_y, side_x = x.shape[2:4]
        max_size = min(side_x, side_y)
        min_size = min(side_x, side_y, self.cut_size)
        cutouts = []
        for _ in range(self.cutn):
            size = int(torch.rand([]) ** self.cut_pow * (max_size - min_size) + min_size)
            offx = torch.randint(0, side_x - size + 1, ())
            offy = torch.randint(0, side_y - size + 1, ())
            cut = x[:, :, offy : offy + size, offx : offx + size]
            cut = (
                F.adaptive_avg_pool2d(cut, self.cut_size)
                + F.adaptive_max_pool2d(cut, self.cut_size)
            ) / 2
            angle = float(torch.empty(()).uniform_(-15, 15))
            shear = float(torch.empty(()).uniform_(-5, 5))
            cut = TF.affine(cut, angle=angle, translate=[0, 0], scale=1.0, shear=[shear, 0.0])
            if torch.rand([]) < 0.2:
                cut = TF.gaussian_blur(cut, kernel_size=[3, 3])
            cutouts.append(cut)
        batch = torch.cat(cutouts)
        facs = batch.new_empty([self.cutn, 1, 1, 1]).uniform_(0, 0.1)
        return batch + facs * torch.randn_like(batch)


def as_clip_load_leaves_it(clip_model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """A copy of ``clip_model`` as ``clip.load`` returns it for a device: fp16 weights on
    CUDA (``build_model`` converts them and only the CPU path calls ``.float()``)."""
    import copy

    from clip.model import convert_weights

    model = copy.deepcopy(clip_model).float()
    if device.type == "cuda":
        convert_weights(model)
    return model.eval().requires_grad_(False)


def weight_bytes(*modules: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for m in modules for p in m.parameters())


class ReferenceLoop:
    """The public script's loop over one image. ``step()`` runs one optimisation step."""

    def __init__(
        self,
        vqgan,
        clip_model,
        text: str,
        *,
        width: int,
        height: int,
        cutn: int = 32,
        lr: float = 0.1,
        seed: int = 0,
    ) -> None:
        import clip

        torch.manual_seed(seed)
        device = next(vqgan.parameters()).device
        self.vqgan, self.clip = vqgan, as_clip_load_leaves_it(clip_model, device)
        clip_model = self.clip
        self.device = device
        f = 2 ** (vqgan.decoder.num_resolutions - 1)
        toks_x, toks_y = width // f, height // f
        codebook = vqgan.quantize.weight
        one_hot = F.one_hot(
            torch.randint(codebook.shape[0], [toks_y * toks_x], device=device), codebook.shape[0]
        )
        self.z = (
            (one_hot.float() @ codebook).view(1, toks_y, toks_x, -1).permute(0, 3, 1, 2).clone()
        )
        self.z.requires_grad_(True)
        self.z_min = codebook.min(dim=0).values[None, :, None, None]
        self.z_max = codebook.max(dim=0).values[None, :, None, None]
        self.opt = torch.optim.Adam([self.z], lr=lr)
        self.make_cutouts = MakeCutouts(clip_model.visual.input_resolution, cutn)
        with torch.no_grad():
            embed = clip_model.encode_text(clip.tokenize(text).to(device)).float()
        self.target = F.normalize(embed, dim=-1)
        self.mean = torch.tensor(CLIP_MEAN, device=device)[:, None, None]
        self.std = torch.tensor(CLIP_STD, device=device)[:, None, None]

    def synth(self) -> torch.Tensor:
        z_q = _vector_quantize(self.z.movedim(1, 3), self.vqgan.quantize.weight).movedim(3, 1)
        x = self.vqgan.decoder(self.vqgan.post_quant_conv(z_q))
        return _ClampWithGrad.apply(x.add(1).div(2), 0, 1)

    def step(self) -> float:
        self.opt.zero_grad(set_to_none=True)
        out = self.synth()
        cut = (self.make_cutouts(out) - self.mean) / self.std
        emb = F.normalize(self.clip.encode_image(cut).float(), dim=-1)
        dists = (emb[:, None] - self.target[None]).norm(dim=2).div(2).arcsin().pow(2).mul(2)
        loss = dists.mean()
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            self.z.copy_(self.z.maximum(self.z_min).minimum(self.z_max))
        return loss.item()  # the scripts print it every step: a host sync each step
