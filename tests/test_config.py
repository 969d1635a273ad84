import pytest

from engine.config import (
    GenerationConfig,
    Prompt,
    format_prompts,
    parse_prompts,
    parse_size,
    snap_size,
)
from engine.errors import ConfigError


def test_parse_prompts_weights_and_colons():
    assert parse_prompts("heaven | hell:-0.5 | gate: of dawn |  ") == [
        Prompt("heaven", 1.0),
        Prompt("hell", -0.5),
        Prompt("gate: of dawn", 1.0),
    ]
    assert parse_prompts("a:2.5e-1") == [Prompt("a", 0.25)]
    assert format_prompts(parse_prompts("a | b:-1")) == "a | b:-1"


def test_style_is_appended_to_positive_prompts_only():
    cfg = GenerationConfig(prompts="entrance to heaven | fog:-1", style="by James Gurney")
    assert [p.text for p in cfg.prompt_list()] == ["entrance to heaven, by James Gurney", "fog"]


def test_sizes():
    assert parse_size("512x288") == (512, 288)
    assert parse_size("300") == (300, 300)
    assert snap_size(520, 300, 16) == (512, 288)
    assert snap_size(5, 5, 16) == (16, 16)
    with pytest.raises(ConfigError, match="WIDTHxHEIGHT"):
        parse_size("big")


def test_round_trip_and_unknown_keys():
    cfg = GenerationConfig(prompts="a | b", panorama="cosine", seed=7)
    assert GenerationConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ConfigError, match="unknown setting.*colour"):
        GenerationConfig.from_dict({"prompts": "a", "colour": 1})
    with pytest.raises(ConfigError, match="not valid JSON"):
        GenerationConfig.from_json("{nope")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prompts": " | "}, "no prompt"),
        ({"lr": 0}, "learning rate"),
        ({"cutn": 0}, "cutn"),
        ({"panorama": "diagonal"}, "panorama"),
        ({"semantic_symmetry": 0.1, "cutn": 7}, "pairs"),
        ({"tone_symmetry": -1}, "tone_symmetry"),
        ({"size_weighting": "huge"}, "size weighting"),
    ],
)
def test_bad_settings_are_named(changes, message):
    with pytest.raises(ConfigError, match=message):
        GenerationConfig(**changes)
