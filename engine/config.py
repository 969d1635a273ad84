"""The generation config: one dataclass in, everything a run needs to be repeated.

A config round-trips through plain JSON (``to_dict``/``from_dict``) so that the library,
the queue and the PNG text chunk all store exactly what the engine ran.

Each field says its own type (the annotation) and range (``Bounds`` or ``choices`` in its
metadata); ``check_value`` enforces both, for ``validate`` and for the CLI's option types.
Every source (CLI, theme, config file, app, a stored row) passes that one door, so no NaN,
infinity, wrong type or absurd number reaches a worker or the library's JSON.

Each field also carries an ``Option`` (``doorways_engine.options``): its command-line flag, ``--help``
group and help, and its row in the displays. The command line (``doorways_tui/cli/
options.py``), the details panel and the PNG's parameters line (``shown_settings``) are
derived from it, so a new setting, such as a loss term's weight (``loss_weight``), is one
field here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from doorways_engine.errors import ConfigError
from doorways_engine.options import (
    GENERATION,
    MAX_LOSS_WEIGHT,
    METHOD,
    MODELS,
    NOT_AN_OPTION,
    Option,
    choice_field,
    loss_weight,
    name_field,
    number_field,
    paths_field,
    text_field,
)
from doorways_engine.options import shown_settings as _shown_settings
from doorways_engine.text import describe_hidden

PANORAMA_MODES = ("off", "linear", "cosine", "hard")
SIZE_WEIGHTINGS = ("auto", "uniform", "layout", "detail", "layout-to-detail")
# How the decoder and CLIP's image tower compute (``resolve_precision``; the codebook search,
# the cutouts' geometry, the losses, Adam and the latent stay fp32 in every mode).
PRECISIONS = ("auto", "bf16", "autocast", "fp32")
# Activation checkpointing of the decoder's full-resolution blocks (``doorways_engine.memory``).
RECOMPUTE = ("auto", "on", "off")

SQLITE_INT_MAX = 2**63 - 1  # the largest INTEGER SQLite stores (seeds, ids, priorities)
MAX_STEPS = 100_000  # hours at any size; the usual run is 300-1000 steps
# Cutouts are one CLIP batch per step, and each keeps its activations for the backward pass:
# ~25 MB for ViT-B/32 and ~100 MB for ViT-B/16 (measured, fp32; half that in fp16). So 1024
# already needs ~26 GB with the smallest CLIP and more than an 80 GB GPU with ViT-B/16;
# beyond it nothing fits. The usual loop uses 32-128.
MAX_CUTN = 1024
MAX_SIDE = 16_384  # per side; the area limit below is what bounds memory
MAX_AREA = 4096 * 4096
MAX_PROMPT_WEIGHT = 100.0  # |weight| of a text or image prompt; useful values are -1..10
MAX_BLUR = 256.0  # pixels of Gaussian sigma; more is one flat colour at any size


# -- text a person typed ------------------------------------------------------------------


def check_text(label: str, text: str) -> None:
    """Raise ConfigError naming ``label`` if ``text`` carries a control or hidden
    character, or bytes that were not UTF-8 (``doorways_engine.text``)."""
    if (message := describe_hidden(label, text)) is not None:
        raise ConfigError(message)


def _show(value: Any) -> str:
    """A short repr for a message (a value can be a whole file's worth)."""
    try:
        text = repr(value)
    except ValueError:  # an int of more digits than Python prints
        return "a number too long to print"
    return text if len(text) <= 40 else text[:37] + "..."


def finite_float(name: str, value: Any) -> float:
    """``value`` as a finite float (ints allowed, bools not), or ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {_show(value)}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        number = math.inf
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be a finite number, got {_show(value)}")
    return number


# A prompt's distance to CLIP's view lies from 0 (the same direction) to pi^2/2 (opposite):
# ``doorways_engine.losses.spherical_distance``. A stop is a distance in that range.
MAX_DISTANCE = math.pi**2 / 2


@dataclass(frozen=True)
class Prompt:
    """One text prompt with its weight; a negative weight pushes the image away from it.

    ``stop``: the distance at which the prompt stops acting (None: never). A positive
    prompt stops pulling once a view is closer than ``stop``; a negative one stops pushing
    once a view is farther. Written ``text:weight:stop``, as the popular scripts do."""

    text: str
    weight: float = 1.0
    stop: float | None = None

    def __str__(self) -> str:
        if self.stop is not None:
            return f"{self.text}:{self.weight:g}:{self.stop:g}"
        return self.text if self.weight == 1.0 else f"{self.text}:{self.weight:g}"


# The one rule for a prompt's weight, text and image prompts alike: a trailing ``:number``
# (``suffix`` as typed, ``weight`` the number), and for text prompts an optional second
# ``:number``, the stop. ``nan`` and ``inf`` read as numbers too, so that the check refuses
# them by name instead of a path or a prompt keeping them as text; what ``float`` alone
# would also read (``1_0``, ``0x1``) stays text. The prompt-edit keys keep the suffix where
# it was.
_NUMBER = r"[-+]?((\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|(?i:nan|inf(inity)?))"
PROMPT_WEIGHT = re.compile(
    rf"^(?P<text>.*?)(?P<suffix>:\s*(?P<weight>{_NUMBER})(:\s*(?P<stop>{_NUMBER}))?)\s*$",
    re.S,
)
_ONE_WEIGHT = re.compile(rf"^(?P<text>.*?):\s*(?P<weight>{_NUMBER})\s*$", re.S)  # a path's
_ENDS_IN_NUMBER = re.compile(rf"(^|:)\s*({_NUMBER})?\s*$", re.S)


def split_weight(spec: str) -> tuple[str, float] | None:
    """``(text, weight)`` when ``spec`` ends in one ``:number`` after some text, else None.
    The text is as typed (a path keeps its spaces and any earlier ``:number``)."""
    match = _ONE_WEIGHT.match(spec)
    if match is None or not match.group("text").strip():
        return None
    return match.group("text"), float(match.group("weight"))


def parse_prompt(part: str) -> Prompt:
    """One prompt: ``text``, ``text:weight`` or ``text:weight:stop``. A colon inside the
    text stays ("entrance: heaven"); a text that would still end in ``:number`` (or in an
    empty ``:``) after the weight and stop are taken is ambiguous, and refused."""
    match = PROMPT_WEIGHT.match(part)
    if match is None or not match.group("text").strip():
        return Prompt(part.strip())
    text = match.group("text")
    if match.group("stop") is not None and _ENDS_IN_NUMBER.search(text):
        raise ConfigError(
            f"prompt {_show(part.strip())} is ambiguous: write text:weight or"
            " text:weight:stop, with no ':number' left at the end of the text"
        )
    if text.rstrip().endswith(":"):
        raise ConfigError(
            f"prompt {_show(part.strip())} is ambiguous: a weight is missing between its colons"
        )
    stop = match.group("stop")
    return Prompt(text.strip(), float(match.group("weight")), None if stop is None else float(stop))


def parse_prompts(spec: str) -> list[Prompt]:
    """Parse ``"a:1 | b:-0.5 | c:1:0.8"`` into prompts (``parse_prompt`` for each)."""
    return [parse_prompt(part) for raw in spec.split("|") if (part := raw.strip())]


def split_image_prompt(spec: str) -> tuple[str, float]:
    """``"path:0.5"`` -> (path, 0.5); a tail that is not a weight stays in the path."""
    return split_weight(spec) or (spec, 1.0)


IMAGE_SIDES = ("left", "right")  # where an image prompt may aim; none: the whole image


@dataclass(frozen=True)
class ImagePrompt:
    """An image to aim at: ``[left:|right:]PATH[:WEIGHT]``. With a side, only cutouts on
    that half count it (blended across the middle as the panorama blends its prompts)."""

    path: str
    weight: float = 1.0
    side: str | None = None

    def __str__(self) -> str:
        side = f"{self.side}:" if self.side else ""
        plain = self.weight == 1.0 and split_weight(self.path) is None  # reads back the same
        return f"{side}{self.path}" + ("" if plain else f":{self.weight:g}")


def parse_image_prompt(spec: str) -> ImagePrompt:
    """``"left:door.png:0.5"`` -> ImagePrompt("door.png", 0.5, "left"). A leading
    ``left:`` or ``right:`` is the side (write ``./left:x.png`` for a file named so)."""
    head, colon, rest = spec.partition(":")
    side = head.strip().lower() if colon else ""
    if side in IMAGE_SIDES and rest.strip():
        return ImagePrompt(*split_image_prompt(rest.strip()), side=side)
    return ImagePrompt(*split_image_prompt(spec))


def format_prompts(prompts: list[Prompt]) -> str:
    return " | ".join(str(p) for p in prompts)


def resolve_precision(precision: str, device_type: str) -> str:
    """The mode a run computes in: ``auto`` is ``bf16`` on CUDA and ``fp32`` elsewhere."""
    if precision == "auto":
        return "bf16" if device_type == "cuda" else "fp32"
    return precision


def snap_size(width: int, height: int, factor: int) -> tuple[int, int]:
    """Round each side down to a multiple of the VQGAN factor (never below one token)."""
    return max(factor, width // factor * factor), max(factor, height // factor * factor)


def parse_size(text: str) -> tuple[int, int]:
    """``"512x288"`` -> (512, 288); ``"512"`` -> (512, 512)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX×]\s*(\d+))?\s*", text)
    if not m:
        raise ConfigError(f"size {_show(text)} is not WIDTHxHEIGHT, e.g. 512x288")
    try:
        w = int(m.group(1))
        h = int(m.group(2)) if m.group(2) else w
    except ValueError:  # more digits than Python converts
        raise ConfigError(f"size {_show(text)} is far too large") from None
    return w, h


@dataclass
class GenerationConfig:
    """Everything one generation needs. Defaults follow the Doorways method."""

    prompts: str = text_field(
        "entrance to the forest realm",
        "prompt",
        Option(
            GENERATION,
            'text prompt; "a:1 | b:-0.5" for several weighted prompts'
            " (or left | right with --panorama)",
            flag="prompt",
            aliases=("-p",),
        ),
    )
    style: str = text_field(  # appended to every positive prompt
        "", "style", Option(GENERATION, 'appended to each prompt, e.g. "by James Gurney"')
    )
    image_prompts: list[str] = paths_field(  # ImagePrompt: "[left:|right:]path[:weight]"
        Option(
            GENERATION,
            "aim at this image too, with an optional weight, on the whole image or on"
            " one side (left:PATH, right:PATH); repeat for more",
            flag="--image-prompt",
            metavar="[SIDE:]PATH[:WEIGHT]",
            image=True,
        )
    )
    width: int = number_field(
        256,
        1,
        MAX_SIDE,
        Option(
            GENERATION,
            "WIDTHxHEIGHT, snapped to the VQGAN factor",
            flag="--size",
            split=parse_size,
            label="size",
            aliases=("-s",),
            sep="×",
        ),
    )
    height: int = number_field(256, 1, MAX_SIDE, Option(GENERATION, flag="--size", label="size"))
    steps: int = number_field(
        300,
        0,
        MAX_STEPS,
        Option(GENERATION, "optimisation steps", label="steps", aliases=("-i",)),
        note="more is absurd: 300-1000 is usual",
    )
    lr: float = number_field(
        0.025,
        0,
        10,
        Option(GENERATION, "Adam learning rate", label="lr", aliases=("-lr",)),
        lo_open=True,
        hi_open=True,
    )
    seed: int = number_field(
        0, 0, SQLITE_INT_MAX, Option(GENERATION, "random seed", label="seed", aliases=("-sd",))
    )
    # Cutouts: how many CLIP views per step, and how large.
    cutn: int = number_field(
        32,
        1,
        MAX_CUTN,
        Option(GENERATION, "cutouts per step", label="cutn", aliases=("-cuts",)),
        note="each cutout costs memory; 32-128 is usual",
    )
    cut_pow: float = number_field(
        1.0, 0, 10, Option(GENERATION, ">1 favours small cutouts", aliases=("-cutp",))
    )
    # The smallest cutout (``doorways_engine.cutouts.smallest_cutout``): 0 is CLIP's input size, so
    # no cutout is magnified; below 1 a fraction of the short side (0.25 was the old
    # default); from 1 on, pixels. Never more than the short side.
    cut_min: float = number_field(
        0.0,
        0,
        MAX_SIDE,
        Option(
            GENERATION,
            "smallest cutout: pixels, or below 1 a fraction of the short side;"
            " 0 = CLIP's input size (never magnified)",
            metavar="PX|FRAC",
        ),
    )
    # Augmentations. No horizontal flip: a flipped view would undo the mirroring of semantic
    # symmetry's cutout pairs (the edge and tone terms look at the whole image, not views).
    aug_rotate: float = number_field(10.0, 0, 180, NOT_AN_OPTION)  # degrees, uniform +-
    aug_skew: float = number_field(0.1, 0, 1, NOT_AN_OPTION)  # shear, uniform +-
    aug_blur: float = number_field(
        0.25, 0, 1, NOT_AN_OPTION
    )  # probability of a slight blur per cutout
    aug_noise: float = number_field(
        0.05, 0, 1, NOT_AN_OPTION
    )  # std of added noise, scaled per cutout
    # Init image: path, optional blur (pixels), and weight of staying near its latent.
    init_image: str | None = name_field(
        None,
        Option(
            GENERATION,
            "start from this image instead of noise",
            metavar="PATH",
            image=True,
            label="init",
            aliases=("-ii",),
        ),
    )
    init_blur: float = number_field(
        0.0, 0, MAX_BLUR, Option(GENERATION, "blur the init image (pixels)")
    )
    init_weight: float = number_field(
        0.0,
        0,
        MAX_LOSS_WEIGHT,
        Option(
            GENERATION,
            "pull towards the init latent",
            label="init",
            part="weight",
            aliases=("-iw",),
        ),
    )
    # The Doorways method.
    panorama: str = choice_field(
        "off", PANORAMA_MODES, Option(METHOD, "place | prompts left to right", label="panorama")
    )
    edge_symmetry: float = loss_weight(
        0.0, row="symmetry", part="edge", help="weight of the edge symmetry loss"
    )
    tone_symmetry: float = loss_weight(
        0.0, row="symmetry", part="tone", help="weight of the tone symmetry loss"
    )
    semantic_symmetry: float = loss_weight(
        0.0, row="symmetry", part="semantic", help="weight of the semantic symmetry loss"
    )
    symmetry_blur: float = number_field(  # sigma of the blur before symmetry terms
        4.0, 0, MAX_BLUR, Option(METHOD, "blur before comparing the halves", metavar="SIGMA")
    )
    size_weighting: str = choice_field(
        "auto", SIZE_WEIGHTINGS, Option(METHOD, "how cutout sizes are weighted")
    )
    # Models: registry names, local paths, or "demo" for the tiny random-weight models.
    vqgan: str = name_field(
        "vqgan_imagenet_f16_16384",
        Option(MODELS, "registry name or folder", metavar="NAME", model=True, label="models"),
    )
    clip: str = name_field(
        "ViT-B/32",
        Option(
            MODELS,
            "registry name or .pt path",
            metavar="NAME",
            model=True,
            label="models",
            aliases=("-m",),
        ),
    )
    vqgan_config: str | None = name_field(None, Option(MODELS, metavar="PATH", aliases=("-conf",)))
    vqgan_checkpoint: str | None = name_field(
        None, Option(MODELS, metavar="PATH", aliases=("-ckpt",))
    )
    # Output cadence.
    preview_every: int = number_field(
        25, 0, MAX_STEPS, Option(GENERATION, "steps between previews", aliases=("-se",))
    )
    report_every: int = number_field(
        10, 1, MAX_STEPS, NOT_AN_OPTION
    )  # loss read-backs (each syncs)
    precision: str = choice_field(
        "auto",
        PRECISIONS,
        Option(
            GENERATION,
            "auto: bf16 on a GPU, fp32 on the CPU; bf16: the decoder and CLIP in bf16"
            " weights; autocast: fp32 weights, bf16 autocast",
        ),
    )
    recompute: str = choice_field(
        "auto",
        RECOMPUTE,
        Option(
            GENERATION,
            "recompute the decoder's full-resolution activations in the backward pass:"
            " less memory; auto: when a batch would not fit",
        ),
    )
    resume_latent: str | None = name_field(None, NOT_AN_OPTION)  # a saved latent (.pt), --resume
    start_step: int = number_field(
        0, 0, MAX_STEPS, NOT_AN_OPTION
    )  # the step a resumed run continues from

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, self.check_value(f.name, getattr(self, f.name)))
        self._check_together()

    # -- validation -------------------------------------------------------------------

    @classmethod
    def check_value(cls, name: str, value: Any) -> Any:
        """``value`` as field ``name`` stores it (an int given for a float becomes a float),
        or ConfigError naming the field: its type, finiteness, range, choices and, for
        typed text, control characters. The CLI's option types call this too."""
        spec = _fields(cls).get(name)
        if spec is None:
            raise ConfigError(f"unknown setting: {name}")
        value = _check_type(name, _hints(cls)[name], value)
        bounds = spec.metadata.get("bounds")
        if bounds is not None and value not in bounds:
            note = f" ({bounds.note})" if bounds.note else ""
            raise ConfigError(f"{name} must be {bounds.describe()}, got {_show(value)}{note}")
        choices = spec.metadata.get("choices")
        if choices is not None and value not in choices:
            raise ConfigError(f"{name} {_show(value)} is not one of {', '.join(choices)}")
        if label := spec.metadata.get("text"):
            check_text(label, value)
        return value

    def validate(self) -> None:
        """Raise ConfigError with a sentence a user can act on."""
        for f in dataclasses.fields(self):
            self.check_value(f.name, getattr(self, f.name))
        self._check_together()

    def _check_together(self) -> None:
        """What no single field can check alone."""
        prompts = parse_prompts(self.prompts)
        if not prompts and not self.image_prompts:
            raise ConfigError("no prompt given: pass some text (or an image prompt)")
        for prompt in prompts:
            _check_weight(f"prompt {_show(prompt.text)}", prompt.weight)
            if prompt.stop is not None and not 0 <= prompt.stop <= MAX_DISTANCE:
                raise ConfigError(
                    f"prompt {_show(prompt.text)} has stop {prompt.stop:g}: a stop is a"
                    f" distance from 0 to {MAX_DISTANCE:.3g} (text:weight:stop)"
                )
        for spec in self.image_prompts:
            image = parse_image_prompt(spec)
            _check_weight(f"image prompt {_show(image.path)}", image.weight)
        if self.width * self.height > MAX_AREA:
            raise ConfigError(f"size {self.width}x{self.height} is larger than 4096x4096")
        if self.semantic_symmetry and self.cutn % 2:
            raise ConfigError("semantic symmetry takes cutouts in pairs: cutn must be even")
        if self.steps and self.start_step > self.steps:
            raise ConfigError(f"start step {self.start_step} is outside 0..{self.steps}")

    # -- derived ----------------------------------------------------------------------

    def prompt_list(self) -> list[Prompt]:
        """Parsed prompts with the style suffix appended to each positive one."""
        prompts = parse_prompts(self.prompts)
        style = self.style.strip()
        if not style:
            return prompts
        return [
            dataclasses.replace(p, text=f"{p.text}, {style}")
            if p.weight > 0 and style not in p.text
            else p
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
        """Whether one loaded pair serves both (the weights' dtype follows the precision)."""
        keys = ("vqgan", "clip", "vqgan_config", "vqgan_checkpoint", "precision")
        return all(getattr(self, k) == getattr(other, k) for k in keys)

    # -- serialisation ----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """Strict JSON (no NaN or Infinity, which SQLite's JSON functions reject)."""
        try:
            return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, allow_nan=False)
        except ValueError as exc:  # only a config that skipped validation gets here
            raise ConfigError(f"config cannot be stored: {exc}") from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationConfig:
        """Build from a dict, refusing unknown keys so typos don't pass silently."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a config must be a table of settings, got {_show(data)}")
        unknown = sorted(str(k) for k in set(data) - set(_fields(cls)))
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> GenerationConfig:
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as exc:  # ValueError: also a number of 5000 digits
            raise ConfigError(f"config is not valid JSON: {str(exc)[:200]}") from None
        except RecursionError:
            raise ConfigError("config is not valid JSON: nested too deeply") from None
        if not isinstance(data, dict):
            raise ConfigError("config JSON must be an object")
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> GenerationConfig:
        return dataclasses.replace(self, **changes)


@functools.cache
def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def shown_settings(
    config: Mapping[str, Any], *, cls: type[GenerationConfig] = GenerationConfig
) -> list[tuple[str, str]]:
    """The rows the displays show of a stored config (``doorways_engine.options.shown_settings``
    over the fields of ``GenerationConfig``, or of ``cls``)."""
    return _shown_settings(config, cls=cls)


def _check_type(name: str, hint: Any, value: Any) -> Any:
    """``value`` if it has the annotated type (ints pass for floats, bools never for
    numbers), normalised; else ConfigError naming the field."""
    if hint is float:
        return finite_float(name, value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be a whole number, got {_show(value)}")
        return value
    if hint == list[str]:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name} must be a list of text, got {_show(value)}")
        return list(value)
    if value is None and hint == (str | None):
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be text, got {_show(value)}")
    return value


def _check_weight(label: str, weight: float) -> None:
    if not (math.isfinite(weight) and abs(weight) <= MAX_PROMPT_WEIGHT):
        raise ConfigError(
            f"{label} has weight {weight:g}: a weight must be a finite number"
            f" from {-MAX_PROMPT_WEIGHT:g} to {MAX_PROMPT_WEIGHT:g}"
        )
