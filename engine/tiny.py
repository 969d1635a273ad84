"""Tiny random-weight models of the real architectures, saved in the real file formats.

The demo and the tests use them so the whole pipeline (YAML config, Lightning checkpoint
with ``loss.*`` keys, a CLIP state dict or TorchScript archive as OpenAI ships them) runs on
a CPU without downloads.
Their pictures are noise-shaped: the weights are random, not trained.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import torch

TINY_VQGAN_YAML = """\
# Tiny random-weight VQGAN with the architecture of taming's imagenet f16 models.
# Built by engine/tiny.py for the demo and the tests: it has never been trained.
model:
  base_learning_rate: 4.5e-06
  target: taming.models.vqgan.VQModel
  params:
    embed_dim: {embed_dim}
    n_embed: {n_embed}
    ddconfig:
      double_z: false
      z_channels: {embed_dim}
      resolution: 256
      in_channels: 3
      out_ch: 3
      ch: 32
      ch_mult: [1, 1, 2, 2, 4]
      num_res_blocks: 1
      attn_resolutions: [16]
      dropout: 0.0
    lossconfig:
      target: taming.modules.losses.vqperceptual.VQLPIPSWithDiscriminator
      params:
        disc_conditional: false
        disc_in_channels: 3
        disc_start: 0
        disc_weight: 0.75
        disc_num_layers: 2
        codebook_weight: 1.0
"""

TINY_GUMBEL_YAML = """\
# Tiny random-weight Gumbel VQGAN (the openimages f8 architecture, scaled down).
model:
  target: taming.models.vqgan.GumbelVQ
  params:
    kl_weight: 1.0e-08
    embed_dim: 32
    n_embed: 64
    temperature_scheduler_config:
      target: taming.lr_scheduler.LambdaWarmUpCosineScheduler
      params: {{warm_up_steps: 0, max_decay_steps: 1000001, lr_start: 0.9, lr_max: 0.9, lr_min: 1.0e-06}}
    ddconfig:
      double_z: false
      z_channels: 32
      resolution: 256
      in_channels: 3
      out_ch: 3
      ch: 32
      ch_mult: [1, 1, 2, 4]
      num_res_blocks: 1
      attn_resolutions: [32]
      dropout: 0.0
    lossconfig:
      target: taming.modules.losses.vqperceptual.DummyLoss
"""

DEMO_NOTE = "tiny random-weight demo models (untrained: images are abstract noise)"


def _fake_lightning_callback_class() -> type:
    """A class pickled under Lightning's real name, as real checkpoints carry it."""
    name = "pytorch_lightning.callbacks.model_checkpoint"
    if name in sys.modules and hasattr(sys.modules[name], "ModelCheckpoint"):
        return sys.modules[name].ModelCheckpoint
    module = types.ModuleType(name)

    class ModelCheckpoint:  # noqa: D401 - a stand-in with the real qualified name
        pass

    ModelCheckpoint.__module__ = name
    ModelCheckpoint.__qualname__ = "ModelCheckpoint"
    module.ModelCheckpoint = ModelCheckpoint
    return ModelCheckpoint


def write_tiny_vqgan(directory: Path, *, seed: int = 0, gumbel: bool = False) -> tuple[Path, Path]:
    """Write ``model.yaml`` and ``last.ckpt`` (Lightning layout, ``loss.*`` keys included)."""
    from omegaconf import OmegaConf

    from engine.vqgan import VQGAN

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    text = (
        TINY_GUMBEL_YAML.format() if gumbel else TINY_VQGAN_YAML.format(embed_dim=32, n_embed=128)
    )
    yaml_path = directory / "model.yaml"
    yaml_path.write_text(text)
    params = OmegaConf.to_container(OmegaConf.create(text))["model"]["params"]
    params["kind"] = "gumbel" if gumbel else "vq"
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = VQGAN(params)  # PyTorch's default init: a decoder that passes signal
    with torch.no_grad():
        model.quantize.weight.copy_(torch.randn(model.quantize.weight.shape, generator=g))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    # What the discriminator and LPIPS contribute to a real checkpoint: must be skipped.
    state["loss.discriminator.main.0.weight"] = torch.randn(8, 3, 4, 4, generator=g)
    state["loss.perceptual_loss.lin0.model.1.weight"] = torch.randn(1, 64, 1, 1, generator=g)
    callback = _fake_lightning_callback_class()
    ckpt = {
        "epoch": 3,
        "global_step": 1234,
        "pytorch-lightning_version": "1.0.8",
        "state_dict": state,
        "callbacks": {callback: {"monitor": "val/rec_loss", "best_model_score": torch.tensor(0.5)}},
        "optimizer_states": [],
        "lr_schedulers": [],
    }
    ckpt_path = directory / "last.ckpt"
    module = sys.modules.setdefault(callback.__module__, types.ModuleType(callback.__module__))
    module.ModelCheckpoint = callback
    try:
        _atomic_save(ckpt, ckpt_path)
    finally:
        # The loader must cope without this module, as a user's machine has no Lightning.
        sys.modules.pop(callback.__module__, None)
    return yaml_path, ckpt_path


def build_tiny_clip(*, seed: int = 0) -> torch.nn.Module:
    """A ViT CLIP of the real layout: 49408-token vocabulary, 77-token context."""
    from clip.model import CLIP

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = CLIP(
            embed_dim=32,
            image_resolution=32,
            vision_layers=2,
            vision_width=64,
            vision_patch_size=8,
            context_length=77,
            vocab_size=49408,
            transformer_width=64,
            transformer_heads=1,
            transformer_layers=2,
        )
    return model.eval()


def write_tiny_clip(path: Path, *, seed: int = 0) -> Path:
    """Save as a state dict, one of the two forms a CLIP file takes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_save(build_tiny_clip(seed=seed).state_dict(), path)
    return path


def write_tiny_clip_torchscript(path: Path, *, seed: int = 0) -> Path:
    """Save as OpenAI's releases are: a TorchScript archive of the traced model (forward,
    encode_image, encode_text). For tests of the data-only reader; nothing loads it as code."""
    import warnings

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = build_tiny_clip(seed=seed)
    size = model.visual.input_resolution
    image, text = torch.zeros(1, 3, size, size), torch.zeros(1, 77, dtype=torch.long)
    with warnings.catch_warnings():  # torch.jit is deprecated; the format is what ships
        warnings.simplefilter("ignore")
        traced = torch.jit.trace_module(
            model,
            {"forward": (image, text), "encode_image": image, "encode_text": text},
            check_trace=False,  # re-running each method to compare costs seconds
        )
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
        torch.jit.save(traced, str(tmp))
    os.replace(tmp, path)
    return path


def _atomic_save(obj: object, path: Path) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def ensure_demo_models(cache_dir: Path) -> dict[str, Path]:
    """Build the demo models once into ``cache_dir/demo`` and return their paths."""
    from engine.model_files import demo_paths

    yaml_path, ckpt_path, clip_path = demo_paths(cache_dir)
    root = clip_path.parent
    if not (yaml_path.is_file() and ckpt_path.is_file()):
        write_tiny_vqgan(yaml_path.parent)
    if not clip_path.is_file():
        write_tiny_clip(clip_path)
    readme = root / "README.txt"
    if not readme.exists():
        readme.write_text(f"Doorways {DEMO_NOTE}. Built locally; safe to delete.\n")
    return {"vqgan_config": yaml_path, "vqgan_checkpoint": ckpt_path, "clip": clip_path}
