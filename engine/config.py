"""The generation config: one dataclass in, everything a run needs to be repeated.

A config round-trips through plain JSON (``to_dict``/``from_dict``) so that the library,
the queue and the PNG text chunk all store exactly what the engine ran.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from typing import Any

from engine.errors import ConfigError

PANORAMA_MODES = ("off", "linear", "cosine", "hard")
SIZE_WEIGHTINGS = ("auto", "uniform", "layout", "detail", "layout-to-detail")


@dataclass(frozen=True)
class Prompt:
    """One text prompt with its weight; a negative weight pushes the image away from it."""

    text: str
    weight: float = 1.0

    def __str__(self) -> str:
        return self.text if self.weight == 1.0 else f"{self.text}:{self.weight:g}"


_WEIGHT_RE = re.compile(
    r"^(?P<text>.*?):\s*(?P<weight>[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?)\s*$", re.S
)


def parse_prompts(spec: str) -> list[Prompt]:
    """Parse ``"a:1 | b:-0.5 | c"`` into prompts.

    A trailing ``:number`` is a weight; any other colon stays in the text
    ("entrance: heaven" keeps its colon).
    """
    prompts: list[Prompt] = []
    for raw in spec.split("|"):
        part = raw.strip()
        if not part:
            continue
        match = _WEIGHT_RE.match(part)
        if match and match.group("text").strip():
            prompts.append(Prompt(match.group("text").strip(), float(match.group("weight"))))
        else:
            prompts.append(Prompt(part, 1.0))
    return prompts


def format_prompts(prompts: list[Prompt]) -> str:
    return " | ".join(str(p) for p in prompts)


def snap_size(width: int, height: int, factor: int) -> tuple[int, int]:
    """Round each side down to a multiple of the VQGAN factor (never below one token)."""
    return max(factor, width // factor * factor), max(factor, height // factor * factor)


def parse_size(text: str) -> tuple[int, int]:
    """``"512x288"`` -> (512, 288); ``"512"`` -> (512, 512)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+))?\s*", text)
    if not m:
        raise ConfigError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 512x288")
    w = int(m.group(1))
    h = int(m.group(2)) if m.group(2) else w
    return w, h


@dataclass
class GenerationConfig:
    """Everything one generation needs. Defaults follow the Doorways method."""

    prompts: str = "entrance to the forest realm"
    style: str = ""  # appended to every positive prompt, e.g. "by James Gurney"
    image_prompts: list[str] = field(default_factory=list)  # paths, "path:weight" allowed
    width: int = 256
    height: int = 256
    steps: int = 300
    lr: float = 0.025
    seed: int = 0
    # Cutouts: how many CLIP views per step, and how large (fraction of the short side).
    cutn: int = 32
    cut_pow: float = 1.0  # >1 favours small cutouts, <1 large ones
    cut_min: float = 0.25  # smallest cutout as a fraction of the short side
    # Augmentations (no horizontal flip: it would fight symmetry).
    aug_rotate: float = 10.0  # degrees, uniform +-
    aug_skew: float = 0.1  # shear, uniform +-
    aug_blur: float = 0.25  # probability of a slight blur per cutout
    aug_noise: float = 0.05  # std of added noise, scaled per cutout
    # Init image: path, optional blur (pixels), and weight of staying near its latent.
    init_image: str | None = None
    init_blur: float = 0.0
    init_weight: float = 0.0
    # The Doorways method.
    panorama: str = "off"  # off | linear | cosine | hard: prompts placed left..right
    edge_symmetry: float = 0.0
    tone_symmetry: float = 0.0
    semantic_symmetry: float = 0.0
    symmetry_blur: float = 4.0  # sigma in pixels of the blur before the symmetry terms
    size_weighting: str = "auto"  # auto | uniform | layout | detail | layout-to-detail
    # Models: registry names, local paths, or "demo" for the tiny random-weight models.
    vqgan: str = "vqgan_imagenet_f16_16384"
    clip: str = "ViT-B/32"
    vqgan_config: str | None = None
    vqgan_checkpoint: str | None = None
    # Output cadence.
    preview_every: int = 25
    report_every: int = 10  # how often loss values are read back (each read syncs the GPU)
    precision: str = "auto"  # auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16
    resume_latent: str | None = None  # continue from a saved latent (.pt)
    start_step: int = 0  # the step a resumed run continues from

    def __post_init__(self) -> None:
        self.validate()

    # -- validation -------------------------------------------------------------------

    def validate(self) -> None:
        """Raise ConfigError with a sentence a user can act on."""
        if not parse_prompts(self.prompts) and not self.image_prompts:
            raise ConfigError("no prompt given: pass some text (or an image prompt)")
        if self.width < 1 or self.height < 1:
            raise ConfigError(f"size {self.width}x{self.height} must be positive")
        if self.width * self.height > 4096 * 4096:
            raise ConfigError(f"size {self.width}x{self.height} is larger than 4096x4096")
        if self.steps < 0:
            raise ConfigError("steps must be 0 or more")
        if not 0 < self.lr < 10:
            raise ConfigError(f"learning rate {self.lr} is out of range (0, 10)")
        if self.cutn < 1:
            raise ConfigError("cutn must be at least 1")
        if self.semantic_symmetry and self.cutn % 2:
            raise ConfigError("semantic symmetry takes cutouts in pairs: cutn must be even")
        if not 0 < self.cut_min <= 1:
            raise ConfigError("cut_min must be in (0, 1]")
        if self.panorama not in PANORAMA_MODES:
            raise ConfigError(
                f"panorama {self.panorama!r} is not one of {', '.join(PANORAMA_MODES)}"
            )
        if self.size_weighting not in SIZE_WEIGHTINGS:
            raise ConfigError(
                f"size weighting {self.size_weighting!r} is not one of {', '.join(SIZE_WEIGHTINGS)}"
            )
        for name in ("edge_symmetry", "tone_symmetry", "semantic_symmetry", "init_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 (off) or positive")
        if self.preview_every < 0:
            raise ConfigError("preview_every must be 0 (never) or positive")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision {self.precision!r} is not auto, fp32 or bf16")
        if self.report_every < 1:
            raise ConfigError("report_every must be at least 1")
        if self.start_step < 0 or (self.steps and self.start_step > self.steps):
            raise ConfigError(f"start step {self.start_step} is outside 0..{self.steps}")

    # -- derived ----------------------------------------------------------------------

    def prompt_list(self) -> list[Prompt]:
        """Parsed prompts with the style suffix appended to each positive one."""
        prompts = parse_prompts(self.prompts)
        style = self.style.strip()
        if not style:
            return prompts
        return [
            Prompt(
                f"{p.text}, {style}" if p.weight > 0 and style not in p.text else p.text, p.weight
            )
            for p in prompts
        ]

    def resolved_size_weighting(self) -> str:
        if self.size_weighting != "auto":
            return self.size_weighting
        return "detail" if self.init_image else "uniform"

    BATCH_KEYS = (
        "width",
        "height",
        "vqgan",
        "clip",
        "vqgan_config",
        "vqgan_checkpoint",
        "precision",
    )

    def batch_key(self) -> dict[str, Any]:
        """What jobs must share to be stepped together in one batch."""
        return {k: getattr(self, k) for k in self.BATCH_KEYS}

    @classmethod
    def batch_defaults(cls) -> dict[str, Any]:
        """Each batch key's default, for stored configs that leave it out."""
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        return {k: defaults[k] for k in cls.BATCH_KEYS}

    def same_models(self, other: GenerationConfig) -> bool:
        keys = ("vqgan", "clip", "vqgan_config", "vqgan_checkpoint")
        return all(getattr(self, k) == getattr(other, k) for k in keys)

    # -- serialisation ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationConfig:
        """Build from a dict, refusing unknown keys so typos don't pass silently."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> GenerationConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError("config JSON must be an object")
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> GenerationConfig:
        return dataclasses.replace(self, **changes)
