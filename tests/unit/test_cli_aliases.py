"""The public VQGAN-CLIP scripts' flags (``-p``, ``-i``, ``-s W H``, ``-sd``...) are aliases
of Doorways' own, declared once with each field's ``Option``: a tutorial's command line
parses to the same config as the long form."""

from __future__ import annotations

import dataclasses

import pytest

from doorways_engine.config import GenerationConfig
from doorways_engine.options import option
from doorways_tui.cli import build_parser, main
from doorways_tui.cli.options import config_from_args

TUTORIAL = ["-p", "a | b", "-i", "2", "-s", "64", "64", "-sd", "3", "-o", "out.png"]
LONG = ["a | b", "--steps", "2", "--size", "64x64", "--seed", "3", "--output", "out.png"]


def _config(*argv: str) -> tuple[GenerationConfig, object]:
    args = build_parser().parse_args(list(argv))
    return config_from_args(args), args


def test_a_tutorial_command_line_parses_to_the_right_config():
    config, args = _config("generate", *TUTORIAL, "--models", "demo")
    assert (config.prompts, config.steps, config.width, config.height, config.seed) == (
        "a | b",
        2,
        64,
        64,
        3,
    )
    assert [p.text for p in config.prompt_list()] == ["a", "b"]
    assert (config.vqgan, config.clip, args.output) == ("demo", "demo", "out.png")
    assert config == _config("generate", *LONG, "--models", "demo")[0]


@pytest.mark.parametrize(
    ("short", "long", "field", "value"),
    [
        ("-lr", "--lr", "lr", 0.1),
        ("-cuts", "--cutn", "cutn", 8),
        ("-cutp", "--cut-pow", "cut_pow", 2.0),
        ("-se", "--preview-every", "preview_every", 5),
        ("-iw", "--init-weight", "init_weight", 0.5),
        ("-m", "--clip", "clip", "ViT-B/16"),
        ("-conf", "--vqgan-config", "vqgan_config", "x.yaml"),
        ("-ckpt", "--vqgan-checkpoint", "vqgan_checkpoint", "x.ckpt"),
    ],
)
def test_each_alias_sets_its_field_like_the_long_flag(short, long, field, value):
    for flag in (short, long):
        config, _ = _config("generate", "door", flag, str(value))
        assert getattr(config, field) == value


def test_init_image_alias_checks_the_file_like_the_long_flag(tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "start.png"
    Image.new("RGB", (8, 8)).save(image)
    config, _ = _config("generate", "door", "-ii", str(image))
    assert config.init_image == str(image.resolve())
    code = main(["generate", "door", "-ii", str(tmp_path / "missing.png")])
    assert code == 2
    missing = tmp_path / "missing.png"
    assert capsys.readouterr().err == f"doorways: error: --init-image {missing}: does not exist\n"


def test_queue_add_takes_the_aliases_too():
    config, args = _config("queue", "add", "-p", "door", "-sd", "9", "-s", "128", "64")
    assert (args.prompt, config.seed, config.width, config.height) == ("door", 9, 128, 64)


def test_a_prompt_given_as_argument_and_flag_is_one_usage_line(capsys):
    assert main(["generate", "door", "-p", "window"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("doorways: error: argument -p: given twice") and err.count("\n") == 1


def test_no_prompt_at_all_is_still_refused(capsys):
    assert main(["generate", "--models", "demo", "-o", "x.png"]) == 2
    assert capsys.readouterr().err == (
        "doorways: error: no prompt given: pass some text (or an image prompt)\n"
    )


def test_s_takes_exactly_two_numbers(capsys):
    assert main(["generate", "door", "-s", "64"]) == 2
    assert "-s: expected 2 arguments" in capsys.readouterr().err


def test_every_alias_is_on_the_command_line_and_none_clashes():
    """Each declared alias reaches ``generate --help``; argparse refuses a clash when the
    parser is built, so building it is the clash check."""
    aliases = {a for f in dataclasses.fields(GenerationConfig) for a in option(f).aliases}
    assert {"-p", "-i", "-s", "-ii", "-iw", "-cuts", "-lr", "-se", "-sd"} <= aliases
    generate = build_parser()._subparsers._group_actions[0].choices["generate"]
    assert aliases <= set(generate._option_string_actions)
