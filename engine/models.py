"""Fetching, verifying and loading the VQGAN and CLIP a config names (torch).

Which files a name needs, and whether they are here, is ``doorways_engine.model_files`` (no torch,
so the app can check a theme's models); ``demo`` models are built here, on first load.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from doorways_engine.clip_file import load_clip_file
from doorways_engine.config import GenerationConfig, resolve_precision
from doorways_engine.errors import (
    ChecksumError,
    ConfigError,
    DeviceError,
    ModelError,
    ModelFileMissingError,
)
from doorways_engine.fetch import ChecksumBook, Progress, UnreachableError, download, verify_sha256
from doorways_engine.memory import DEFAULT_IMAGENET_F16, ModelSpec, fits, free_bytes
from doorways_engine.model_files import (
    ModelFiles,
    check_model_name,
    clip_path,
    default_model_dir,
    found_clip,
    other_clip_path,
    resolve_models,
    uses_demo,
    vqgan_paths,
)
from doorways_engine.registry import VQGANS, clip_entry, vqgan_entry
from doorways_engine.vqgan import VQGAN, load_vqgan, load_vqgan_yaml

VERIFIED_CACHE = "verified.json"  # registry files whose sha256 matched, by stat (fetch.py)


def pick_device(name: str | torch.device | None = None) -> torch.device:
    """'auto' -> CUDA if present, else CPU; a named CUDA device must exist."""
    if isinstance(name, torch.device):
        return name
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise DeviceError(f"device {name!r} is not a device name (try cpu, cuda, cuda:1)") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name} asked for, but CUDA is not available on this machine")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise DeviceError(
                f"device {name} asked for, but this machine has {count} CUDA device(s)"
            )
    return device


# -- fetching -------------------------------------------------------------------------


def fetch_model(
    name: str, model_dir: Path | None = None, *, progress: Progress | None = None
) -> list[Path]:
    """Download a registry model (VQGAN: config + checkpoint; CLIP: one archive).

    Offline, every file that could not be fetched is named in one error, each with its
    URL and the path to copy it to."""
    check_model_name(name)
    model_dir = Path(model_dir or default_model_dir())
    if name in VQGANS:
        entry = vqgan_entry(name)
        yaml_path, ckpt_path = vqgan_paths(model_dir, name)
        wanted = [
            (entry.config_url, yaml_path, entry.config_sha256, load_vqgan_yaml, None),
            (
                entry.checkpoint_url,
                ckpt_path,
                entry.checkpoint_sha256,
                _check_checkpoint_magic,
                progress,
            ),
        ]
        _download_all(name, wanted)
        ChecksumBook(model_dir / "checksums.json").verify(f"{name}/last.ckpt", ckpt_path)
        return [yaml_path, ckpt_path]
    entry = clip_entry(name)
    path = clip_path(model_dir, name)
    other = None if path.is_file() else other_clip_path(name)
    if other is not None:  # another tool's download: used where it is if its sha256 matches
        try:
            verify_sha256(other, entry.sha256, cache=model_dir / VERIFIED_CACHE)
            return [other]
        except ChecksumError:
            pass  # corrupt or another file: fetch our own, which is found first from now on
    _download_all(name, [(entry.url, path, entry.sha256, None, progress)])
    return [path]


def _download_all(name: str, wanted: list[tuple]) -> None:
    """Download each missing file; if the network is unreachable, try the rest and then
    raise one error naming every file still missing and where it goes."""
    unreachable: list[UnreachableError] = []
    for url, dest, sha256, validate, progress in wanted:
        if dest.is_file():
            continue
        try:
            download(url, dest, sha256=sha256, validate=validate, progress=progress)
        except UnreachableError as exc:
            unreachable.append(exc)
    if len(unreachable) == 1:
        raise unreachable[0]
    if unreachable:
        lines = [f"  {exc.url}\n    -> {exc.dest}" for exc in unreachable]
        raise UnreachableError(
            f"cannot reach the download servers for {name} ({unreachable[0].__cause__})."
            " If this machine is offline, download these files elsewhere and copy each"
            " to the path shown:\n" + "\n".join(lines),
            url=unreachable[0].url,
            dest=unreachable[0].dest,
        )


def verify_model(name: str, model_dir: Path | None = None) -> str:
    """Check a fetched model's files: checksum (hashed afresh), and that it loads."""
    model_dir = Path(model_dir or default_model_dir())
    if name in VQGANS:
        entry = vqgan_entry(name)
        yaml_path, ckpt_path = vqgan_paths(model_dir, name)
        if not ckpt_path.is_file():
            raise ModelFileMissingError(f"{name} is not downloaded")
        for path, sha256 in (
            (yaml_path, entry.config_sha256),
            (ckpt_path, entry.checkpoint_sha256),
        ):
            if sha256:
                verify_sha256(path, sha256)
        state = ChecksumBook(model_dir / "checksums.json").verify(f"{name}/last.ckpt", ckpt_path)
        load_vqgan(yaml_path, ckpt_path)
        return f"{name}: loads; sha256 {state}"
    entry = clip_entry(name)
    path = found_clip(model_dir, name)
    if path is None:
        raise ModelFileMissingError(f"{name} is not downloaded")
    verify_sha256(path, entry.sha256)
    load_clip_file(path)
    return f"{name}: loads; sha256 ok"


def _check_checkpoint_magic(path: Path) -> None:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] != b"PK" and head[:1] != b"\x80":
        raise ModelError(
            f"{path.name} is not a PyTorch checkpoint (it starts {head!r}): the link is dead"
        )


# -- loading --------------------------------------------------------------------------


@dataclass
class Models:
    """A loaded VQGAN + CLIP pair on one device, with a per-prompt text embedding cache.

    ``precision`` is the mode the weights serve (``doorways_engine.config.resolve_precision``):
    ``bf16`` holds the decoder and CLIP's image tower in bf16; ``autocast`` and ``fp32``
    share fp32 weights. The encoder, the codebook and CLIP's text tower are fp32 in every
    mode: they run once per job, and choose codes or targets. ``recompute``: the decoder
    checkpoints its full-resolution blocks (``for_run`` decides it per batch)."""

    files: ModelFiles
    vqgan: VQGAN
    clip: torch.nn.Module
    device: torch.device
    precision: str = "fp32"
    recompute: bool = False
    _text_cache: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)
    _variants: dict[str, Models] = field(default_factory=dict, repr=False)

    @property
    def cut_size(self) -> int:
        return int(self.clip.visual.input_resolution)

    @property
    def factor(self) -> int:
        return self.vqgan.spec.factor

    @torch.no_grad()
    def embed_text(self, text: str) -> torch.Tensor:
        """(D,) CLIP text embedding, computed once per prompt."""
        if text not in self._text_cache:
            import clip

            tokens = clip.tokenize([text], truncate=True).to(self.device)
            self._text_cache[text] = encode_text(self.clip, tokens)[0].float()
        return self._text_cache[text]

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) in [0, 1] -> (N, D) fp32 CLIP image embedding; normalised in fp32,
        then computed in the image tower's dtype."""
        x = x.float()
        mean = x.new_tensor([0.48145466, 0.4578275, 0.40821073])[:, None, None]
        std = x.new_tensor([0.26862954, 0.26130258, 0.27577711])[:, None, None]
        return self.clip.encode_image((x - mean) / std).float()

    def spec(self) -> ModelSpec:
        """The architecture's sizes, for the memory estimate."""
        return model_spec(self.vqgan, self.clip, label=self.files.label)

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w) quantized latent -> (B, 3, H, W) fp32 image in [-1, 1]."""
        return self.vqgan.decode(z_q, recompute=self.recompute)

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast for ``autocast`` models; nothing for the others, whose weights
        already say their dtype."""
        if self.precision == "autocast":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def for_run(self, config: GenerationConfig, *, batch: int = 1) -> Models:
        """These models as a batch of ``batch`` images of ``config`` runs them: weights for
        its precision (a bf16 copy, kept for next time, if these were loaded fp32), and
        ``recompute`` on when asked, or on ``auto`` when the estimate of the batch's memory
        exceeds the device's free memory."""
        mode = resolve_precision(config.precision, self.device.type)
        models = self._with_precision(mode)
        recompute = config.recompute == "on"
        if config.recompute == "auto" and self.device.type == "cuda":
            free = free_bytes(self.device)
            recompute = free is not None and not fits(
                config, spec=self.spec(), batch=batch, free=free, loaded=True, recompute=False
            )
        return models if recompute == models.recompute else replace(models, recompute=recompute)

    def _with_precision(self, mode: str) -> Models:
        if mode == self.precision:
            return self
        if mode not in self._variants:
            if self.precision == "bf16":
                raise ConfigError(
                    f"these models were loaded in bf16; a {mode} run needs them loaded again"
                )
            if mode == "bf16":
                vqgan = copy.deepcopy(self.vqgan).cast_decoder(torch.bfloat16)
                clip_model = cast_image_tower(copy.deepcopy(self.clip), torch.bfloat16)
            else:  # fp32 and autocast share fp32 weights
                vqgan, clip_model = self.vqgan, self.clip
            self._variants[mode] = Models(
                self.files,
                vqgan,
                clip_model,
                self.device,
                precision=mode,
                _text_cache=self._text_cache,  # the text tower is fp32 in every mode
            )
        return self._variants[mode]


def encode_text(clip_model: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """(N, 77) tokens -> (N, D) text embeddings, in the text tower's own dtype:
    ``CLIP.encode_text`` casts to the image tower's, which is bf16 in a bf16 run."""
    dtype = clip_model.text_projection.dtype
    if clip_model.dtype == dtype:
        return clip_model.encode_text(tokens)
    n_ctx = tokens.shape[-1]
    x = clip_model.token_embedding(tokens).to(dtype)  # (N, L, W)
    x = x + clip_model.positional_embedding[:n_ctx].to(dtype)
    x = clip_model.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
    x = clip_model.ln_final(x).to(dtype)
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ clip_model.text_projection


def model_spec(vqgan: VQGAN, clip_model: torch.nn.Module, *, label: str) -> ModelSpec:
    """What the memory estimate needs of a pair (real or built on the meta device)."""

    def count(*modules: torch.nn.Module) -> int:
        return sum(p.numel() for m in modules for p in m.parameters())

    visual = clip_model.visual
    transformer = getattr(visual, "transformer", None)
    conv1 = getattr(visual, "conv1", None)
    vit = transformer is not None and conv1 is not None
    cut = int(visual.input_resolution)
    if vit:
        sizes = dict(
            clip_width=int(transformer.width),
            clip_layers=int(transformer.layers),
            clip_tokens=(cut // int(conv1.kernel_size[0])) ** 2 + 1,
        )
    else:  # a ResNet CLIP's activations are sized as ViT-B/32's (not counted here)
        sizes = dict(clip_width=768, clip_layers=12, clip_tokens=50)
    return ModelSpec.of(
        vqgan.ddconfig,
        **sizes,
        cut_size=cut,
        decoder_params=count(vqgan.decoder, vqgan.post_quant_conv),
        vqgan_params=count(vqgan),
        image_tower_params=count(visual),
        clip_params=count(clip_model),
        label=label,
    )


# The released ViT CLIPs' shapes (``clip.model.CLIP`` arguments), to size one unloaded.
_VIT = dict(context_length=77, vocab_size=49408, transformer_layers=12)
CLIP_SHAPES = {
    "ViT-B/32": dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768,
                     vision_patch_size=32, transformer_width=512, transformer_heads=8, **_VIT),
    "ViT-B/16": dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768,
                     vision_patch_size=16, transformer_width=512, transformer_heads=8, **_VIT),
    "ViT-L/14": dict(embed_dim=768, image_resolution=224, vision_layers=24, vision_width=1024,
                     vision_patch_size=14, transformer_width=768, transformer_heads=12, **_VIT),
    "ViT-L/14@336px": dict(embed_dim=768, image_resolution=336, vision_layers=24,
                           vision_width=1024, vision_patch_size=14, transformer_width=768,
                           transformer_heads=12, **_VIT),
}  # fmt: skip


def spec_for(
    config: GenerationConfig, model_dir: Path | None = None
) -> tuple[ModelSpec, list[str]]:
    """The spec of the models ``config`` names, without loading them: each architecture is
    built on the meta device (no memory, no weights) from its YAML or known shape. Notes
    say where it had to assume (a VQGAN not downloaded, a CLIP of unknown shape)."""
    from clip.model import CLIP

    from doorways_engine.tiny import TINY_VQGAN_YAML, build_tiny_clip

    model_dir = Path(model_dir or default_model_dir())
    notes: list[str] = []
    params = None
    if config.vqgan == "demo" and not config.vqgan_config:
        from omegaconf import OmegaConf

        text = TINY_VQGAN_YAML.format(embed_dim=32, n_embed=128)
        params = {**OmegaConf.to_container(OmegaConf.create(text))["model"]["params"]}
    else:
        yaml_path = (
            Path(config.vqgan_config)
            if config.vqgan_config
            else vqgan_paths(model_dir, config.vqgan)[0]
        )
        if yaml_path.is_file():
            params = load_vqgan_yaml(yaml_path)
        else:
            notes.append(f"{config.vqgan} is not downloaded: sized as VQGAN imagenet f16")
    with torch.device("meta"):
        vqgan = VQGAN(params) if params is not None else None
        if config.clip == "demo":
            clip_model = None
        elif config.clip in CLIP_SHAPES:
            clip_model = CLIP(**CLIP_SHAPES[config.clip])
        else:
            notes.append(f"CLIP {config.clip}: shape not known here, sized as ViT-B/32")
            clip_model = CLIP(**CLIP_SHAPES["ViT-B/32"])
        if vqgan is None:
            from doorways_engine.memory import DEFAULT_SPEC

            vqgan = VQGAN({"kind": "vq", "embed_dim": DEFAULT_SPEC.z_channels,
                           "n_embed": 16384, "ddconfig": DEFAULT_IMAGENET_F16})  # fmt: skip
    if clip_model is None:
        clip_model = build_tiny_clip()
    label = f"{config.vqgan} + {config.clip}"
    return model_spec(vqgan, clip_model, label=label), notes


def cast_image_tower(clip_model: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """CLIP's image tower in ``dtype`` (in place), as ``clip.model.convert_weights`` makes
    it fp16: convolutions, linear maps, attention and the output projection; the layer
    norms stay fp32 (CLIP's LayerNorm computes in fp32 whatever its input)."""
    visual = clip_model.visual
    for module in visual.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.MultiheadAttention)):
            module.to(dtype=dtype)
    for name in ("proj",):
        weight = getattr(visual, name, None)
        if isinstance(weight, torch.nn.Parameter):
            setattr(
                visual, name, torch.nn.Parameter(weight.detach().to(dtype), requires_grad=False)
            )
    return clip_model


def load_models(
    config: GenerationConfig,
    *,
    device: str | torch.device | None = None,
    model_dir: Path | None = None,
) -> Models:
    """Load both models frozen, straight onto the device, their weights in the dtype the
    config's precision needs there (``Models``).

    Registry files with a known sha256 are checked first; every file is read as data
    (``doorways_engine.safe_load``): no model file's code or pickled callables ever run."""
    device = pick_device(device)
    model_dir = Path(model_dir or default_model_dir())
    if uses_demo(config):
        from doorways_engine.tiny import ensure_demo_models

        ensure_demo_models(model_dir)
    files = resolve_models(config, model_dir)
    for path, sha256 in files.checks:
        verify_sha256(path, sha256, cache=model_dir / VERIFIED_CACHE)
    try:
        vqgan = load_vqgan(files.vqgan_config, files.vqgan_checkpoint, device=device)
        clip_model = load_clip_file(files.clip).to(device).requires_grad_(False)
    except torch.OutOfMemoryError as exc:
        from doorways_engine.errors import OutOfMemoryError

        raise OutOfMemoryError(f"not enough GPU memory to load {files.label} on {device}") from exc
    mode = resolve_precision(config.precision, device.type)
    if mode == "bf16":
        vqgan.cast_decoder(torch.bfloat16)
        cast_image_tower(clip_model, torch.bfloat16)
    return Models(files, vqgan, clip_model.eval(), device, precision=mode)
