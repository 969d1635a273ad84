"""The Doorways method's maths: symmetry terms, panorama weights, mirrored cutouts,
semantic symmetry and size weighting."""

import math

import pytest
import torch
import torch.nn.functional as F

from doorways_engine import generate
from doorways_engine.cutouts import make_cutouts, sample_cutouts
from doorways_engine.images import pil_to_tensor
from doorways_engine.losses import (
    edge_symmetry_loss,
    mirror_score,
    panorama_weights,
    semantic_symmetry_loss,
    size_band_weights,
    size_weights,
    tone_symmetry_loss,
)
from tests.conftest import tiny_config


def mirrored_image(seed: int = 0, size: tuple[int, int] = (48, 64)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    half = torch.rand(1, 3, size[0], size[1] // 2, generator=g)
    return torch.cat([half, half.flip(-1)], dim=-1)  # (1, 3, H, W), exactly mirrored


@pytest.mark.parametrize("term", [edge_symmetry_loss, tone_symmetry_loss])
def test_symmetry_terms_vanish_on_a_mirror_image_only(term):
    sym = mirrored_image()
    assert term(sym, sigma=2.0).item() < 1e-6  # float rounding only
    lopsided = sym.clone()
    lopsided[..., :20] = 0.0  # darken the left side only
    assert term(lopsided, sigma=2.0).item() > 1e-4
    noise = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(1))
    assert term(noise, sigma=2.0).item() > 1e-5


def test_mirror_score_is_one_for_a_mirror_image():
    assert mirror_score(mirrored_image()).item() == pytest.approx(1.0, abs=1e-5)
    ramp = torch.linspace(0, 1, 64).expand(1, 3, 48, 64)
    assert mirror_score(ramp).item() < 0.2


def test_tone_term_alone_makes_the_image_more_mirror_symmetric(demo_models):
    """Metric: mirror_score = 1 - L1(blurred grey, its flip) / (2 * mean |grey - mean|).
    With the prompt weighted 0, only the tone term drives the latent."""
    cfg = tiny_config(
        prompts="door:0",
        width=128,
        height=64,
        cutn=2,
        steps=100,
        lr=0.2,
        tone_symmetry=5.0,
        symmetry_blur=2.0,
        preview_every=0,
    )
    before = mirror_score(pil_to_tensor(generate(cfg.replace(steps=0), models=demo_models).image))
    after = mirror_score(pil_to_tensor(generate(cfg, models=demo_models).image))
    assert after.item() > before.item() + 0.05, (before.item(), after.item())


def test_panorama_weights_sum_to_one_and_are_right_at_edges_and_centre():
    x = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
    for mode in ("linear", "cosine", "hard"):
        w = panorama_weights(x, 2, mode)
        assert torch.allclose(w.sum(1), torch.ones(5))
        assert torch.equal(w[0], torch.tensor([1.0, 0.0]))  # far left: left prompt only
        assert torch.equal(w[-1], torch.tensor([0.0, 1.0]))
        assert torch.allclose(w[2], torch.tensor([0.5, 0.5]))  # middle: both
    assert torch.allclose(panorama_weights(x, 2, "linear")[1], torch.tensor([0.75, 0.25]))
    cosine = panorama_weights(x, 2, "cosine")[1]
    assert cosine[0] == pytest.approx((1 + math.cos(math.pi / 4)) / 2, abs=1e-6)  # eased
    assert torch.equal(panorama_weights(x, 2, "hard")[1], torch.tensor([1.0, 0.0]))
    three = panorama_weights(x, 3, "linear")
    assert torch.allclose(three[2], torch.tensor([0.0, 1.0, 0.0]))
    assert torch.allclose(three[1], torch.tensor([0.5, 0.5, 0.0]))
    assert torch.equal(panorama_weights(x, 2, "off"), torch.ones(5, 2))


def test_mirrored_cutout_pairs_are_mirror_images():
    image = mirrored_image(3, (64, 96))
    params = sample_cutouts(
        torch.Generator().manual_seed(0),
        n=16,
        width=96,
        height=64,
        cut_min=0.3,
        cut_size=24,
        cut_pow=1.0,
        rotate_deg=15,
        skew=0.2,
        blur_prob=0.5,
        mirrored=True,
    )
    assert torch.allclose(params.cx[:8] + params.cx[8:], torch.full((8,), 96.0))
    assert torch.equal(params.size[:8], params.size[8:]) and torch.equal(
        params.cy[:8], params.cy[8:]
    )
    cuts = make_cutouts(image, params, cut_size=24)
    assert torch.allclose(cuts[:8], cuts[8:].flip(-1), atol=1e-5)
    # ...and on an asymmetric image they differ
    cuts2 = make_cutouts(torch.rand(1, 3, 64, 96), params, cut_size=24)
    assert not torch.allclose(cuts2[:8], cuts2[8:].flip(-1), atol=1e-2)


def test_cutouts_stay_inside_and_record_x_centres():
    params = sample_cutouts(
        torch.Generator().manual_seed(1),
        n=64,
        width=200,
        height=80,
        cut_min=0.25,
        cut_size=24,
        cut_pow=1.0,
        rotate_deg=0,
        skew=0,
        blur_prob=0,
        mirrored=False,
    )
    assert (params.cx - params.size / 2 >= 0).all() and (params.cx + params.size / 2 <= 200).all()
    assert (params.size >= 20).all() and (params.size <= 80).all()
    x = params.x_centre(200)
    assert (x > 0).all() and (x < 1).all()


def test_semantic_term_matches_the_formula_and_has_finite_gradients():
    g = torch.Generator().manual_seed(0)
    patches = torch.randn(6, 8, generator=g, requires_grad=True)
    texts = torch.randn(6, 8, generator=g)
    loss = semantic_symmetry_loss(patches, texts)
    e, t = F.normalize(patches, dim=-1), F.normalize(texts, dim=-1)
    expected = -torch.stack(
        [F.cosine_similarity(e[i] - t[i], e[i + 3] - t[i + 3], dim=0) for i in range(3)]
    ).mean()
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)
    loss.backward()
    assert torch.isfinite(patches.grad).all() and patches.grad.abs().sum() > 0
    # identical offsets from their texts: perfectly "translated", the minimum of -1
    base = torch.randn(1, 8, generator=g)
    t2 = F.normalize(torch.randn(2, 8, generator=g), dim=-1)
    p2 = torch.cat([t2[0:1] + 0.1 * base, t2[1:2] + 0.1 * base])
    assert semantic_symmetry_loss(p2, t2).item() < -0.9


def test_size_weighting_presets_and_schedule():
    frac = torch.tensor([0.05, 0.5, 0.95])
    layout = size_weights(frac, size_band_weights("layout", 0.0))
    detail = size_weights(frac, size_band_weights("detail", 0.0))
    assert layout[2] > layout[1] > layout[0]
    assert detail[0] > detail[1] > detail[2]
    assert size_band_weights("layout-to-detail", 0.0) == size_band_weights("layout", 0.0)
    assert size_band_weights("layout-to-detail", 1.0) == size_band_weights("detail", 0.0)
    mid = size_band_weights("layout-to-detail", 0.5)
    assert mid[0] == pytest.approx((0.25 + 2.0) / 2)
    assert torch.equal(size_weights(frac, size_band_weights("uniform", 0.3)), torch.ones(3))


def test_panorama_with_all_terms_makes_the_requested_size(demo_models):
    cfg = tiny_config(
        prompts="entrance to the forest realm | entrance to the underwater kelp forest realm",
        style="by James Gurney",
        width=160,
        height=48,
        steps=4,
        panorama="cosine",
        edge_symmetry=1.0,
        tone_symmetry=1.0,
        semantic_symmetry=0.05,
        size_weighting="layout-to-detail",
    )
    result = generate(cfg, models=demo_models)
    assert result.image.size == (160, 48)
    assert {"prompt", "semantic", "edge", "tone", "total"} <= set(result.losses)
    assert all(math.isfinite(v) for v in result.losses.values())
