"""The PNG metadata other tools read: the real sd-parsers library, a tEXt-only reader (as
Civitai's exifr), the round trip back into a config, and the older Doorways layout."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from doorways_engine.config import GenerationConfig, Prompt, parse_prompts
from doorways_engine.errors import ConfigError
from doorways_engine.images import parameters_line, save_png, software
from doorways_engine.parameters import config_from_parameters, prompt_spec
from doorways_tui.core.png import png_metadata, png_parameters

sd_parsers = pytest.importorskip("sd_parsers")  # the test extra; skipped only where absent

BASE = {"width": 64, "height": 32, "steps": 12, "seed": 3, "vqgan": "demo", "clip": "demo"}
CASES = {
    "plain": {"prompts": "entrance to the forest realm", "seed": 2**40},
    "panorama": {
        "prompts": "heaven:2 | a door: open | hell:0.5",
        "panorama": "cosine",
        "edge_symmetry": 0.5,
        "width": 128,
    },
    "negative": {"prompts": "a door | fog:-0.5 | figures:-1", "style": "by James Gurney"},
    "non-ascii": {"prompts": "門 to the realm | café:1.5 | ghosts 幽霊:-1"},
    "latin-1": {"prompts": "porte de l'été, à l'aube"},
}


def _config(name: str) -> GenerationConfig:
    return GenerationConfig.from_dict({**BASE, **CASES[name]})


def _write(tmp_path: Path, name: str) -> Path:
    config = _config(name)
    return save_png(tmp_path / f"{name}.png", Image.new("RGB", (config.width, config.height)), config)


def text_chunks_only(path: Path) -> dict[str, str]:
    """What a reader of tEXt chunks alone sees (exifr, as Civitai uses it): the PNG's
    chunks walked by hand, iTXt and zTXt ignored."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    texts, at = {}, 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length : at + 12 + length])[0] == zlib.crc32(
            kind + body
        )
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            texts[key.decode("latin-1")] = value.decode("latin-1")
        at += 12 + length
    return texts


@pytest.mark.parametrize("name", CASES)
def test_sd_parsers_reads_every_doorways_png(tmp_path, name):
    config = _config(name)
    info = sd_parsers.ParserManager().parse(_write(tmp_path, name))
    assert info is not None, "sd-parsers found no parameters"
    (sampler,) = info.samplers
    prompts = config.prompt_list()
    assert sampler.name == "VQGAN+CLIP Adam"
    assert [p.value for p in sampler.prompts] == [
        " | ".join(prompt_spec(p) for p in prompts if p.weight >= 0)
    ]
    negative = [prompt_spec(p) for p in prompts if p.weight < 0]
    assert [p.value for p in sampler.negative_prompts] == ([" | ".join(negative)] if negative else [])
    assert sampler.parameters["seed"] == str(config.seed)
    assert sampler.parameters["steps"] == "12"
    assert info.metadata["Size"] == f"{config.width}x{config.height}"
    assert sampler.model.name == "demo"


@pytest.mark.parametrize("name", CASES)
def test_a_text_chunk_reader_sees_the_parameters_and_the_software(tmp_path, name):
    texts = text_chunks_only(_write(tmp_path, name))
    assert texts["Software"] == software() and software().startswith("Doorways")
    params = texts["parameters"]
    assert params.splitlines()[-1].startswith("Steps: 12, Sampler: VQGAN+CLIP Adam, Seed: ")
    if name == "non-ascii":  # beyond Latin-1: escaped in tEXt, exact in the iTXt after it
        assert "\\u9580 to the realm | caf\u00e9:1.5" in params
        assert png_parameters(tmp_path / f"{name}.png") == parameters_line(_config(name))
    else:
        assert params == parameters_line(_config(name))


@pytest.mark.parametrize("name", CASES)
def test_the_parameters_read_back_give_the_same_prompts_weights_and_settings(tmp_path, name):
    config = _config(name)
    back = config_from_parameters(png_parameters(_write(tmp_path, name)))
    positive = [p for p in config.prompt_list() if p.weight >= 0]
    negative = [p for p in config.prompt_list() if p.weight < 0]
    assert back.prompt_list() == positive + negative
    for key in ("width", "height", "steps", "seed", "vqgan", "clip", "panorama", "edge_symmetry"):
        assert getattr(back, key) == getattr(config, key), key


def test_the_prompt_line_pastes_back_as_separate_weighted_prompts():
    config = _config("panorama")
    line = parameters_line(config).splitlines()[0]
    assert line == "heaven:2 | a door: open | hell:0.5"
    assert GenerationConfig(prompts=line).prompt_list() == config.prompt_list()


def test_a_prompt_with_a_stop_step_writes_it_as_the_public_scripts_do():
    stopped = Prompt("a door", 1.0, 0.5)
    assert prompt_spec(stopped) == "a door:1:0.5"
    assert prompt_spec(Prompt("a door", 1.0)) == "a door"
    assert parse_prompts(prompt_spec(stopped)) == [stopped]  # pastes back


def test_an_a1111_negative_prompt_reads_as_weight_minus_one():
    text = "a door\nNegative prompt: blurry, figures\nSteps: 20, Sampler: Euler a, Seed: 7, Size: 64x48"
    config = config_from_parameters(text)
    assert config.prompt_list() == [Prompt("a door"), Prompt("blurry, figures", -1.0)]
    assert (config.steps, config.seed, config.width, config.height) == (20, 7, 64, 48)


@pytest.mark.parametrize(
    "text",
    ["", "just a prompt", "a door\nSteps: many, Sampler: x, Seed: 1", "\nSteps: 3, Seed: 1, Size: 8x8"],
)
def test_text_that_is_not_parameters_is_one_config_error(text):
    with pytest.raises(ConfigError):
        config_from_parameters(text)


def _old_file(tmp_path: Path, *, with_json: bool) -> Path:
    """A PNG as Doorways wrote it before: iTXt, prompts joined with "; "."""
    config = GenerationConfig.from_dict({**BASE, "prompts": "a door | fog:-0.5"})
    info = PngImagePlugin.PngInfo()
    info.add_itxt(
        "parameters",
        "a door; fog:-0.5\nSize: 64x32, Steps: 12, Lr: 0.025, Seed: 3, Cutn: 32,"
        " Symmetry: edge 0.5, Models: demo / demo",
    )
    if with_json:
        info.add_itxt("doorways", f'{{"config": {config.to_json()}}}')
    path = tmp_path / "old.png"
    Image.new("RGB", (64, 32)).save(path, pnginfo=info)
    return path


def test_old_files_still_read(tmp_path):
    path = _old_file(tmp_path, with_json=True)
    assert png_metadata(path)["config"]["prompts"] == "a door | fog:-0.5"
    back = config_from_parameters(png_parameters(path))
    assert back.prompt_list() == [Prompt("a door"), Prompt("fog", -0.5)]
    assert (back.vqgan, back.clip, back.steps, back.seed, back.width) == ("demo", "demo", 12, 3, 64)


def test_a_doorways_png_without_its_json_chunk_reads_from_its_parameters(tmp_path):
    config = _config("negative")
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", parameters_line(config))
    Image.new("RGB", (64, 32)).save(tmp_path / "stripped.png", pnginfo=info)
    meta = png_metadata(tmp_path / "stripped.png")
    assert GenerationConfig.from_dict(meta["config"]).prompt_list() == config.prompt_list()
    assert png_metadata(_old_file(tmp_path, with_json=False)) == {}  # not ours to guess
    foreign = PngImagePlugin.PngInfo()
    foreign.add_text("parameters", "a cat\nSteps: 20, Sampler: Euler a, Seed: 1, Size: 8x8")
    Image.new("RGB", (8, 8)).save(tmp_path / "a1111.png", pnginfo=foreign)
    assert png_metadata(tmp_path / "a1111.png") == {}
