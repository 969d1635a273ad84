"""One vocabulary for the generation options: each config field's ``Option`` is the only
place a setting is spelled; the command line, the mapping to a config, the help, the
details panel and the PNG's parameters line follow it. Also the one ``duration`` and the
one prompt-weight rule."""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing

import pytest
from PIL import Image as PILImage
from rich.console import Console

from doorways_engine.config import GenerationConfig, parse_prompts, shown_settings
from doorways_engine.images import parameters_line
from doorways_engine.options import loss_weight, option
from doorways_engine.parameters import config_from_parameters
from doorways_tui.cli import build_parser, main
from doorways_tui.cli.options import (
    GenerationFlag,
    add_generation_options,
    config_from_args,
    generation_flags,
)
from doorways_tui.core.text import duration
from doorways_tui.workstation.prompt_edits import apply_modifiers, modifier, split_prompts

FLAGS = [f for f in generation_flags() if not f.positional]


def test_every_field_says_whether_and_how_it_meets_people():
    """A new field must decide: on the command line or not, shown or not."""
    for f in dataclasses.fields(GenerationConfig):
        assert "option" in f.metadata, f.name
    on_cli = {name for flag in generation_flags() for name in flag.names}
    assert {"aug_rotate", "report_every", "resume_latent", "start_step"}.isdisjoint(on_cli)
    assert {"cut_min", "cut_pow", "cutn"} <= on_cli


@pytest.mark.parametrize("command", [("generate",), ("queue", "add")])
def test_every_flag_is_in_the_help_in_its_group_with_its_range(command, capsys):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = capsys.readouterr().out
    for flag in FLAGS:
        assert f"\n{flag.option.group}:\n" in text, flag.option.group
        entry = re.search(rf"^  {re.escape(flag.flag)}\b", text, re.M)
        assert entry, flag.flag
        after = " ".join(text[entry.start() :].split())[:160]  # its line in the option list
        spec = _field(GenerationConfig, flag.names[0])
        if (bounds := spec.metadata.get("bounds")) is not None and flag.option.split is None:
            assert bounds.describe() in after, (flag.flag, after)
        if flag.option.help:
            assert flag.option.help in after, (flag.flag, after)


def _field(cls: type, name: str) -> dataclasses.Field:
    return {f.name: f for f in dataclasses.fields(cls)}[name]


def _other_text(cls: type, flag: GenerationFlag, image: str) -> tuple[list[str], dict]:
    """A valid command-line value for ``flag`` that is not the default, and the config
    values it must give."""
    defaults, name, opt = cls(), flag.names[0], flag.option
    if opt.split is not None:
        values = {n: getattr(defaults, n) + 16 for n in flag.names}
        return ["x".join(str(v) for v in values.values())], values
    if opt.image:
        full = image
        if typing.get_type_hints(cls)[name] == list[str]:
            return [image, f"{image}:0.5"], {name: [full, f"{full}:0.5"]}
        return [image], {name: full}
    spec, default = _field(cls, name), getattr(defaults, name)
    if "choices" in spec.metadata:
        value = next(c for c in spec.metadata["choices"] if c != default)
    elif (bounds := spec.metadata.get("bounds")) is not None:
        if typing.get_type_hints(cls)[name] is int:
            value = bounds.lo + 1 if bounds.lo + 1 != default else bounds.lo + 2
        else:
            value = (bounds.lo + bounds.hi) / 2
    else:
        value = "other"
    return [str(value)], {name: value}


@pytest.mark.parametrize("flag", FLAGS, ids=lambda f: f.flag)
def test_each_flag_reaches_its_field_and_nothing_else(flag, tmp_path):
    image = tmp_path / "door.png"
    PILImage.new("RGB", (8, 8), (200, 30, 30)).save(image)
    texts, expected = _other_text(GenerationConfig, flag, str(image.resolve()))
    argv = [part for text in texts for part in (flag.flag, text)]
    config = config_from_args(build_parser().parse_args(["generate", "door", *argv]))
    plain = config_from_args(build_parser().parse_args(["generate", "door"]))
    assert plain == GenerationConfig(prompts="door")
    changed = {k for k, v in config.to_dict().items() if plain.to_dict()[k] != v}
    assert changed == set(expected), flag.flag
    for name, value in expected.items():
        assert getattr(config, name) == value, name


def test_models_demo_fills_the_model_names_not_given():
    args = build_parser().parse_args(["generate", "door", "--models", "demo", "--clip", "c.pt"])
    config = config_from_args(args)
    assert (config.vqgan, config.clip) == ("demo", "c.pt")
    assert config_from_args(build_parser().parse_args(["generate", "d"])).vqgan == (
        GenerationConfig.vqgan
    )


@pytest.mark.parametrize(
    "name", [f.name for f in dataclasses.fields(GenerationConfig) if option(f).label]
)
def test_every_shown_field_shows(name):
    base = GenerationConfig(init_image="/pictures/door.png")
    flag = next((f for f in generation_flags() if name in f.names), None)
    if flag is not None and not flag.option.image:
        _, values = _other_text(GenerationConfig, flag, "")
        changed = base.replace(**{name: values[name]})
    else:
        changed = base.replace(**{name: "/pictures/gate.png"})
    assert shown_settings(changed.to_dict()) != shown_settings(base.to_dict())
    assert parameters_line(changed) != parameters_line(base)


# -- a new loss term: its loss and one field -------------------------------------------------


@dataclasses.dataclass
class WithColour(GenerationConfig):
    colour_balance: float = loss_weight(
        0.0, row="balance", part="colour", help="weight of a colour balance loss"
    )


def test_a_new_loss_weight_is_on_the_command_line_in_the_config_and_shown(capsys):
    parser = argparse.ArgumentParser(prog="t")
    add_generation_options(parser, cls=WithColour)
    flat = " ".join(parser.format_help().split())
    assert "--colour-balance W weight of a colour balance loss (from 0 to 100; default 0.0)" in flat
    config = config_from_args(
        parser.parse_args(["door", "--colour-balance", "0.5"]), cls=WithColour
    )
    assert config.colour_balance == 0.5
    assert WithColour.from_json(config.to_json()) == config
    assert ("balance", "colour 0.5") in shown_settings(config.to_dict(), cls=WithColour)
    assert parameters_line(config).endswith(", Balance colour: 0.5")
    assert config_from_parameters(parameters_line(config), cls=WithColour).colour_balance == 0.5
    assert shown_settings(WithColour().to_dict(), cls=WithColour) == shown_settings(
        GenerationConfig().to_dict()
    )  # a weight of 0 says nothing
    with pytest.raises(SystemExit):
        parser.parse_args(["door", "--colour-balance", "nan"])
    assert "colour_balance must be a finite number" in capsys.readouterr().err


def test_the_option_machinery_is_generic_and_apart_from_the_config():
    """``doorways_engine.options`` knows no ``GenerationConfig``: any dataclass whose fields carry
    ``Option`` records has its displays; ``doorways_engine.config`` declares its fields with it."""
    import doorways_engine.config
    import doorways_engine.options
    from doorways_engine.options import MODELS, Option, number_field, shown_settings

    assert "GenerationConfig" not in vars(doorways_engine.options)
    assert doorways_engine.config.loss_weight is doorways_engine.options.loss_weight  # declared with it

    @dataclasses.dataclass
    class Upscale:
        factor: float = number_field(2.0, 1, 8, Option(MODELS, "how much", label="upscale"))
        model: str = dataclasses.field(
            default="x", metadata={"option": Option(MODELS, label="upscale")}
        )
        quiet: int = number_field(0, 0, 1, Option(MODELS, "not shown"))

    assert shown_settings({"factor": 4.0, "model": "esr/gan"}, cls=Upscale) == [
        ("upscale", "4 · esr/gan")
    ]
    spec = {f.name: f for f in dataclasses.fields(Upscale)}["factor"]
    assert spec.metadata["bounds"].describe() == "from 1 to 8"
    assert [option(f).label for f in dataclasses.fields(GenerationConfig)].count("size") == 2


# -- the displays ----------------------------------------------------------------------------


def test_the_rows_of_a_stored_config_the_panel_and_the_png_share():
    stored = {  # a stored config, as a worker wrote it (keys may be missing)
        "width": 64,
        "height": 32,
        "steps": 12,
        "cutn": 4,
        "seed": 3,
        "vqgan": "demo",
        "clip": "demo",
        "panorama": "cosine",
        "edge_symmetry": 0.5,
        "tone_symmetry": 0,
        "semantic_symmetry": 0.25,
        "init_image": "/pictures/door.png",
        "init_weight": 0.3,
    }
    assert shown_settings(stored) == [
        ("size", "64×32"),
        ("steps", "12"),
        ("seed", "3"),
        ("cutn", "4"),
        ("init", "door.png (weight 0.3)"),
        ("panorama", "cosine"),
        ("symmetry", "edge 0.5, semantic 0.25"),
        ("models", "demo · demo"),
    ]
    assert shown_settings({"width": 64}) == [("size", "64×?")]
    assert shown_settings({"init_weight": 0.3, "edge_symmetry": "x"}) == []
    config = GenerationConfig.from_dict({**stored, "prompts": "a door | fog:-0.5"})
    assert parameters_line(config) == (
        "a door\nNegative prompt: fog:-0.5\nSteps: 12, Sampler: VQGAN+CLIP Adam, Seed: 3,"
        " Size: 64x32, Model: demo, CLIP: demo, Lr: 0.025, Cutn: 4, Init: door.png,"
        " Init weight: 0.3, Panorama: cosine, Symmetry edge: 0.5, Symmetry semantic: 0.25"
    )


def test_the_details_panel_shows_the_rows_but_the_seed_in_its_head():
    from doorways_tui.store import Image, Job, Theme, Variant
    from doorways_tui.tui.widgets.details import Details
    from doorways_tui.workstation.browse import ImageDetail

    def record(cls: type, **given: object):  # the fields the panel reads; None elsewhere
        return cls(**{f.name: given.get(f.name) for f in dataclasses.fields(cls)})

    config = {"width": 64, "height": 32, "seed": 3, "edge_symmetry": 0.5, "clip": "demo"}
    detail = ImageDetail(
        record(Image, id=1, kind="final", note=""),
        record(Job, seed=3, seconds=2.5),
        record(Variant, prompt="a door", style=""),
        record(Theme, name="doors"),
        config,
    )
    console = Console(width=80, record=True)
    console.print(Details()._table(detail))
    lines = [" ".join(line.split()) for line in console.export_text().splitlines()]
    assert "size 64×32" in lines and "symmetry edge 0.5" in lines
    assert "models ? · demo" in lines
    assert not any(line.startswith("seed") for line in lines)


# -- one duration, one prompt-weight rule ----------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "?"), (-4, "0s"), (0, "0s"), (59.9, "59s"), (200, "3m20s"), (7500, "2h05m")],
)
def test_one_duration(seconds, text):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    "prompt",
    ["heaven | hell:-0.5", "gate: of dawn", "a: 2.5e-1 | b:.5 | c:1.", "x:y:3", "only:"],
)
def test_prompt_edits_and_the_engine_read_weights_alike(prompt):
    edited = [
        (text, float(weight[1:]) if weight else 1.0) for text, weight in split_prompts(prompt)
    ]
    assert edited == [(p.text, p.weight) for p in parse_prompts(prompt)]
    again = apply_modifiers(prompt, [modifier("wild")])
    assert [p.weight for p in parse_prompts(again)] == [p.weight for p in parse_prompts(prompt)]
