"""Fetching, verifying and loading the VQGAN and CLIP a config names (torch).

Which files a name needs, and whether they are here, is ``doorways_engine.model_files`` (no torch,
so the app can check a theme's models); ``demo`` models are built here, on first load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from doorways_engine.clip_file import load_clip_file
from doorways_engine.config import GenerationConfig
from doorways_engine.errors import ChecksumError, DeviceError, ModelError, ModelFileMissingError
from doorways_engine.fetch import ChecksumBook, Progress, UnreachableError, download, verify_sha256
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
    """A loaded VQGAN + CLIP pair on one device, with a per-prompt text embedding cache."""

    files: ModelFiles
    vqgan: VQGAN
    clip: torch.nn.Module
    device: torch.device
    _text_cache: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

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
            self._text_cache[text] = self.clip.encode_text(tokens)[0].float()
        return self._text_cache[text]

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) in [0, 1] -> (N, D) CLIP image embedding."""
        mean = x.new_tensor([0.48145466, 0.4578275, 0.40821073])[:, None, None]
        std = x.new_tensor([0.26862954, 0.26130258, 0.27577711])[:, None, None]
        return self.clip.encode_image((x - mean) / std).float()


def load_models(
    config: GenerationConfig,
    *,
    device: str | torch.device | None = None,
    model_dir: Path | None = None,
) -> Models:
    """Load both models frozen, in fp32, straight onto the device.

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
    return Models(files, vqgan, clip_model, device)
