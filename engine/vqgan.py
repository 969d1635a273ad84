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

from engine.errors import (
    BadConfigFileError,
    ConfigMismatchError,
    CorruptCheckpointError,
    ModelFileMissingError,
)

VQ_TARGETS = {
    "taming.models.vqgan.VQModel": "vq",
    "taming.models.vqgan.GumbelVQ": "gumbel",
    "taming.models.cond_transformer.Net2NetTransformer": "net2net",
}


class _Harmless:
    """Stand-in for the Lightning objects a checkpoint pickles (callback classes used as
    dict keys, an AttributeDict of hyper-parameters). Unpickled as inert objects."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.args = args

    def __setstate__(self, state: object) -> None:
        self.state = state

    def __reduce__(self):  # pragma: no cover - never re-pickled
        return (_Harmless, ())


# Exactly the globals Lightning checkpoints carry besides tensors; nothing that runs code.
_LIGHTNING_GLOBALS = [
    "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
    "pytorch_lightning.callbacks.early_stopping.EarlyStopping",
    "pytorch_lightning.utilities.parsing.AttributeDict",
    "lightning.pytorch.callbacks.model_checkpoint.ModelCheckpoint",
    "lightning.fabric.utilities.data.AttributeDict",
]


def safe_torch_load(path: Path) -> dict:
    """Load a checkpoint with ``weights_only=True``, allowing only Lightning's inert extras.

    Never falls back to full unpickling: an unknown global is an error naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileMissingError(f"checkpoint not found: {path}")
    if path.stat().st_size < 1024:
        raise CorruptCheckpointError(
            f"{path} is only {path.stat().st_size} bytes: a truncated or failed download? "
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
    stubs = [(_Harmless, name) for name in _LIGHTNING_GLOBALS]
    try:
        with torch.serialization.safe_globals(stubs):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for broken archives
        text = str(exc)
        if "Unsupported global" in text or "weights_only" in text.lower():
            first = text.split("\n")[0]
            raise CorruptCheckpointError(
                f"{path} holds code-bearing objects that Doorways will not unpickle "
                f"({first[:200]}). Only checkpoints with tensors and Lightning metadata load."
            ) from exc
        raise CorruptCheckpointError(
            f"{path} could not be read ({type(exc).__name__}: {text[:200]}); "
            "it is probably truncated: delete it and fetch again."
        ) from exc
    if not isinstance(data, dict):
        raise CorruptCheckpointError(f"{path} does not hold a state dict")
    return data


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
        }
    return {"kind": VQ_TARGETS[target], "prefix": "", **params}


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

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        """(B, embed_dim, h, w) quantized latent -> (B, 3, h*f, w*f) image in [-1, 1]."""
        return self.decoder(self.post_quant_conv(z_q))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) image in [-1, 1] -> (B, embed_dim, H/f, W/f) quantized latent."""
        h = self.quant_conv(self.encoder(x))
        if self.kind == "gumbel":
            idx = self.quantize.proj(h).argmax(1)  # (B, h, w)
            return self.quantize.embed(idx).permute(0, 3, 1, 2)
        return vector_quantize(h.movedim(1, 3), self.codebook).movedim(3, 1)


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
        model = VQGAN(params)
    except (KeyError, TypeError, ValueError) as exc:
        raise BadConfigFileError(f"{config_path}: ddconfig is incomplete ({exc})") from exc
    ckpt = safe_torch_load(checkpoint_path)
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
