"""Peak GPU memory of a run, estimated from the architecture (no torch, no GPU).

Per image, a step keeps for the backward pass the decoder's activations (counted block by
block from the VQGAN's ``ddconfig``: a taming ResnetBlock saves 4 tensors of its input's
channels and 4 of its output's, an upsampling 1, the output layers 4, an attention block
6 per token plus 2 token-by-token maps) and CLIP's per cutout (tokens x width x layers x a
measured number of bytes). Bytes per element follow the precision. The few constants
that are not counted (marked *calibrated*) were fitted to measurements on one H200 with
the full-size VQGAN imagenet f16 16384 and ViT-B/32, 32 cutouts (issue 16):

    512x512, one image: public script 7.6 GB, engine autocast 6.4 GB
    1024x384, one image: public script 10.7 GB, engine autocast 8.8 GB
    engine autocast, batch 16 at 512x512: 84.6 GB; batch 8 at 1024x384: 61.6 GB
    the decoder alone at 512x512, forward and backward: bf16 weights 3.9 GB, fp32 6.2-6.7 GB

tests/unit/test_memory_estimate.py holds the estimate to those within ``TOLERANCE``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from doorways_engine.config import GenerationConfig, resolve_precision, snap_size

GB = 10**9
# Decoder levels, counted from the output, that ``recompute`` checkpoints block by block
# (``doorways_engine.vqgan.decode_recomputed``): full and half resolution, where ~90% of
# the decoder's activations are.
RECOMPUTED_LEVELS = 2
TOLERANCE = 0.15  # how far the estimate may be from the figures above
HEADROOM = 0.92  # of the free memory a batch may plan to use (fragmentation, the unforeseen)

# Bytes of one saved decoder activation element: fp32 and bf16 by their size; autocast
# keeps bf16 copies for the convolutions and fp32 ones for the normalisations (*calibrated*).
DECODER_BYTES = {"fp32": 4.0, "autocast": 3.0, "bf16": 2.0}
# Full-resolution tensors of the widest channel count alive in the backward pass besides
# the saved ones (gradients, cuDNN's inputs) (*calibrated*, per mode).
BACKWARD_TENSORS = {"fp32": 6.0, "autocast": 6.0, "bf16": 12.0}
# CLIP ViT bytes saved per token, width and layer, measured with saved-tensor hooks on
# ViT-B/32 and ViT-B/16 (fp32 58, bf16 33; fp16 as bf16; autocast as bf16 plus its fp32
# layer-norm inputs).
CLIP_BYTES = {"fp32": 58.0, "autocast": 36.0, "bf16": 33.0, "fp16": 33.0}
WEIGHT_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
WORKSPACE = 64 * 2**20  # cuBLAS and cuDNN workspaces (*calibrated*)
CUTOUT_COPIES = 4  # cutouts held per step in fp32: sampled, augmented, normalised, grads


# taming's imagenet f16 decoder layout (VQGAN imagenet f16 1024 and 16384)
DEFAULT_IMAGENET_F16: dict[str, Any] = {
    "double_z": False,
    "z_channels": 256,
    "resolution": 256,
    "in_channels": 3,
    "out_ch": 3,
    "ch": 128,
    "ch_mult": [1, 1, 2, 2, 4],
    "num_res_blocks": 2,
    "attn_resolutions": [16],
    "dropout": 0.0,
}


@dataclass(frozen=True)
class ModelSpec:
    """What the estimate needs of a VQGAN + CLIP pair: the decoder's layout and the CLIP
    image tower's sizes, and parameter counts for the weights."""

    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (16,)
    resolution: int = 256  # the training resolution, which places the attention levels
    z_channels: int = 256
    clip_width: int = 768
    clip_layers: int = 12
    clip_tokens: int = 50  # patches + the class token per cutout
    cut_size: int = 224
    decoder_params: int = 42_515_587  # with post_quant_conv
    vqgan_params: int = 76_073_859
    image_tower_params: int = 87_849_216
    clip_params: int = 151_277_313
    label: str = "VQGAN imagenet f16 + ViT-B/32"

    @classmethod
    def of(cls, ddconfig: dict[str, Any], **clip: Any) -> ModelSpec:
        """A spec from a taming ``ddconfig`` and CLIP's sizes (keyword fields)."""
        return cls(
            ch=int(ddconfig["ch"]),
            ch_mult=tuple(int(m) for m in ddconfig["ch_mult"]),
            num_res_blocks=int(ddconfig["num_res_blocks"]),
            attn_resolutions=tuple(int(r) for r in ddconfig.get("attn_resolutions", ())),
            resolution=int(ddconfig.get("resolution", 256)),
            z_channels=int(ddconfig["z_channels"]),
            **clip,
        )

    @property
    def factor(self) -> int:
        return 2 ** (len(self.ch_mult) - 1)


DEFAULT_SPEC = ModelSpec()


def _resblock(c_in: int, c_out: int) -> int:
    """Elements per pixel a taming ResnetBlock saves: norm1's input, its swish (two),
    conv1's input; the same after conv1."""
    return 4 * c_in + 4 * c_out


def decoder_elements(
    spec: ModelSpec, width: int, height: int, *, recompute: bool = False
) -> tuple[float, float]:
    """(saved, recomputed) activation elements of one image's decode: what stays alive
    for the backward pass, and the most a checkpointed block rebuilds at once in it.
    With ``recompute`` the top ``RECOMPUTED_LEVELS`` levels keep only their blocks' inputs
    (``doorways_engine.vqgan.decode_recomputed``)."""
    levels = len(spec.ch_mult)
    pixels = width * height

    def area(level: int) -> float:  # pixels at a level; level 0 is the output's
        return pixels / 4**level

    saved = spec.z_channels * area(levels - 1)  # conv_in's input
    block_in = spec.ch * spec.ch_mult[-1]
    tokens = area(levels - 1)
    attention = 6 * block_in * tokens + 2 * tokens**2
    saved += 2 * _resblock(block_in, block_in) * area(levels - 1) + attention  # mid
    rebuilt = 0.0
    for level in reversed(range(levels)):
        heavy = recompute and level < RECOMPUTED_LEVELS
        block_out = spec.ch * spec.ch_mult[level]
        res = spec.resolution // 2**level
        for _ in range(spec.num_res_blocks + 1):
            full = _resblock(block_in, block_out) * area(level)
            saved += block_in * area(level) if heavy else full
            rebuilt = max(rebuilt, full) if heavy else rebuilt
            block_in = block_out
            if res in spec.attn_resolutions:
                saved += 6 * block_in * area(level) + 2 * area(level) ** 2
        if level:  # upsampling into the level above: nearest, then a conv saving its input
            upsampled = block_in * area(level - 1)
            checkpointed = recompute and level - 1 < RECOMPUTED_LEVELS
            saved += block_in * area(level) if checkpointed else upsampled
            rebuilt = max(rebuilt, upsampled) if checkpointed else rebuilt
    tail = 4 * block_in * area(0)  # norm_out, its swish, conv_out
    saved += block_in * area(0) if recompute else tail
    rebuilt = max(rebuilt, tail) if recompute else 0.0
    return saved, rebuilt


@dataclass(frozen=True)
class Estimate:
    """Peak GPU bytes: the weights once, a workspace once, and ``per_image`` per image."""

    weights: int
    workspace: int
    per_image: int
    recompute: bool

    def total(self, batch: int = 1) -> int:
        return self.weights + self.workspace + batch * self.per_image


def estimate_parts(
    spec: ModelSpec,
    *,
    width: int,
    height: int,
    cutn: int,
    decoder: str,
    clip: str,
    recompute: bool = False,
) -> Estimate:
    """The estimate for a decoder computing in ``decoder`` (fp32, autocast, bf16) and a CLIP
    in ``clip`` (the same, or fp16 as ``clip.load`` gives it on CUDA)."""
    saved, rebuilt = decoder_elements(spec, width, height, recompute=recompute)
    act = DECODER_BYTES[decoder]
    grad = 4.0 if decoder == "fp32" else 2.0
    widest = spec.ch * max(spec.ch_mult[:2])
    backward = BACKWARD_TENSORS[decoder] * widest * width * height * grad
    cut = spec.clip_tokens * spec.clip_width * spec.clip_layers * CLIP_BYTES[clip]
    cutouts = CUTOUT_COPIES * 3 * spec.cut_size**2 * 4
    per_image = (saved + rebuilt) * act + backward + cutn * (cut + cutouts)
    # Weights: fp32 everything, except what the mode casts: bf16 the decoder and CLIP's
    # image tower; fp16 the whole CLIP (clip.load); autocast keeps bf16 copies beside.
    dec_w, tower_w = WEIGHT_BYTES.get(decoder, 4), WEIGHT_BYTES.get(clip, 4)
    text_w = WEIGHT_BYTES.get(clip, 4) if clip == "fp16" else 4
    weights = (spec.vqgan_params - spec.decoder_params) * 4 + spec.decoder_params * dec_w
    weights += (spec.clip_params - spec.image_tower_params) * text_w
    weights += spec.image_tower_params * tower_w
    if decoder == "autocast":
        weights += (spec.decoder_params + spec.image_tower_params) * 2
    return Estimate(int(weights), WORKSPACE, int(math.ceil(per_image)), recompute)


def estimate(
    config: GenerationConfig,
    *,
    spec: ModelSpec = DEFAULT_SPEC,
    device_type: str = "cuda",
    recompute: bool | None = None,
) -> Estimate:
    """Peak GPU bytes of ``config``'s run (its precision as ``device_type`` resolves it);
    ``recompute`` None: as the config asks (``auto`` counts as off)."""
    mode = resolve_precision(config.precision, device_type)
    width, height = snap_size(config.width, config.height, spec.factor)
    if recompute is None:
        recompute = config.recompute == "on"
    return estimate_parts(
        spec,
        width=width,
        height=height,
        cutn=config.cutn,
        decoder=mode,
        clip=mode,
        recompute=recompute,
    )


def reference_estimate(spec: ModelSpec, *, width: int, height: int, cutn: int) -> Estimate:
    """The public script (nerdyrodent/VQGAN-CLIP generate.py) on CUDA: fp32 VQGAN, fp16 CLIP."""
    return estimate_parts(spec, width=width, height=height, cutn=cutn, decoder="fp32", clip="fp16")


def fits(
    config: GenerationConfig,
    *,
    spec: ModelSpec = DEFAULT_SPEC,
    batch: int,
    free: int,
    loaded: bool = False,
    recompute: bool | None = None,
) -> bool:
    """Whether ``batch`` images fit in ``free`` bytes (``loaded``: the weights are already
    on the device, so ``free`` was measured without them)."""
    est = estimate(config, spec=spec, recompute=recompute)
    need = est.total(batch) - (est.weights if loaded else 0)
    return need <= free * HEADROOM


def pick_batch(
    config: GenerationConfig,
    *,
    free_bytes: int,
    limit: int,
    spec: ModelSpec = DEFAULT_SPEC,
    loaded: bool = False,
) -> int:
    """The largest batch (1..``limit``) of ``config`` that fits in ``free_bytes``, without
    recomputing when that fits one image or more, else with it (unless ``recompute`` is
    off); at least 1, so a run that fits nothing still gets tried and says so."""
    options = [False, True] if config.recompute == "auto" else [config.recompute == "on"]
    for recompute in options:
        est = estimate(config, spec=spec, recompute=recompute)
        room = free_bytes * HEADROOM - est.workspace - (0 if loaded else est.weights)
        batch = int(room // est.per_image) if room > 0 else 0
        if batch >= 1:
            return min(batch, max(1, limit))
    return 1


def free_bytes(device: Any) -> int | None:
    """Bytes a new allocation can use on ``device``: the driver's free memory plus what
    PyTorch holds cached but unused; None on a CPU (or without CUDA)."""
    import torch

    device = torch.device(device)
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info(device)
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return int(free + cached)


def describe(est: Estimate) -> str:
    """``4.9 GB for one image (weights 0.6 GB + 4.18 GB per image)``, for a person."""
    return (
        f"{est.total(1) / GB:.1f} GB for one image (weights {est.weights / GB:.1f} GB"
        f" + {est.per_image / GB:.2f} GB per image)"
    )


__all__ = [
    "DEFAULT_SPEC",
    "Estimate",
    "ModelSpec",
    "decoder_elements",
    "describe",
    "estimate",
    "estimate_parts",
    "fits",
    "free_bytes",
    "pick_batch",
    "reference_estimate",
]
