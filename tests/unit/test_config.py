import dataclasses
import json
import math
import typing

import pytest

from doorways_engine.config import (
    MAX_CUTN,
    MAX_STEPS,
    SQLITE_INT_MAX,
    GenerationConfig,
    Prompt,
    format_prompts,
    parse_prompts,
    parse_size,
    snap_size,
    split_image_prompt,
)
from doorways_engine.errors import ConfigError


def test_parse_prompts_weights_and_colons():
    assert parse_prompts("heaven | hell:-0.5 | gate: of dawn |  ") == [
        Prompt("heaven", 1.0),
        Prompt("hell", -0.5),
        Prompt("gate: of dawn", 1.0),
    ]
    assert parse_prompts("a:2.5e-1") == [Prompt("a", 0.25)]
    assert format_prompts(parse_prompts("a | b:-1")) == "a | b:-1"


@pytest.mark.parametrize(
    ("tail", "text", "weight"),
    [
        ("0.5", "door.png", 0.5),
        (" -2e-1", "door.png", -0.2),
        ("1_0", "door.png:1_0", 1.0),  # float() reads 10; it is not a weight
        ("0x1", "door.png:0x1", 1.0),
        ("dawn", "door.png:dawn", 1.0),
        ("infinity", "door.png", math.inf),  # weight-looking: refused by the check
        ("-Inf", "door.png", -math.inf),
        ("nan", "door.png", math.nan),
    ],
)
def test_one_weight_rule_for_prompts_and_image_prompts(tail, text, weight):
    spec = f"door.png:{tail}"
    [prompt] = parse_prompts(spec)
    assert repr(split_image_prompt(spec)) == repr((prompt.text, prompt.weight))
    assert repr(split_image_prompt(spec)) == repr((text, weight))
    if not math.isfinite(weight):
        for changes, label in [
            ({"prompts": spec}, "prompt"),
            ({"image_prompts": [spec]}, "image prompt"),
        ]:
            with pytest.raises(ConfigError, match=f"^{label} 'door.png' has weight {weight:g}"):
                GenerationConfig(**changes)


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
        ({"lr": 0}, "lr must be more than 0 and less than 10"),
        ({"cutn": 0}, "cutn"),
        ({"panorama": "diagonal"}, "panorama"),
        ({"semantic_symmetry": 0.1, "cutn": 7}, "pairs"),
        ({"tone_symmetry": -1}, "tone_symmetry"),
        ({"size_weighting": "huge"}, "size_weighting"),
    ],
)
def test_bad_settings_are_named(changes, message):
    with pytest.raises(ConfigError, match=message):
        GenerationConfig(**changes)


# -- every number finite and in range, every field its type ---------------------------------

HINTS = typing.get_type_hints(GenerationConfig)
FLOATS = [name for name, hint in HINTS.items() if hint is float]
INTS = [name for name, hint in HINTS.items() if hint is int]


def test_every_number_field_declares_its_range():
    """The range lives in one place, the field's metadata; none is forgotten."""
    for f in dataclasses.fields(GenerationConfig):
        if HINTS[f.name] in (int, float):
            assert "bounds" in f.metadata, f.name


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 10**400])
@pytest.mark.parametrize("name", FLOATS)
def test_no_float_field_takes_nan_or_infinity(name, value):
    with pytest.raises(ConfigError, match=f"^{name} must be a finite number"):
        GenerationConfig(**{name: value})


@pytest.mark.parametrize("value", ["abc", [1], None, True, {"a": 1}])
@pytest.mark.parametrize("name", FLOATS + INTS)
def test_wrong_types_are_named(name, value):
    with pytest.raises(ConfigError, match=f"^{name} must be a"):
        GenerationConfig(**{name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [("prompts", 5), ("style", ["a"]), ("vqgan", None), ("init_image", 3)]
    + [("image_prompts", "a.png"), ("image_prompts", [1])],
)
def test_wrong_types_of_text_fields_are_named(name, value):
    with pytest.raises(ConfigError, match=f"^{name} must be"):
        GenerationConfig(**{name: value})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cut_pow": -1}, "cut_pow must be from 0 to 10"),
        ({"symmetry_blur": -0.5}, "symmetry_blur must be from 0"),
        ({"init_blur": -2}, "init_blur must be from 0"),
        ({"seed": -1}, "seed must be from 0 to"),
        ({"seed": SQLITE_INT_MAX + 1}, "seed must be from 0 to 9223372036854775807"),
        ({"steps": MAX_STEPS + 1}, "steps must be from 0 to 100000, got 100001 .more is absurd"),
        ({"steps": 10**30}, "steps must be from 0 to 100000"),
        ({"cutn": MAX_CUTN + 2}, "cutn must be from 1 to 1024"),
        ({"width": 10**20}, "width must be from 1 to"),
        ({"init_weight": 1e6}, "init_weight must be from 0 to 100"),
        ({"aug_blur": 1.5}, "aug_blur must be from 0 to 1"),
        ({"report_every": 0}, "report_every must be from 1"),
        ({"start_step": -1}, "start_step must be from 0"),
    ],
)
def test_out_of_range_values_are_refused(changes, message):
    with pytest.raises(ConfigError, match=message):
        GenerationConfig(**changes)


def test_the_ends_of_each_range_are_accepted_and_ints_become_floats():
    cfg = GenerationConfig(steps=MAX_STEPS, seed=SQLITE_INT_MAX, cutn=MAX_CUTN, lr=1, cut_pow=0)
    assert (cfg.steps, cfg.seed, cfg.cutn) == (MAX_STEPS, SQLITE_INT_MAX, MAX_CUTN)
    assert type(cfg.lr) is float and type(cfg.cut_pow) is float
    assert GenerationConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prompts": "a:1e999"}, "prompt 'a' has weight inf"),
        ({"prompts": "a | b:-1000"}, "prompt 'b' has weight -1000"),
        ({"image_prompts": ["door.png:nan"]}, "image prompt 'door.png' has weight nan"),
        ({"image_prompts": ["door.png:-inf"]}, "image prompt 'door.png' has weight -inf"),
    ],
)
def test_prompt_weights_are_finite_and_moderate(changes, message):
    with pytest.raises(ConfigError, match=message):
        GenerationConfig(**changes)


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        (
            "prompts",
            "door\x1b]0;pwned\x07",
            r"prompt contains a control character \(U\+001B\) at position 5",
        ),
        ("prompts", "a\x7fb", r"\(U\+007F\) at position 2"),
        ("prompts", "a\x9b2J", r"\(U\+009B\)"),
        ("prompts", "a\rb", r"\(U\+000D\)"),
        ("prompts", "gate\u202eevil", r"\(U\+202E RIGHT-TO-LEFT OVERRIDE\) at position 5"),
        ("style", "by \u2066x", r"^style contains a control character \(U\+2066"),
    ],
)
def test_control_and_bidi_characters_are_refused_in_typed_text(field, text, message):
    with pytest.raises(ConfigError, match=message):
        GenerationConfig(**{field: text})


def test_tabs_newlines_and_joiners_are_fine_in_text():
    cfg = GenerationConfig(prompts="door\tto\nheaven | family \U0001f468\u200d\U0001f469")
    assert len(cfg.prompt_list()) == 2


def test_stored_json_never_holds_nan():
    """A stored config SQLite cannot read stops every claim, so the writer refuses it, and
    a reader of the old writer's rows names the field."""
    cfg = GenerationConfig()
    cfg.edge_symmetry = math.nan  # bypassing the door
    with pytest.raises(ConfigError, match="cannot be stored"):
        cfg.to_json()
    old_row = json.dumps({"prompts": "a", "edge_symmetry": math.nan})
    assert "NaN" in old_row
    with pytest.raises(ConfigError, match="edge_symmetry must be a finite number, got nan"):
        GenerationConfig.from_json(old_row)
    with pytest.raises(ConfigError, match="nested too deeply"):
        GenerationConfig.from_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="not valid JSON"):
        GenerationConfig.from_json('{"steps": ' + "9" * 5000 + "}")
    with pytest.raises(ConfigError, match="must be an object"):
        GenerationConfig.from_json("[1, 2]")
    with pytest.raises(ConfigError, match="must be a table"):
        GenerationConfig.from_dict([("prompts", "a")])
