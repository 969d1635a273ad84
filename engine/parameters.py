"""The ``parameters`` text other tools read, and back: AUTOMATIC1111's layout.

A1111's PNG Info, the sd-parsers library (behind several galleries) and Civitai's reader
all parse one layout: the prompt line, a ``Negative prompt:`` line, then one line of
``Key: value`` pairs with ``Steps``, ``Sampler``, ``Seed`` and ``Size`` among them.
Doorways writes its prompts there joined with `` | `` (each with its ``:weight`` when
not 1), so the line pastes back into ``doorways generate`` and the public VQGAN-CLIP
scripts; negative prompts go on the ``Negative prompt:`` line with their signed weight.
The other keys are the settings the displays show (``shown_settings``' fields, by their
``Option`` labels), so a new shown setting is written and read back with no code here.

``config_from_parameters`` reads the text back into a config (prompts, weights and the
shown settings; the rest at their defaults), and still reads the older Doorways layout
(prompts joined with ``"; "``, ``Models: vqgan / clip``). No torch here: the app reads it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from doorways_engine.config import GenerationConfig, Prompt, parse_prompts, parse_size
from doorways_engine.errors import ConfigError
from doorways_engine.options import option

SAMPLER = "VQGAN+CLIP Adam"
NEGATIVE = "Negative prompt:"
# A1111's names for the fields it knows; the others are their display label, capitalised.
KEY_OF_FIELD = {"steps": "Steps", "seed": "Seed", "vqgan": "Model", "clip": "CLIP"}
_PAIR = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')  # A1111's own


def prompt_spec(prompt: Prompt) -> str:
    """``text``, ``text:weight`` or, for a prompt with a stop step, ``text:weight:stop``
    (the public scripts' form, which ``parse_prompts`` reads back)."""
    if prompt.stop is not None:
        return f"{prompt.text}:{prompt.weight:g}:{prompt.stop:g}"
    return prompt.text if prompt.weight == 1.0 else f"{prompt.text}:{prompt.weight:g}"


def _quote(text: str) -> str:
    """A value as A1111 writes it: JSON-quoted when a comma, colon or quote would split it."""
    return json.dumps(text, ensure_ascii=False) if re.search(r'[,:"\n]', text) else text


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            value = json.loads(text)
        except ValueError:
            return text
        return value if isinstance(value, str) else text
    return text


def _shown_fields(cls: type) -> dict[str, list[dataclasses.Field]]:
    """The shown fields by their display label, in field order."""
    rows: dict[str, list[dataclasses.Field]] = {}
    for f in dataclasses.fields(cls):
        if option(f).label:
            rows.setdefault(option(f).label, []).append(f)
    return rows


def _key(f: dataclasses.Field) -> str:
    """The key a field is written under: A1111's name, its label, or ``Label part``."""
    opt = option(f)
    if f.name in KEY_OF_FIELD:
        return KEY_OF_FIELD[f.name]
    label = opt.label[:1].upper() + opt.label[1:]
    return f"{label} {opt.part}" if opt.part else label


def _value_text(value: Any, *, image: bool) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("\\", "/").rsplit("/", 1)[-1] if image else str(value)


def parameter_pairs(config: GenerationConfig) -> list[tuple[str, str]]:
    """The ``Key: value`` pairs: A1111's first (Steps, Sampler, Seed, Size, Model, CLIP),
    then ours in field order. A part (``Symmetry edge``) is left out at 0; an image is
    its file name only (the full path stays in the JSON chunk)."""
    data = config.to_dict()
    first = [
        ("Steps", str(config.steps)),
        ("Sampler", SAMPLER),
        ("Seed", str(config.seed)),
        ("Size", f"{config.width}x{config.height}"),
        ("Model", str(config.vqgan)),
        ("CLIP", str(config.clip)),
    ]
    ours: list[tuple[str, str]] = []
    for label, members in _shown_fields(type(config)).items():
        heads = [f for f in members if not option(f).part]
        if label == "size" or any(f.name in KEY_OF_FIELD for f in heads):
            continue  # in ``first``
        if heads and all(data.get(f.name) in (None, "") for f in heads):
            continue  # no init image: its weight says nothing either
        for f in members:
            value = data.get(f.name)
            if option(f).part and not value:
                continue
            ours.append((_key(f), _value_text(value, image=option(f).image)))
    return first + ours


def parameters_text(config: GenerationConfig) -> str:
    """The whole ``parameters`` text: prompt line, ``Negative prompt:`` line (when there
    are negative prompts), then the pairs. Prompts carry the style (as the run used them)."""
    prompts = config.prompt_list()
    lines = [" | ".join(prompt_spec(p) for p in prompts if p.weight >= 0)]
    if negative := [prompt_spec(p) for p in prompts if p.weight < 0]:
        lines.append(f"{NEGATIVE} {' | '.join(negative)}")
    lines.append(", ".join(f"{key}: {_quote(value)}" for key, value in parameter_pairs(config)))
    return "\n".join(lines)


def _pairs(line: str) -> dict[str, str]:
    return {m.group(1).strip(): _unquote(m.group(2)) for m in _PAIR.finditer(line)}


def _number(f: dataclasses.Field, text: str) -> Any:
    """The text of a value as its field's type (the config's checks then judge it)."""
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    try:
        if kind.startswith("int"):
            return int(text)
        if kind.startswith("float"):
            return float(text)
    except ValueError:
        raise ConfigError(f"{_key(f)} {text!r} is not a number") from None
    return text


def config_from_parameters(
    text: str, *, cls: type[GenerationConfig] = GenerationConfig
) -> GenerationConfig:
    """A config from a ``parameters`` text (this layout or Doorways' older one): its
    prompts and weights and the shown settings it names; anything else at its default.
    Text that is not parameters is one ConfigError."""
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 2 or "Steps" not in (pairs := _pairs(lines[-1])):
        raise ConfigError("the text is not a parameters line (no 'Steps:' line at its end)")
    body = lines[:-1]
    cut = next((i for i, line in enumerate(body) if line.startswith(NEGATIVE)), len(body))
    positive = " ".join(body[:cut]).strip()
    old = "Sampler" not in pairs and "Models" in pairs  # Doorways before the A1111 layout
    if old:
        positive = " | ".join(positive.split("; "))
        pairs["Model"], _, pairs["CLIP"] = pairs.pop("Models").partition(" / ")
    specs = [positive] if positive else []
    if cut < len(body):
        negative = " ".join(body[cut:])[len(NEGATIVE) :]
        for p in parse_prompts(negative):  # A1111's plain negative text weighs -1
            specs.append(prompt_spec(dataclasses.replace(p, weight=-abs(p.weight))))
    values: dict[str, Any] = {"prompts": " | ".join(specs)}
    if "Size" in pairs:
        values["width"], values["height"] = parse_size(pairs["Size"])
    for members in _shown_fields(cls).values():
        if any(option(f).image for f in members):
            continue  # a file name alone does not find the file (nor weighs it)
        for f in members:
            if (key := _key(f)) in pairs and key != "Size":
                values[f.name] = _number(f, pairs[key])
    if not values["prompts"]:
        raise ConfigError("the parameters name no prompt")
    return cls.from_dict(values)  # its checks refuse a bad value by name


__all__ = [
    "SAMPLER",
    "config_from_parameters",
    "parameter_pairs",
    "parameters_text",
    "prompt_spec",
]
