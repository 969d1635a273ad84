"""Shared by the benchmarks: full-size architectures with random weights, and timers.

Random weights have the same FLOPs and memory as the released ones, which is all a speed
benchmark needs (and all this machine can have: the real weights are a download away).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from pathlib import Path

import torch

from doorways_engine.memory import DEFAULT_IMAGENET_F16

VQGAN_F16_16384 = {
    "kind": "vq",
    "embed_dim": 256,
    "n_embed": 16384,
    "ddconfig": DEFAULT_IMAGENET_F16,  # the engine's own: the estimate counts the same layout
}

VIT_B32 = {
    "embed_dim": 512,
    "image_resolution": 224,
    "vision_layers": 12,
    "vision_width": 768,
    "vision_patch_size": 32,
    "context_length": 77,
    "vocab_size": 49408,
    "transformer_width": 512,
    "transformer_heads": 8,
    "transformer_layers": 12,
}


def random_models(device: torch.device, *, size: str = "full"):
    """Models of the full-size (or tiny) architectures with random weights, in memory."""
    from clip.model import CLIP

    from doorways_engine.model_files import ModelFiles
    from doorways_engine.models import Models
    from doorways_engine.tiny import build_tiny_clip
    from doorways_engine.vqgan import VQGAN

    torch.manual_seed(0)
    if size == "full":
        vqgan = VQGAN(VQGAN_F16_16384)
        clip_model = CLIP(**VIT_B32)
    else:
        from omegaconf import OmegaConf

        from doorways_engine.tiny import TINY_VQGAN_YAML

        params = OmegaConf.to_container(
            OmegaConf.create(TINY_VQGAN_YAML.format(embed_dim=32, n_embed=128))
        )
        vqgan = VQGAN({**params["model"]["params"], "kind": "vq"})
        clip_model = build_tiny_clip()
    with torch.no_grad():
        vqgan.quantize.weight.normal_()
    vqgan = vqgan.to(device).eval().requires_grad_(False)
    clip_model = clip_model.float().to(device).eval().requires_grad_(False)
    files = ModelFiles(Path("random"), Path("random"), Path("random"), f"random {size}")
    return Models(files, vqgan, clip_model, torch.device(device))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> float:
    """GPU: peak allocated since the last reset. CPU: the process's peak RSS so far."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_steps(
    run: Callable[[int], object], *, device: torch.device, warmup: int, steps: int
) -> float:
    """Seconds per step of ``run(n_steps)`` after a warm-up run, synchronised."""
    run(warmup)
    sync(device)
    t = time.perf_counter()
    run(steps)
    sync(device)
    return (time.perf_counter() - t) / steps
