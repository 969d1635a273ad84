"""The memory estimate: counted from the architecture, held to the issue's H200 figures."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from doorways_engine import GenerationConfig
from doorways_engine.memory import (
    DEFAULT_SPEC,
    GB,
    HEADROOM,
    TOLERANCE,
    decoder_elements,
    estimate,
    estimate_parts,
    fits,
    free_bytes,
    pick_batch,
    reference_estimate,
)
from doorways_engine.models import spec_for


def config(**kw) -> GenerationConfig:
    return GenerationConfig(**({"width": 512, "height": 512, "cutn": 32} | kw))


def near(value: float, figure_gb: float) -> bool:
    return abs(value / GB - figure_gb) <= TOLERANCE * figure_gb


# -- counted from the architecture --------------------------------------------------------------


def test_the_default_spec_is_what_the_architectures_say():
    spec, _notes = spec_for(GenerationConfig(vqgan="vqgan_imagenet_f16_16384", clip="ViT-B/32"))
    assert dataclasses.replace(spec, label=DEFAULT_SPEC.label) == DEFAULT_SPEC


def test_the_demo_models_spec_is_read_from_the_loaded_models(demo_models):
    spec, notes = spec_for(GenerationConfig(vqgan="demo", clip="demo"))
    assert notes == []
    assert dataclasses.replace(demo_models.spec(), label=spec.label) == spec


def _saved_elements(vqgan, width: int, height: int, *, recompute: bool) -> int:
    """Activation elements the decoder keeps for the backward pass, by saved-tensor hooks."""
    weights = {p.untyped_storage().data_ptr() for p in vqgan.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    f = vqgan.spec.factor
    z = torch.zeros(1, vqgan.spec.embed_dim, height // f, width // f, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        vqgan.decode(z, recompute=recompute)
    return sum(seen.values()) // 4  # fp32


@pytest.mark.parametrize("recompute", [False, True])
def test_decoder_activations_are_counted_as_the_decoder_saves_them(demo_models, recompute):
    spec = demo_models.spec()
    for width, height in ((128, 128), (256, 128)):
        counted, _ = decoder_elements(spec, width, height, recompute=recompute)
        measured = _saved_elements(demo_models.vqgan, width, height, recompute=recompute)
        assert counted == pytest.approx(measured, rel=0.03)


# -- the measured figures (one H200, full-size models, 32 cutouts) ----------------------


def test_the_public_script_figures():
    for (width, height), figure in (((512, 512), 7.6), ((1024, 384), 10.7)):
        est = reference_estimate(DEFAULT_SPEC, width=width, height=height, cutn=32)
        assert near(est.total(1), figure), (width, height, est.total(1) / GB)


@pytest.mark.parametrize(
    ("size", "batch", "figure"),
    [((512, 512), 1, 6.4), ((1024, 384), 1, 8.8), ((512, 512), 16, 84.6), ((1024, 384), 8, 61.6)],
)
def test_the_engines_autocast_figures(size, batch, figure):
    width, height = size
    extra = {"panorama": "cosine", "tone_symmetry": 0.5, "semantic_symmetry": 0.05}
    est = estimate(config(width=width, height=height, precision="autocast", **extra))
    assert near(est.total(batch), figure), est.total(batch) / GB


@pytest.mark.parametrize(("mode", "low", "high"), [("bf16", 3.9, 3.9), ("fp32", 6.2, 6.7)])
def test_the_decoder_alone(mode, low, high):
    """The decoder alone at 512x512, forward and backward: no CLIP, no cutouts."""
    spec = dataclasses.replace(
        DEFAULT_SPEC, clip_params=0, image_tower_params=0, vqgan_params=DEFAULT_SPEC.decoder_params
    )
    est = estimate_parts(spec, width=512, height=512, cutn=0, decoder=mode, clip=mode)
    assert low * (1 - TOLERANCE) <= est.total(1) / GB <= high * (1 + TOLERANCE)


# -- its shape ---------------------------------------------------------------------------------


def test_more_of_anything_needs_more_memory():
    base = estimate(config()).total(1)
    assert estimate(config(width=768)).total(1) > base
    assert estimate(config(height=768)).total(1) > base
    assert estimate(config(cutn=64)).total(1) > base
    est = estimate(config())
    assert est.total(1) < est.total(2) < est.total(8)
    sizes = [256, 384, 512, 768, 1024, 1536]
    totals = [estimate(config(width=s, height=s)).total(1) for s in sizes]
    assert totals == sorted(totals) and len(set(totals)) == len(totals)


def test_faster_precisions_and_recomputing_need_less():
    fp32, autocast, bf16 = (
        estimate(config(precision=p)).total(1) for p in ("fp32", "autocast", "bf16")
    )
    assert bf16 < autocast < fp32
    assert estimate(config(precision="auto")).total(1) == bf16  # auto is bf16 on a GPU
    assert estimate(config(precision="auto"), device_type="cpu").total(1) == fp32
    plain = estimate(config(precision="bf16"), recompute=False)
    assert estimate(config(precision="bf16"), recompute=True).total(1) < plain.total(1)
    assert estimate(config(recompute="on")).recompute and not estimate(config()).recompute


def test_pick_batch_takes_the_largest_that_fits():
    cfg = config(precision="bf16", recompute="off")
    est = estimate(cfg)
    for batch in (1, 3, 8):
        free = int((est.total(batch) + est.per_image // 2) / HEADROOM)
        assert pick_batch(cfg, free_bytes=free, limit=64) == batch
        assert fits(cfg, batch=batch, free=free) and not fits(cfg, batch=batch + 1, free=free)
        assert pick_batch(cfg, free_bytes=free, limit=2) == min(batch, 2)
    # weights already loaded: the free memory was measured without them
    free = int((est.total(2) - est.weights) / HEADROOM) + 1
    assert pick_batch(cfg, free_bytes=free, limit=64, loaded=True) == 2


def test_pick_batch_recomputes_on_auto_when_nothing_fits_otherwise():
    plain = estimate(config(precision="bf16"), recompute=False)
    recomputed = estimate(config(precision="bf16"), recompute=True)
    free = int((plain.total(1) + recomputed.total(1)) / 2 / HEADROOM)  # between the two
    assert pick_batch(config(precision="bf16"), free_bytes=free, limit=8) == 1
    assert fits(config(precision="bf16"), batch=1, free=free, recompute=True)
    assert not fits(config(precision="bf16"), batch=1, free=free, recompute=False)
    # nothing fits at all: still 1, so the run is tried and says what to change
    assert pick_batch(config(), free_bytes=10**6, limit=8) == 1
    assert pick_batch(config(), free_bytes=0, limit=0) == 1


def test_no_free_memory_figure_on_a_cpu():
    assert free_bytes("cpu") is None
