"""Which files a config's model names need, and whether they are in the model cache.

Names resolve to files in the model cache (``<model_dir>/vqgan/NAME/``, ``<model_dir>/clip/``);
``demo`` names the tiny random-weight models (``<model_dir>/demo``, built on first load by
``doorways_engine.tiny``); anything else is taken as a local path. No torch here: the app checks a
theme's models before queueing it, and only the worker may load torch. Loading is
``doorways_engine.models``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from doorways_engine.config import GenerationConfig
from doorways_engine.errors import ModelError, ModelFileMissingError, UnknownModelError
from doorways_engine.registry import VQGANS, clip_entries, clip_entry, vqgan_entry

DEMO = "demo"  # the model name of the tiny random-weight models

# Where other tools keep the CLIP releases they downloaded: OpenAI's ``clip.load`` (and the
# VQGAN-CLIP scripts built on it) saves ``~/.cache/clip/<the URL's file name>``. A release
# found there is used where it is, after its sha256 (the release URL's folder) matches:
# ``resolve_models`` lists it in ``checks`` like any registry file.
OTHER_CLIP_DIRS: tuple[Path, ...] = (Path("~/.cache/clip"),)


def default_model_dir() -> Path:
    env = os.environ.get("DOORWAYS_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("doorways")) / "models"


@dataclass(frozen=True)
class ModelFiles:
    vqgan_config: Path
    vqgan_checkpoint: Path
    clip: Path
    label: str  # e.g. "vqgan_imagenet_f16_16384 + ViT-B/32"
    # (file, sha256) of registry files with a known checksum, verified before any is read
    checks: tuple[tuple[Path, str], ...] = ()


def vqgan_paths(model_dir: Path, name: str) -> tuple[Path, Path]:
    folder = Path(model_dir) / "vqgan" / name
    return folder / "model.yaml", folder / "last.ckpt"


def demo_paths(model_dir: Path) -> tuple[Path, Path, Path]:
    """The files ``doorways_engine.tiny.ensure_demo_models`` builds under ``<model_dir>/demo``."""
    root = Path(model_dir) / DEMO
    return root / "vqgan" / "model.yaml", root / "vqgan" / "last.ckpt", root / "clip-tiny.pt"


def clip_path(model_dir: Path, name: str) -> Path:
    """Where ``doorways models fetch NAME`` puts a CLIP release."""
    return Path(model_dir) / "clip" / (name.replace("/", "-").replace("@", "-") + ".pt")


def other_clip_path(name: str) -> Path | None:
    """A CLIP release another tool downloaded (``OTHER_CLIP_DIRS``), unchecked; None if
    there is none."""
    file_name = clip_entry(name).url.rsplit("/", 1)[-1]
    for folder in OTHER_CLIP_DIRS:
        path = folder.expanduser() / file_name
        if path.is_file():
            return path
    return None


def found_clip(model_dir: Path, name: str) -> Path | None:
    """The file of CLIP release ``name``: Doorways' own download, else another tool's
    (checked by its sha256 before it is read), else None."""
    own = clip_path(model_dir, name)
    return own if own.is_file() else other_clip_path(name)


def uses_demo(config: GenerationConfig) -> bool:
    return DEMO in (config.vqgan, config.clip)


def resolve_models(config: GenerationConfig, model_dir: Path | None = None) -> ModelFiles:
    """Turn the config's model names into files, with a fix-it message when absent.

    The demo files are named whether or not they are built yet: ``load_models`` builds
    them first, so the demo is always ready."""
    model_dir = Path(model_dir or default_model_dir())
    demo_yaml, demo_ckpt, demo_clip = demo_paths(model_dir)
    checks: list[tuple[Path, str | None]] = []
    if config.vqgan_config or config.vqgan_checkpoint:
        if not (config.vqgan_config and config.vqgan_checkpoint):
            raise ModelError("give both --vqgan-config and --vqgan-checkpoint")
        yaml_path, ckpt_path = Path(config.vqgan_config), Path(config.vqgan_checkpoint)
        vq_label = ckpt_path.name
    elif config.vqgan == DEMO:
        yaml_path, ckpt_path, vq_label = demo_yaml, demo_ckpt, DEMO
    elif config.vqgan in VQGANS:
        yaml_path, ckpt_path = vqgan_paths(model_dir, config.vqgan)
        if not (yaml_path.is_file() and ckpt_path.is_file()):
            raise ModelFileMissingError(
                f"VQGAN {config.vqgan} is not downloaded yet: run `doorways models fetch {config.vqgan}` "
                "(or use --models demo for the tiny random-weight demo models)"
            )
        vq_label = config.vqgan
        entry = VQGANS[config.vqgan]
        checks += [(yaml_path, entry.config_sha256), (ckpt_path, entry.checkpoint_sha256)]
    elif Path(config.vqgan).expanduser().is_dir():
        folder = Path(config.vqgan).expanduser()
        yamls, ckpts = sorted(folder.glob("*.yaml")), sorted(folder.glob("*.ckpt"))
        if not (yamls and ckpts):
            raise ModelFileMissingError(
                f"{folder} should hold a .yaml config and a .ckpt checkpoint"
            )
        yaml_path, ckpt_path, vq_label = yamls[0], ckpts[0], folder.name
    else:
        vqgan_entry(config.vqgan)  # raises UnknownModelError with the list
        raise AssertionError("unreachable")
    clip_file = demo_clip if config.clip == DEMO else _resolve_clip(config.clip, model_dir)
    if config.clip in clip_entries():
        checks.append((clip_file, clip_entry(config.clip).sha256))
    if (yaml_path, ckpt_path) != (demo_yaml, demo_ckpt):  # the demo is built when loaded
        for path in (yaml_path, ckpt_path):
            if not path.is_file():
                raise ModelFileMissingError(f"model file not found: {path}")
    label = f"{vq_label} + {config.clip}"
    if uses_demo(config):
        label += " (tiny random-weight demo models)"
    known = tuple((path, sha) for path, sha in checks if sha)
    return ModelFiles(yaml_path, ckpt_path, clip_file, label, known)


def _resolve_clip(name: str, model_dir: Path) -> Path:
    if name in clip_entries():
        path = found_clip(model_dir, name)
        if path is None:
            raise ModelFileMissingError(
                f"CLIP {name} is not downloaded yet: run `doorways models fetch {name}`"
            )
        return path
    path = Path(name).expanduser()
    if path.is_file():
        return path
    clip_entry(name)  # raises UnknownModelError with the list
    raise AssertionError("unreachable")


def check_model_name(name: str) -> None:
    """Raise ``UnknownModelError`` unless ``name`` is a model ``fetch_model`` can get."""
    if name not in VQGANS and name not in clip_entries():
        raise UnknownModelError(
            f"unknown model {name!r}; known VQGANs: {', '.join(VQGANS)};"
            f" CLIP: {', '.join(clip_entries())}"
        )
