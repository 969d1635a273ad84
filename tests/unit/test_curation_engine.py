"""Judging an image with CLIP (doorways_engine.curation) against a fake CLIP whose
embeddings are constructed, so each probe has a known winner; and the probe settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from doorways_engine import GenerationConfig
from doorways_engine.curation import (
    ImageEmbedding,
    SidePrompts,
    curate,
    image_views,
    judge,
    probabilities,
    side_prompts,
)
from doorways_engine.errors import ConfigError
from doorways_engine.probes import Probes

# The fake CLIP sees only colour: an image embeds as its mean (R, G, B), and each text as
# the colour it names. So a red picture is "one doorway", a green one "people", a blue one
# "empty".
TEXTS = {
    "a painting of one doorway": (1.0, 0.0, 0.0),
    "a painting of two doorways": (0.6, 0.0, 0.8),
    "a painting of three doorways": (0.0, 0.6, 0.8),
    "people standing in a doorway": (0.0, 1.0, 0.0),
    "a crowd": (0.1, 0.9, 0.0),
    "an empty, silent landscape": (0.0, 0.0, 1.0),
    "red door": (1.0, 0.0, 0.0),
    "blue door": (0.0, 0.0, 1.0),
}
PROBES = Probes(
    doors=((1, "a painting of one doorway"), (2, "a painting of two doorways"),
           (3, "a painting of three doorways")),
)  # fmt: skip


class FakeClip(torch.nn.Module):
    def __init__(self, scale: float = 100.0) -> None:
        super().__init__()
        self.logit_scale = torch.nn.Parameter(torch.tensor(scale).log())
        self.visual = type("Visual", (), {"input_resolution": 8})()


class FakeModels:
    """What ``curate`` uses of ``doorways_engine.Models``; counts the image forwards."""

    def __init__(self, scale: float = 100.0) -> None:
        self.clip = FakeClip(scale)
        self.device = torch.device("cpu")
        self.cut_size = 8
        self.forwards: list[int] = []

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        self.forwards.append(len(x))
        return x.mean(dim=(2, 3)) + 1e-6  # (N, 3)

    def embed_text(self, text: str) -> torch.Tensor:
        return torch.tensor(TEXTS[text]) * 3.0  # any length: curate normalises


def picture(*colours: tuple[int, int, int], height: int = 32) -> Image.Image:
    """Vertical bands of the colours, left to right, each ``height`` wide."""
    image = Image.new("RGB", (height * len(colours), height))
    for n, colour in enumerate(colours):
        image.paste(colour, (n * height, 0, (n + 1) * height, height))
    return image


def config(**changes) -> GenerationConfig:
    return GenerationConfig(**{"prompts": "red door", "vqgan": "demo", "clip": "demo", **changes})


@pytest.mark.parametrize(
    ("colour", "doors"), [((255, 0, 0), 1), ((150, 0, 200), 2), ((0, 150, 200), 3)]
)
def test_the_winning_door_probe_is_the_suggested_count(colour, doors):
    models = FakeModels()
    _, judged = curate(picture(colour), models, config(), PROBES)
    assert judged.doors == doors
    assert judged.doors_confidence > 0.9  # CLIP's logit scale (100) makes a clear winner
    assert sum(judged.scores[t] for _, t in PROBES.doors) == pytest.approx(1.0)
    assert models.forwards == [1]  # one forward: a square image has no halves


def test_figures_are_likely_on_the_figure_probes_and_unlikely_on_the_empty_one():
    _, crowd = curate(picture((0, 255, 0)), FakeModels(), config(), PROBES)
    assert crowd.figures is True and crowd.figures_confidence > 0.99
    _, empty = curate(picture((0, 0, 255)), FakeModels(), config(), PROBES)
    assert empty.figures is False and empty.figures_confidence > 0.99


def test_a_low_logit_scale_gives_a_low_confidence():
    _, sure = curate(picture((255, 0, 0)), FakeModels(100.0), config(), PROBES)
    _, unsure = curate(picture((255, 0, 0)), FakeModels(2.0), config(), PROBES)
    assert sure.doors == unsure.doors == 1
    assert unsure.doors_confidence < 0.7 < 0.99 < sure.doors_confidence


def test_a_panorama_s_halves_match_their_own_prompts_in_one_forward():
    models = FakeModels()
    panorama = config(prompts="red door | blue door", panorama="cosine", width=128, height=64)
    embedding, judged = curate(picture((255, 0, 0), (0, 0, 255)), models, panorama, PROBES)
    assert models.forwards == [3]  # whole, left, right: one batch
    assert embedding.left is not None and embedding.right is not None
    assert judged.match_left == pytest.approx(1.0, abs=1e-3)
    assert judged.match_right == pytest.approx(1.0, abs=1e-3)
    _, swapped = curate(picture((0, 0, 255), (255, 0, 0)), FakeModels(), panorama, PROBES)
    assert swapped.match_left == pytest.approx(0.0, abs=1e-3)
    assert swapped.match_right == pytest.approx(0.0, abs=1e-3)
    # not a panorama: no side prompts, and the whole is matched against the prompt
    _, plain = curate(picture((255, 0, 0)), FakeModels(), config(), PROBES)
    assert (plain.match_left, plain.match_right) == (None, None)
    assert plain.match_whole == pytest.approx(1.0, abs=1e-3)


def test_side_prompts_follow_the_panorama_and_skip_negatives():
    assert side_prompts(config(prompts="a | b:-1 | c", panorama="cosine")) == SidePrompts(
        (("a", 1.0), ("c", 1.0)), left="a", right="c"
    )
    assert side_prompts(config(prompts="a | c")).left is None


def test_views_squeeze_the_whole_and_split_a_wide_image():
    assert image_views(picture((1, 2, 3)), 8).shape == (1, 3, 8, 8)
    views = image_views(picture((255, 0, 0), (0, 0, 255), (0, 0, 255)), 8)
    assert views.shape == (3, 3, 8, 8)
    assert views[1, 0].mean() > 0.6 and views[2, 2].mean() > 0.9  # left reddish, right blue


def test_no_probes_no_suggestion_but_the_match():
    embedding = ImageEmbedding(torch.tensor([1.0, 0.0, 0.0]))
    judged = judge(
        embedding,
        embed_text=lambda t: torch.tensor(TEXTS[t]),
        scale=100.0,
        probes=Probes(doors=(), figures=(), empty=()),
        prompts=SidePrompts((("red door", 1.0),)),
    )
    assert (judged.doors, judged.figures, judged.scores) == (None, None, {})
    assert judged.match_whole == pytest.approx(1.0)


def test_probabilities_are_a_softmax_of_scaled_cosines():
    image = torch.tensor([1.0, 0.0])
    texts = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    p = probabilities(image, texts, 10.0)
    assert p.tolist() == pytest.approx([1 / (1 + torch.e**-10), 1 / (1 + torch.e**10)])


# -- the probes an artist sets ---------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_the_curation_table_sets_the_probes_and_changes_the_digest(tmp_path):
    from doorways_tui.core.settings import load_settings

    default = load_settings(write(tmp_path, "")).curation
    assert default == Probes() and dict(default.doors)[2] == "a painting of two doorways"
    assert "an empty, silent landscape" in default.empty
    toml = (
        '[curation]\ndoors = {0 = "a wall", 1 = "a door", 2 = "two doors"}\n'
        'figures = ["a crowd"]\nduplicates = 0.9\n'
    )
    mine = load_settings(write(tmp_path, toml)).curation
    assert mine.doors == ((0, "a wall"), (1, "a door"), (2, "two doors"))
    assert mine.duplicates == 0.9 and mine.digest() != default.digest()
    listed = load_settings(write(tmp_path, '[curation]\ndoors = ["one", "two"]\n')).curation
    assert listed.doors == ((1, "one"), (2, "two"))
    # the threshold is not a probe: changing it stales nothing
    assert Probes(duplicates=0.5).digest() == Probes().digest()


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('doors = ["only one"]', "two counts or more"),
        ('doors = {12 = "x"}', "not a door count"),
        ("doors = 3", "list of texts"),
        ('figures = ["a crowd"]\nempty = []', "go together"),
        ('figures = "a crowd"', "list of texts"),
        ('doors = ["a\\u001b[31m", "b"]', "control character"),
        ("duplicates = 2", "at most 1"),
        ("colour = 1", "unknown curation setting"),
    ],
)
def test_a_bad_curation_table_is_one_config_error(tmp_path, toml, says):
    from doorways_tui.core.settings import load_settings

    path = write(tmp_path, f"[curation]\n{toml}\n")
    with pytest.raises(ConfigError, match=says) as err:
        load_settings(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
