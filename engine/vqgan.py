"""VQGAN built from taming's modules and loaded by state-dict keys.

``taming.models.vqgan`` imports PyTorch Lightning paths that no longer exist and builds the
LPIPS loss (a VGG16 download). We build only what decoding and encoding need: Encoder,
Decoder, the quantizer's codebook and the two 1x1 convs, and drop ``loss.*`` keys.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from doorways_engine.errors import (
    BadConfigFileError,
    ConfigMismatchError,
    CorruptCheckpointError,
    ModelFileMissingError,
)
from doorways_engine.memory import RECOMPUTED_LEVELS
from doorways_engine.safe_load import read_torch_file

VQ_TARGETS = {
    "taming.models.vqgan.VQModel": "vq",
    "taming.models.vqgan.GumbelVQ": "gumbel",
    "taming.models.cond_transformer.Net2NetTransformer": "net2net",
}


# Exactly the globals Lightning checkpoints carry besides tensors; read as inert records.
_LIGHTNING_GLOBALS = (
    "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
    "pytorch_lightning.callbacks.early_stopping.EarlyStopping",
    "pytorch_lightning.utilities.parsing.AttributeDict",
    "lightning.pytorch.callbacks.model_checkpoint.ModelCheckpoint",
    "lightning.fabric.utilities.data.AttributeDict",
)
# A VQGAN's weights are ~300 MB; a config asking for more than this is a typo or a trap.
MAX_VQGAN_BYTES = 8 << 30
# A Lightning checkpoint also holds the loss (LPIPS ~59 MB, the discriminator) and Adam's
# two moments for each: ~3.3x the model for taming's imagenet f16. Allow well beyond that.
CHECKPOINT_MARGIN = 8
CHECKPOINT_SLACK = 256 << 20


def safe_torch_load(path: Path, *, max_bytes: int | None = None) -> dict:
    """Read a checkpoint as data: tensors, containers, Lightning's inert extras.

    Never unpickles anything else, whatever torch version or environment variable; the
    tensor data it declares must fit ``max_bytes`` and the file's own size, checked
    before any of it is read (``doorways_engine.safe_load``)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileMissingError(f"checkpoint not found: {path}")
    size = path.stat().st_size
    if size < 1024:
        raise CorruptCheckpointError(
            f"{path} is only {size} bytes: a truncated or failed download? "
            "Delete it and fetch again (doorways models fetch NAME)."
        )
    if not zipfile.is_zipfile(path):
        with path.open("rb") as fh:
            head = fh.read(64)
        if head.lstrip().lower().startswith((b"<!doctype", b"<html")):
            raise CorruptCheckpointError(
                f"{path} is an HTML page, not a checkpoint: the download link is dead. "
                "Delete it and fetch from another mirror."
            )
        if not head.startswith(b"\x80"):
            raise CorruptCheckpointError(f"{path} is not a PyTorch checkpoint (bad magic bytes)")
    bound = size if max_bytes is None else min(size, max_bytes)
    data = read_torch_file(path, max_bytes=bound, inert=_LIGHTNING_GLOBALS)
    if not isinstance(data, dict):
        raise CorruptCheckpointError(f"{path} does not hold a state dict")
    return data


def checkpoint_byte_bound(model_bytes: int, extra_parameters: int | None = 0) -> int | None:
    """The most tensor bytes a checkpoint can plausibly declare for a VQGAN of
    ``model_bytes`` (plus, for a transformer's checkpoint, its other parameters);
    None when the config does not say enough to tell."""
    if extra_parameters is None:
        return None
    return CHECKPOINT_MARGIN * (model_bytes + 4 * extra_parameters) + CHECKPOINT_SLACK


def _model_bytes(params: dict) -> int:
    """fp32 bytes of the VQGAN these params describe, built on the meta device."""
    with torch.device("meta"):
        model = VQGAN(params)
    return sum(t.numel() * 4 for t in model.state_dict().values())


def load_vqgan_yaml(path: Path) -> dict:
    """Read a taming ``model.yaml`` and check it describes a VQGAN we can build."""
    from omegaconf import OmegaConf

    path = Path(path)
    if not path.is_file():
        raise ModelFileMissingError(f"VQGAN config not found: {path}")
    raw = path.read_bytes()[:512].lstrip().lower()
    if raw.startswith((b"<!doctype", b"<html")) or b"link does not exist" in raw:
        raise BadConfigFileError(
            f"{path} is an HTML page, not a YAML config: the download link is dead. "
            "Delete it and fetch the config again."
        )
    try:
        conf = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception as exc:
        raise BadConfigFileError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(conf, dict) or "model" not in conf:
        raise BadConfigFileError(f"{path} has no 'model' section: is it a taming config?")
    model = conf["model"]
    target = model.get("target")
    if target not in VQ_TARGETS:
        raise BadConfigFileError(
            f"{path}: model.target {target!r} is not a VQGAN Doorways can build "
            f"(known: {', '.join(VQ_TARGETS)})"
        )
    params = model.get("params", {})
    if VQ_TARGETS[target] == "net2net":
        first = params.get("first_stage_config", {})
        if first.get("target") not in (
            "taming.models.vqgan.VQModel",
            "taming.models.vqgan.GumbelVQ",
        ):
            raise BadConfigFileError(f"{path}: the transformer's first stage is not a VQGAN")
        return {
            "kind": VQ_TARGETS[first["target"]],
            "prefix": "first_stage_model.",
            **first["params"],
            "extra_parameters": _net2net_extra(params),
        }
    return {"kind": VQ_TARGETS[target], "prefix": "", **params}


def _net2net_extra(params: dict) -> int | None:
    """Parameters a Net2Net checkpoint holds beyond its first stage (taming's minGPT and a
    VQGAN cond stage), for the checkpoint's size bound; None when the config is unusual."""
    gpt = params.get("transformer_config") or {}
    if not str(gpt.get("target", "")).endswith("mingpt.GPT"):
        return None
    try:
        g = gpt.get("params") or {}
        vocab, block, layers, e = (
            int(g[k]) for k in ("vocab_size", "block_size", "n_layer", "n_embd")
        )
    except (KeyError, TypeError, ValueError):
        return None
    # tok_emb + head, pos_emb, per block: 4 attention linears, the 4x MLP, two layer norms
    # and the causal mask buffer; then ln_f.
    total = 2 * vocab * e + block * e + layers * (12 * e * e + 13 * e + block * block) + 2 * e
    cond = params.get("cond_stage_config")
    if isinstance(cond, str) and cond in ("__is_first_stage__", "__is_unconditional__"):
        return total
    if not isinstance(cond, dict):
        return None
    target = cond.get("target")
    if str(target).endswith("CoordStage"):
        return total
    if VQ_TARGETS.get(target) not in ("vq", "gumbel"):
        return None
    try:
        return total + _model_bytes({"kind": VQ_TARGETS[target], **cond["params"]}) // 4
    except Exception:  # an odd cond stage only loses the bound, not the load
        return None


@dataclass(frozen=True)
class VQGANSpec:
    kind: str  # "vq" or "gumbel"
    embed_dim: int
    n_embed: int
    z_channels: int
    factor: int  # pixels per latent token along each side


class VQGAN(nn.Module):
    """Encoder, decoder and codebook of a taming VQGAN; nothing of its training."""

    def __init__(self, params: dict) -> None:
        super().__init__()
        from taming.modules.diffusionmodules.model import Decoder, Encoder

        dd = dict(params["ddconfig"])
        self.kind = params.get("kind", "vq")
        self.ddconfig = dd  # the architecture, for the memory estimate
        embed_dim, n_embed = int(params["embed_dim"]), int(params["n_embed"])
        z = int(dd["z_channels"])
        with contextlib.redirect_stdout(io.StringIO()):  # taming prints the z shape
            self.encoder = Encoder(**dd)
            self.decoder = Decoder(**dd)
        if self.kind == "gumbel":
            self.quantize = _GumbelCodebook(z, embed_dim, n_embed)
        else:
            self.quantize = _Codebook(n_embed, embed_dim)
        self.quant_conv = nn.Conv2d(z, embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, z, 1)
        self.spec = VQGANSpec(
            kind=self.kind,
            embed_dim=embed_dim,
            n_embed=n_embed,
            z_channels=z,
            factor=2 ** (len(dd["ch_mult"]) - 1),
        )

    @property
    def codebook(self) -> torch.Tensor:
        return self.quantize.weight  # (n_embed, embed_dim)

    def decode(self, z_q: torch.Tensor, *, recompute: bool = False) -> torch.Tensor:
        """(B, embed_dim, h, w) quantized latent -> (B, 3, h*f, w*f) image in [-1, 1], fp32.

        Each part computes in its weights' dtype (``cast_decoder``). ``recompute``: keep
        only the inputs of the full-resolution blocks and recompute their activations in
        the backward pass (the same gradients, less memory, one more forward of them)."""
        h = self.post_quant_conv(z_q.to(self.post_quant_conv.weight.dtype))
        return run_decoder(self.decoder, h, recompute=recompute and torch.is_grad_enabled())

    def cast_decoder(self, dtype: torch.dtype) -> VQGAN:
        """Hold the decoder's weights in ``dtype`` (in place), all but its low-resolution
        head (``FP32_HEAD``). The encoder and the codebook stay fp32: they choose codes,
        where bf16 cannot tell near codes apart."""
        d = self.decoder
        for level in range(d.num_resolutions - 1):
            d.up[level].to(dtype=dtype)
        d.norm_out.to(dtype=dtype)
        d.conv_out.to(dtype=dtype)
        return self

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) image in [-1, 1] -> (B, embed_dim, H/f, W/f) quantized latent."""
        h = self.quant_conv(self.encoder(x))
        if self.kind == "gumbel":
            idx = self.quantize.proj(h).argmax(1)  # (B, h, w)
            return self.quantize.embed(idx).permute(0, 3, 1, 2)
        return vector_quantize(h.movedim(1, 3), self.codebook).movedim(3, 1)


# A bf16 decoder keeps its low-resolution head in fp32: post_quant_conv, conv_in, the
# middle and the lowest level with its upsampling. They are ~7% of the decoder's FLOPs
# but hold its widest weights next to the latent; rounding them cost the most gradient
# fidelity (demo models, cosine to fp32 at seed 1: 0.982 all bf16, 0.995 with the head
# in fp32).
FP32_HEAD = ("post_quant_conv", "decoder.conv_in", "decoder.mid", "decoder.up[-1]")


def _dtype(module: nn.Module) -> torch.dtype:
    return next(module.parameters()).dtype


def _autocast_on(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 takes no device type
        if device_type == "cpu":
            return torch.is_autocast_cpu_enabled()
        return torch.is_autocast_enabled()


def run_decoder(decoder: nn.Module, h: torch.Tensor, *, recompute: bool = False) -> torch.Tensor:
    """taming's ``Decoder.forward`` (its modules, its order), each module fed in its own
    weights' dtype and the image returned in fp32. With ``recompute``, each block of the
    top ``RECOMPUTED_LEVELS`` levels (and the upsampling into them, and the output layers)
    is checkpointed on its own: only the blocks' inputs stay alive, and the backward pass
    recomputes one block at a time."""
    from taming.modules.diffusionmodules.model import nonlinearity

    autocast = _autocast_on(h.device.type)  # then autocast picks each op's dtype

    def call(module: nn.Module, x: torch.Tensor, *args) -> torch.Tensor:
        return module(x if autocast else x.to(_dtype(module)), *args)

    def saved(fn, x: torch.Tensor, heavy: bool) -> torch.Tensor:
        return checkpoint(fn, x, use_reentrant=False) if heavy else fn(x)

    h = call(decoder.conv_in, h)
    h = call(decoder.mid.block_1, h, None)
    h = call(decoder.mid.attn_1, h)
    h = call(decoder.mid.block_2, h, None)
    for level in reversed(range(decoder.num_resolutions)):
        up = decoder.up[level]
        heavy = recompute and level < RECOMPUTED_LEVELS
        for i, block in enumerate(up.block):
            h = saved(lambda x, b=block: call(b, x, None), h, heavy)
            if len(up.attn) > 0:
                h = call(up.attn[i], h)
        if level != 0:
            into_heavy = recompute and level - 1 < RECOMPUTED_LEVELS
            h = saved(lambda x, u=up.upsample: call(u, x), h, into_heavy)
    if decoder.give_pre_end:
        return h.float()

    def tail(x: torch.Tensor) -> torch.Tensor:
        x = call(decoder.conv_out, nonlinearity(call(decoder.norm_out, x)))
        return torch.tanh(x) if getattr(decoder, "tanh_out", False) else x

    return saved(tail, h, recompute).float()


class _Codebook(nn.Module):
    """Holds ``quantize.embedding.weight`` under taming's key."""

    def __init__(self, n_embed: int, embed_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_embed, embed_dim)

    @property
    def weight(self) -> torch.Tensor:
        return self.embedding.weight


class _GumbelCodebook(nn.Module):
    """Holds ``quantize.proj`` and ``quantize.embed`` under taming's GumbelQuantize keys."""

    def __init__(self, z_channels: int, embed_dim: int, n_embed: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(z_channels, n_embed, 1)
        self.embed = nn.Embedding(n_embed, embed_dim)

    @property
    def weight(self) -> torch.Tensor:
        return self.embed.weight


def vector_quantize(x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """Snap each vector to its nearest code, with a straight-through gradient.

    x: (..., D), codebook: (K, D) -> (..., D)
    """
    d = (
        x.pow(2).sum(-1, keepdim=True) + codebook.pow(2).sum(1) - 2 * x @ codebook.T
    )  # (..., K) squared distances
    x_q = codebook[d.argmin(-1)]  # (..., D)
    return x + (x_q - x).detach()


def load_vqgan(
    config_path: Path, checkpoint_path: Path, *, device: torch.device | str = "cpu"
) -> VQGAN:
    """Build from the YAML, load weights by key (skipping ``loss.*``), freeze."""
    params = load_vqgan_yaml(config_path)
    prefix = params.pop("prefix")
    try:
        model_bytes = _model_bytes(params)
    except Exception as exc:  # taming's constructors raise many types for a bad ddconfig
        raise BadConfigFileError(
            f"{config_path}: ddconfig is incomplete or invalid ({type(exc).__name__}: {exc})"
        ) from exc
    if model_bytes > MAX_VQGAN_BYTES:
        raise BadConfigFileError(
            f"{config_path} describes a VQGAN of {model_bytes / 1e9:.1f} GB of weights;"
            " known VQGANs have well under 1 GB. Is this the right config?"
        )
    bound = checkpoint_byte_bound(model_bytes, params.get("extra_parameters", 0))
    ckpt = safe_torch_load(checkpoint_path, max_bytes=bound)
    model = VQGAN(params)
    state = ckpt.get("state_dict", ckpt)
    if not isinstance(state, dict):
        raise CorruptCheckpointError(f"{checkpoint_path} has no state_dict")
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    state = {k: v for k, v in state.items() if not k.startswith("loss.")}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing:
        raise ConfigMismatchError(
            f"{checkpoint_path} does not match {config_path}: {len(missing)} weights missing "
            f"(e.g. {missing[0]}). Is this the config that came with the checkpoint?"
        )
    mismatched = [k for k in own if tuple(own[k].shape) != tuple(state[k].shape)]
    if mismatched:
        k = mismatched[0]
        raise ConfigMismatchError(
            f"{checkpoint_path} does not match {config_path}: {k} is {tuple(state[k].shape)} in the "
            f"checkpoint but {tuple(own[k].shape)} in the config"
        )
    del unexpected  # extra keys (e.g. a transformer's own) are harmless
    model.load_state_dict({k: state[k] for k in own})
    return model.to(device=device, dtype=torch.float32).eval().requires_grad_(False)
