"""Tiny random-weight models of the real architectures, saved in the real file formats.

The demo and the tests use them so the whole pipeline (YAML config, Lightning checkpoint
with ``loss.*`` keys, a CLIP state dict or TorchScript archive as OpenAI ships them) runs on
a CPU without downloads.
Nothing is trained, but the weights are shaped so the demo shows what a prompt does: the
codes sit close together, the decoder paints soft colour fields, and the text tower
embeds different prompts apart (see ``_shape_vqgan`` and ``_shape_text_tower``).
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

DEMO_NOTE = "tiny random-weight demo models (untrained: soft colour fields that follow the prompt)"
# Bump when what the writers below build changes: a demo cache stamped with another
# version is rebuilt on its next load (1: plain random weights; 2: prompts tell apart).
DEMO_VERSION = 2
DEMO_STAMP = "VERSION"  # in <model_dir>/demo


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

    from doorways_engine.vqgan import VQGAN

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
    _shape_vqgan(model, g)
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


# An untrained VQGAN, shaped so the demo's short runs show what the prompt does.
CODE_RANK = 3  # the codes span a 3-D subspace of the latent space...
CODE_SCALE = 0.3  # ...close together, so a few Adam steps at lr 0.025 reach other codes
# Every 3x3 decoder kernel keeps its channel mixing but spreads it as a binomial blur:
# random kernels paint pixel noise, blurred ones soft colour fields.
_BLUR = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) * (9 / 16)


def _shape_vqgan(model: torch.nn.Module, g: torch.Generator) -> None:
    """Codes close together and a smooth decoder. A random codebook in 32 dimensions puts
    the codes ~8 apart: a 40-step run moves its latent ~0.3, never reaches another code,
    and every prompt decodes to the seed's first picture."""
    with torch.no_grad():
        n, dim = model.codebook.shape
        basis, _ = torch.linalg.qr(torch.randn(dim, CODE_RANK, generator=g))
        model.codebook.copy_(CODE_SCALE * torch.randn(n, CODE_RANK, generator=g) @ basis.T)
        for conv in model.decoder.modules():
            if isinstance(conv, torch.nn.Conv2d) and conv.kernel_size == (3, 3):
                conv.weight.copy_(conv.weight.mean((2, 3), keepdim=True) * _BLUR)


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
    _shape_text_tower(model, seed)
    return model.eval()


def _shape_text_tower(model: torch.nn.Module, seed: int) -> None:
    """A text tower in which every word counts. CLIP's own init (token embeddings of
    std 0.02 that the positions and the MLPs' shared offsets drown, and products of random
    matrices that squash every direction into a few) embeds prompts that differ in one
    word at cosine 0.998, so a theme's prompts all aim at one target. Here each token is a
    unit-scale random vector, attention is an even average of the tokens so far through
    orthogonal maps, the start and end tokens add nothing, and the MLPs are off: prompts
    that differ in one word of eight embed at cosine ~0.9."""
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        tokens = model.token_embedding.weight
        tokens.copy_(torch.randn(tokens.shape, generator=g))
        tokens[49406:].zero_()  # <|startoftext|>, <|endoftext|>: in every prompt
        model.positional_embedding.zero_()
        for block in model.transformer.resblocks:
            width = block.attn.embed_dim
            block.attn.in_proj_weight[: 2 * width].zero_()  # queries, keys: even attention
            block.attn.in_proj_weight[2 * width :].copy_(_orthogonal(width, width, g))
            block.attn.out_proj.weight.copy_(_orthogonal(width, width, g))
            block.mlp.c_proj.weight.zero_()
        model.text_projection.copy_(_orthogonal(*model.text_projection.shape, g))


def _orthogonal(rows: int, cols: int, g: torch.Generator) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(max(rows, cols), min(rows, cols), generator=g))
    return q if rows >= cols else q.T


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
    """Build the demo models once into ``cache_dir/demo`` and return their paths; a cache
    built by another ``DEMO_VERSION`` is built again."""
    from doorways_engine.model_files import demo_paths

    yaml_path, ckpt_path, clip_path = demo_paths(cache_dir)
    root = clip_path.parent
    stamp = root / DEMO_STAMP
    current = stamp.is_file() and stamp.read_text(errors="replace").strip() == str(DEMO_VERSION)
    if not (current and yaml_path.is_file() and ckpt_path.is_file()):
        write_tiny_vqgan(yaml_path.parent)
    if not (current and clip_path.is_file()):
        write_tiny_clip(clip_path)
    if not current:
        (root / "README.txt").write_text(f"Doorways {DEMO_NOTE}. Built locally; safe to delete.\n")
        tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
        tmp.write_text(f"{DEMO_VERSION}\n")
        os.replace(tmp, stamp)  # last: a build cut short is built again
    return {"vqgan_config": yaml_path, "vqgan_checkpoint": ckpt_path, "clip": clip_path}
