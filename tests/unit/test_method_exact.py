"""The method, exactly (issue 14): size weights as a weighted mean, the smallest cutout,
per-prompt stops, fp32 geometry under bf16, image prompts cropped and placed, and the
edge-symmetry term end to end."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from doorways_engine import ConfigError, GenerationConfig, generate
from doorways_engine.config import (
    MAX_DISTANCE,
    ImagePrompt,
    Prompt,
    parse_image_prompt,
    parse_prompts,
)
from doorways_engine.cutouts import make_cutouts, sample_cutouts, smallest_cutout
from doorways_engine.images import parameters_line, pil_to_tensor, read_png_metadata, save_png
from doorways_engine.loop import draw_cutouts, image_losses
from doorways_engine.losses import (
    edge_symmetry_loss,
    mirror_score,
    side_weights,
    spherical_distance,
    tone_symmetry_loss,
)
from doorways_engine.parameters import config_from_parameters
from doorways_engine.targets import Targets, build_targets, image_prompt_crops
from doorways_tui.cli import UsageError, build_parser
from doorways_tui.cli.options import config_from_args
from doorways_tui.themes import expand, parse_theme
from tests.conftest import tiny_config

D = 16


def cutouts(*, n=64, width=768, height=384, cut_min=0.25, cut_size=224, cut_pow=1.0, seed=0):
    return sample_cutouts(
        torch.Generator().manual_seed(seed),
        n=n,
        width=width,
        height=height,
        cut_min=cut_min,
        cut_size=cut_size,
        cut_pow=cut_pow,
        rotate_deg=10,
        skew=0.1,
        blur_prob=0.25,
        mirrored=False,
    )


def targets(placed, weights, stops=None, glob=None, glob_w=(), glob_side=None) -> Targets:
    placed = torch.as_tensor(placed, dtype=torch.float32).reshape(-1, D)
    glob = torch.zeros(0, D) if glob is None else torch.as_tensor(glob).reshape(-1, D)
    stops = [math.nan] * len(weights) if stops is None else stops
    return Targets(
        placed=placed,
        placed_w=torch.tensor(weights, dtype=torch.float32),
        placed_stop=torch.tensor(stops, dtype=torch.float32),
        glob=glob,
        glob_w=torch.tensor(glob_w, dtype=torch.float32),
        glob_stop=torch.full((glob.shape[0],), math.nan),
        glob_side=glob_side or [None] * glob.shape[0],
    )


def unit(seed: int, n: int = 1) -> torch.Tensor:
    return torch.nn.functional.normalize(
        torch.randn(n, D, generator=torch.Generator().manual_seed(seed)), dim=-1
    )


# -- 1. size weights: the weighted mean is a mean ------------------------------------------


@pytest.mark.parametrize("weighting", ["uniform", "layout", "detail", "layout-to-detail"])
@pytest.mark.parametrize("cut_pow", [0.5, 1.0, 2.0])
def test_prompt_loss_scale_does_not_depend_on_cut_pow_or_the_band(weighting, cut_pow):
    """Every view at the same distance: the loss is that distance, whatever the size
    weighting and however the sizes fell (before, its scale was sum(weights) / n)."""
    params = cutouts(n=32, cut_pow=cut_pow, seed=3)
    text = unit(1)
    emb = unit(2).expand(params.n, D)
    config = GenerationConfig(size_weighting=weighting, cut_pow=cut_pow)
    x = torch.zeros(1, 3, 384, 768)
    for progress in (0.0, 0.4, 1.0):
        loss = image_losses(
            emb, params, x, config=config, targets=targets(text, [1.0]), progress=progress
        )["prompt"]
        expected = spherical_distance(emb[:1], text)[0, 0]
        assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_weighted_prompt_loss_stays_between_the_nearest_and_farthest_view():
    params = cutouts(n=32, cut_pow=2.0, seed=4)
    text, emb = unit(1), unit(5, 32)
    dist = spherical_distance(emb, text)[:, 0]
    for weighting in ("layout", "detail"):
        config = GenerationConfig(size_weighting=weighting)
        loss = image_losses(
            emb, params, torch.zeros(1, 3, 384, 768), config=config,
            targets=targets(text, [1.0]), progress=0.0,
        )["prompt"]
        assert dist.min().item() <= loss.item() <= dist.max().item()


# -- 2. the smallest cutout -----------------------------------------------------------------


def test_smallest_cutout_rule():
    assert smallest_cutout(0, short=384, cut_size=224) == 224  # the default: CLIP's size
    assert smallest_cutout(0, short=128, cut_size=224) == 128  # or the short side
    assert smallest_cutout(0.25, short=384, cut_size=224) == 96  # a fraction (the old default)
    assert smallest_cutout(100, short=384, cut_size=224) == 100  # pixels
    assert smallest_cutout(1000, short=384, cut_size=224) == 384  # never above the short side
    assert smallest_cutout(0.001, short=64, cut_size=32) == 1  # never below a pixel


@pytest.mark.parametrize(("width", "height"), [(768, 384), (256, 256), (1024, 384)])
def test_default_cutouts_are_never_magnified(width, height):
    default = GenerationConfig().cut_min
    sizes = cutouts(n=512, width=width, height=height, cut_min=default).size
    assert sizes.min().item() >= 224 and sizes.max().item() <= min(width, height)
    old = cutouts(n=512, width=width, height=height, cut_min=0.25).size  # still reachable
    assert old.min().item() < 224 and old.min().item() >= 0.25 * min(width, height)


def test_the_loop_floors_cutouts_at_the_models_input_size():
    params = draw_cutouts(tiny_config(cutn=256), torch.Generator(), 96, 64, cut_size=32)
    assert params.size.min().item() >= 32
    small = draw_cutouts(tiny_config(cutn=256, cut_min=0.25), torch.Generator(), 96, 64, cut_size=32)
    assert small.size.min().item() < 32


def test_cut_min_is_a_flag_with_its_range_and_a_theme_setting():
    args = build_parser().parse_args(["generate", "door", "--cut-min", "0.25"])
    assert config_from_args(args).cut_min == 0.25
    args = build_parser().parse_args(["generate", "door", "--cut-min", "160"])
    assert config_from_args(args).cut_min == 160
    with pytest.raises(UsageError, match="cut_min must be from 0 to 16384"):
        build_parser().parse_args(["generate", "door", "--cut-min", "-1"])
    theme = parse_theme(
        'name = "T"\n[settings]\ncut_min = 0.25\n[[groups]]\nname = "G"\npairs = [["a", "b"]]\n',
        source="t.toml",
    )
    assert expand(theme)[0].config["cut_min"] == 0.25


# -- 3. per-prompt stops --------------------------------------------------------------------


def test_text_weight_stop_is_parsed_and_colons_in_text_stay():
    assert parse_prompts("entrance to heaven:1:0.5") == [Prompt("entrance to heaven", 1.0, 0.5)]
    assert parse_prompts("entrance: heaven") == [Prompt("entrance: heaven")]
    assert parse_prompts("entrance: heaven:2 | fog:-1:3") == [
        Prompt("entrance: heaven", 2.0),
        Prompt("fog", -1.0, 3.0),
    ]
    assert str(Prompt("a", 1.0, 0.5)) == "a:1:0.5"
    config = GenerationConfig(prompts="a:1:0.5", style="by X")
    assert config.prompt_list() == [Prompt("a, by X", 1.0, 0.5)]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("heaven:1:0.5:0.2", "ambiguous"),
        ("heaven::0.5", "ambiguous"),
        ("10:10:10", "ambiguous"),
        ("heaven:1:5", "stop 5"),
        ("heaven:1:-0.5", "stop -0.5"),
        ("heaven:1:nan", "stop nan"),
    ],
)
def test_ambiguous_or_impossible_stops_are_one_clear_error(spec, words):
    with pytest.raises(ConfigError, match=words) as info:
        GenerationConfig(prompts=spec)
    assert "\n" not in str(info.value)


def test_the_cli_refuses_an_ambiguous_prompt_in_one_line():
    with pytest.raises(ConfigError, match="ambiguous"):
        config_from_args(build_parser().parse_args(["generate", "a:1:2:3"]))


def _prompt_grad(stop: float, weight: float = 1.0) -> tuple[float, torch.Tensor]:
    text = unit(1)
    emb = unit(2, 8).requires_grad_(True)
    params = cutouts(n=8, width=64, height=64, cut_size=32)
    loss = image_losses(
        emb, params, torch.zeros(1, 3, 64, 64), config=GenerationConfig(),
        targets=targets(text, [weight], [stop]), progress=0.0,
    )["prompt"]
    loss.backward()
    return loss.item(), emb.grad


def test_a_prompt_below_its_stop_gets_no_gradient():
    dist = spherical_distance(unit(2, 8), unit(1))
    far_stop = dist.max().item() + 0.1  # every view is already closer than its stop
    near_stop = dist.min().item() - 0.1
    value_stopped, grad_stopped = _prompt_grad(far_stop)
    value_free, grad_free = _prompt_grad(math.nan)
    value_near, grad_near = _prompt_grad(near_stop)
    assert torch.count_nonzero(grad_stopped) == 0
    assert torch.count_nonzero(grad_free) > 0
    assert torch.allclose(grad_near, grad_free)  # a stop below every view changes nothing
    assert value_stopped == pytest.approx(value_free)  # the loss reported is the true one
    # a negative prompt stops pushing once the views are farther than its stop
    _, grad_neg = _prompt_grad(near_stop, weight=-1.0)
    assert torch.count_nonzero(grad_neg) == 0
    _, grad_neg_free = _prompt_grad(far_stop, weight=-1.0)
    assert torch.allclose(grad_neg_free, -grad_free)


def test_stops_reach_the_targets_and_the_png(demo_models, tmp_path):
    config = tiny_config(prompts="door:1:0.5 | fog:-0.5:3", panorama="linear")
    t = build_targets(config, demo_models)
    assert t.placed_stop.tolist() == [0.5] and t.glob_stop.tolist() == [3.0]
    path = save_png(tmp_path / "a.png", Image.new("RGB", (8, 8)), config)
    line = parameters_line(config)  # A1111's layout: negatives on their own line
    assert line.startswith("door:1:0.5\nNegative prompt: fog:-0.5:3\n")
    assert config_from_parameters(line).prompt_list() == config.prompt_list()
    assert read_png_metadata(path)["config"]["prompts"] == "door:1:0.5 | fog:-0.5:3"
    assert GenerationConfig.from_dict(read_png_metadata(path)["config"]).prompt_list() == [
        Prompt("door", 1.0, 0.5),
        Prompt("fog", -0.5, 3.0),
    ]


def test_stop_range_is_the_distance_range():
    a = torch.tensor([[1.0, 0.0]])
    assert spherical_distance(a, -a).item() == pytest.approx(MAX_DISTANCE, rel=1e-4)
    GenerationConfig(prompts=f"a:1:{MAX_DISTANCE}")  # the largest stop is allowed


# -- 4. precision -----------------------------------------------------------------------------


def test_bf16_autocast_cutouts_match_fp32():
    image = torch.rand(1, 3, 384, 768, generator=torch.Generator().manual_seed(0))
    params = cutouts(n=16, cut_min=0.25)
    fp32 = make_cutouts(image, params, cut_size=224)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = make_cutouts(image, params, cut_size=224)
        from_bf16_image = make_cutouts(image.bfloat16(), params, cut_size=224)
    assert bf16.dtype == torch.float32
    assert (bf16 - fp32).abs().max().item() < 1e-5
    # a bf16 image is sampled at the same fp32 positions: only its own rounding differs
    reference = make_cutouts(image.bfloat16().float(), params, cut_size=224)
    assert (from_bf16_image - reference).abs().max().item() < 1e-5


@pytest.mark.parametrize("term", [edge_symmetry_loss, tone_symmetry_loss])
def test_symmetry_terms_run_in_fp32_under_bf16_autocast(term):
    image = torch.rand(1, 3, 96, 160, generator=torch.Generator().manual_seed(1))
    fp32 = term(image, sigma=4.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = term(image, sigma=4.0)
    assert bf16.dtype == torch.float32
    assert bf16.item() == pytest.approx(fp32.item(), rel=1e-5)


# -- 5. image prompts -------------------------------------------------------------------------


def test_image_prompt_syntax_with_a_side():
    assert parse_image_prompt("door.png") == ImagePrompt("door.png")
    assert parse_image_prompt("door.png:0.5") == ImagePrompt("door.png", 0.5)
    assert parse_image_prompt("left:door.png:0.5") == ImagePrompt("door.png", 0.5, "left")
    assert parse_image_prompt("Right: door.png") == ImagePrompt("door.png", 1.0, "right")
    assert parse_image_prompt("./left:x.png") == ImagePrompt("./left:x.png")
    for spec in ("left:door.png:0.5", "right:door.png", "img:2:1", "door.png"):
        assert str(parse_image_prompt(spec)) == spec  # reads back as written


def test_the_cli_keeps_the_side_when_it_makes_the_path_absolute(tmp_path, monkeypatch):
    Image.new("RGB", (8, 8)).save(tmp_path / "door.png")
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["generate", "d", "--image-prompt", "left:door.png:0.5"])
    assert config_from_args(args).image_prompts == [f"left:{tmp_path / 'door.png'}:0.5"]


@pytest.mark.parametrize(("width", "height"), [(200, 100), (100, 300), (64, 64), (1, 1)])
def test_image_prompt_crops_are_squares_inside_the_image(width, height):
    crops = image_prompt_crops(width, height)
    assert len(crops) == 3
    short = min(width, height)
    for left, top, right, bottom in crops:
        assert right - left == bottom - top  # square: the aspect is kept, never squashed
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
    left, top, right, bottom = crops[0]
    assert right - left == short  # the cover crop: the centre square of the short side
    assert (left + right) / 2 == pytest.approx(width / 2, abs=1)


def test_image_prompts_embed_crops_not_a_squashed_image(demo_models, tmp_path):
    wide = Image.new("RGB", (128, 64), (200, 30, 30))
    wide.paste((30, 30, 200), (64, 0, 128, 64))  # left red, right blue
    wide.save(tmp_path / "wide.png")
    config = tiny_config(image_prompts=[f"{tmp_path / 'wide.png'}:0.6", f"right:{tmp_path / 'wide.png'}"])
    t = build_targets(config, demo_models)
    assert t.glob.shape[0] == 6  # three crops per image
    assert t.glob_w.tolist() == pytest.approx([0.2] * 3 + [1 / 3] * 3)
    assert t.glob_side == [None] * 3 + ["right"] * 3
    x = pil_to_tensor(wide)
    centre = torch.nn.functional.interpolate(
        x[:, :, :, 32:96], size=(32, 32), mode="bicubic", antialias=True
    ).clamp(0, 1)
    with torch.no_grad():
        assert torch.allclose(t.glob[0], demo_models.encode_image(centre)[0].float(), atol=1e-5)
        squashed = torch.nn.functional.interpolate(
            x, size=(32, 32), mode="bicubic", antialias=True
        ).clamp(0, 1)
        assert not torch.allclose(t.glob[1], t.glob[2], atol=1e-3)  # the two ends differ
        assert not torch.allclose(t.glob[0], demo_models.encode_image(squashed)[0], atol=1e-4)


def test_a_side_image_prompt_counts_only_on_its_side():
    x = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
    w = side_weights(x, [None, "left", "right"], "off")
    assert w[:, 0].tolist() == [1.0] * 5
    assert w[:, 1].tolist() == [1.0, 1.0, 0.5, 0.0, 0.0]
    assert w[:, 2].tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert side_weights(x, ["left"], "linear")[:, 0].tolist() == [1.0, 0.75, 0.5, 0.25, 0.0]
    # in the loss: an image prompt on the left is not pulled by views on the right
    params = cutouts(n=64, width=256, height=64, cut_min=0.25, cut_size=32)
    right = params.x_centre(256) > 0.75
    emb = unit(2, 64).requires_grad_(True)
    t = targets(torch.zeros(0, D), [], glob=unit(3), glob_w=[1.0], glob_side=["left"])
    loss = image_losses(
        emb, params, torch.zeros(1, 3, 64, 256), config=GenerationConfig(), targets=t,
        progress=0.0,
    )["global"]
    loss.backward()
    assert right.any() and torch.count_nonzero(emb.grad[right]) == 0
    assert torch.count_nonzero(emb.grad[~right]) > 0


def test_a_run_with_a_side_image_prompt(demo_models, tmp_path):
    Image.new("RGB", (40, 20), (10, 200, 10)).save(tmp_path / "green.png")
    cfg = tiny_config(prompts="a | b", panorama="cosine", image_prompts=[f"left:{tmp_path / 'green.png'}:0.5"], steps=2)
    result = generate(cfg, models=demo_models)
    assert "global" in result.losses and math.isfinite(result.losses["global"])


# -- 6. the edge-symmetry term, end to end -------------------------------------------------


def test_edge_term_alone_makes_the_edges_more_mirror_symmetric(demo_models):
    """Metric: mirror_score(edges=True) = 1 - L1(blurred Sobel edges, their flip) /
    (2 * mean |edges - mean|). With the prompt weighted 0, only the edge term drives."""
    cfg = tiny_config(
        prompts="door:0",
        width=128,
        height=64,
        cutn=2,
        steps=100,
        lr=0.2,
        edge_symmetry=50.0,
        symmetry_blur=2.0,
        preview_every=0,
    )
    before = generate(cfg.replace(steps=0), models=demo_models).image
    after = generate(cfg, models=demo_models).image
    score = [mirror_score(pil_to_tensor(im), edges=True).item() for im in (before, after)]
    loss = [edge_symmetry_loss(pil_to_tensor(im), sigma=2.0).item() for im in (before, after)]
    assert score[1] > score[0] + 0.05, score
    assert loss[1] < loss[0] * 0.7, loss
