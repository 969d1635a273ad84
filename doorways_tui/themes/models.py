"""Which VQGAN and CLIP a theme's jobs will use, and whether their weights are here.

A theme queued on a machine with no weights downloaded makes hundreds of jobs that all fail,
so the CLI and the dialog check first. ``with_models`` applies ``--models demo`` /
``--vqgan`` / ``--clip`` to every variant; ``check_models`` resolves each distinct pair of
models against the model cache (``doorways_engine.model_files``: files and the registry, no torch;
the demo models count as ready, since the worker builds them on first use).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from doorways_engine.config import GenerationConfig
from doorways_engine.errors import ModelError
from doorways_engine.model_files import DEMO, resolve_models
from doorways_tui.themes.model import Variant

DEMO_NOTE = "tiny random-weight demo models: for trying Doorways out, not for art"
DEMO_HINT = "or pass --models demo"


def model_overrides(
    *, models: str | None = None, vqgan: str | None = None, clip: str | None = None
) -> dict[str, str]:
    """The config keys to replace, as ``doorways generate`` reads the same options."""
    demo = models == DEMO
    changes = {"vqgan": vqgan or (DEMO if demo else None), "clip": clip or (DEMO if demo else None)}
    return {k: v for k, v in changes.items() if v}


def with_models(variants: Sequence[Variant], **overrides: str | None) -> tuple[Variant, ...]:
    """``variants`` with the model options applied to every config (unchanged if none)."""
    changes = model_overrides(**overrides)
    if not changes:
        return tuple(variants)
    return tuple(dataclasses.replace(v, config={**v.config, **changes}) for v in variants)


@dataclass(frozen=True)
class ModelCheck:
    """What the jobs will run on; ``missing`` is the engine's fix-it message, or None."""

    label: str  # "vqgan_imagenet_f16_16384 + ViT-B/32"
    missing: str | None = None
    demo: bool = False

    @property
    def ready(self) -> bool:
        return self.missing is None

    @property
    def status(self) -> str:
        if self.missing is not None:
            return "not downloaded"
        return DEMO_NOTE if self.demo else "ready"

    def line(self) -> str:
        return f"models: {self.label} ({self.status})"

    def refusal(self) -> str:
        """The message for a queue that is refused: the engine's, plus the demo hint."""
        message = self.missing or ""
        return message if "--models demo" in message else f"{message} ({DEMO_HINT})"


def _name_of(config: GenerationConfig) -> str:
    vqgan = Path(config.vqgan_checkpoint).name if config.vqgan_checkpoint else config.vqgan
    return f"{vqgan} + {config.clip}"


def check_models(variants: Iterable[Variant], model_dir: Path | str | None = None) -> ModelCheck:
    """Resolve each distinct set of models the variants name (``demo`` builds the tiny ones)."""
    return check_configs((GenerationConfig.from_dict(dict(v.config)) for v in variants), model_dir)


def check_configs(
    configs: Iterable[GenerationConfig], model_dir: Path | str | None = None
) -> ModelCheck:
    """``check_models`` for configs (``queue add`` has one config, not a theme's variants)."""
    distinct: dict[tuple, GenerationConfig] = {}
    for config in configs:
        key = (config.vqgan, config.clip, config.vqgan_config, config.vqgan_checkpoint)
        distinct.setdefault(key, config)
    if not distinct:
        distinct[()] = GenerationConfig()
    labels = list(dict.fromkeys(_name_of(c) for c in distinct.values()))
    demo = any(DEMO in (c.vqgan, c.clip) for c in distinct.values())
    for config in distinct.values():
        try:
            resolve_models(config, Path(model_dir) if model_dir else None)
        except ModelError as exc:
            return ModelCheck(", ".join(labels), str(exc), demo)
    return ModelCheck(", ".join(labels), None, demo)
