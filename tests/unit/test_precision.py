"""Precision modes and recomputation: what each keeps in fp32, and that the fast path's
gradient points where fp32's does (on the CPU, with the demo models; bf16 runs there)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import torch

from doorways_engine import GenerationConfig, generate, load_models
from doorways_engine.config import PRECISIONS, resolve_precision
from doorways_engine.errors import ConfigError
from doorways_engine.fidelity import cosine, latent_gradient
from doorways_engine.vqgan import run_decoder

PACK = Path(__file__).resolve().parents[2] / "data" / "themes" / "doorways.toml"
MIN_COSINE = 0.98  # issue 16: the fast path's latent gradient against fp32's


def demo(**kw) -> GenerationConfig:
    return GenerationConfig(vqgan="demo", clip="demo", **kw)


def pack_settings() -> dict:
    """The doorways pack's method settings (panorama, the symmetry terms, weighting)."""
    settings = tomllib.loads(PACK.read_text())["settings"]
    keys = ("panorama", "edge_symmetry", "tone_symmetry", "semantic_symmetry", "size_weighting")
    width, height = (int(v) for v in settings["size"].split("x"))
    return {k: settings[k] for k in keys} | {"width": width, "height": height}


def test_auto_is_bf16_on_a_gpu_and_fp32_on_the_cpu():
    assert resolve_precision("auto", "cuda") == "bf16"
    assert resolve_precision("auto", "cpu") == "fp32"
    for mode in PRECISIONS[1:]:
        assert resolve_precision(mode, "cpu") == resolve_precision(mode, "cuda") == mode


@pytest.mark.parametrize("mode", ["bf16", "autocast"])
def test_fast_gradient_points_where_fp32_does_at_default_settings(demo_models, mode):
    config = demo(seed=2)  # the default settings: 256x256, 32 cutouts (bf16: 0.9988 here)
    fp32 = latent_gradient(config.replace(precision="fp32"), demo_models)
    fast = latent_gradient(config.replace(precision=mode), demo_models)
    assert fp32.abs().sum() > 0
    assert cosine(fast, fp32) >= MIN_COSINE


def test_bf16_gradient_points_where_fp32_does_at_the_packs_panorama_settings(demo_models):
    config = demo(prompts="a door to heaven | a door to hell", **pack_settings())
    assert config.panorama != "off" and config.semantic_symmetry > 0
    fp32 = latent_gradient(config.replace(precision="fp32"), demo_models)
    bf16 = latent_gradient(config.replace(precision="bf16"), demo_models)
    assert cosine(bf16, fp32) >= MIN_COSINE


def test_cosine_is_the_angle_between_flat_vectors():
    a = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine(a, -a) == pytest.approx(-1.0)
    assert cosine(a, torch.tensor([[0.0, 1.0], [0.0, 0.0]])) == pytest.approx(0.0)


def test_bf16_models_keep_what_chooses_codes_and_targets_in_fp32(demo_models):
    models = demo_models.for_run(demo(precision="bf16"))
    assert models.precision == "bf16" and demo_models.precision == "fp32"
    vqgan, clip_model = models.vqgan, models.clip
    assert vqgan.decoder.up[0].block[0].conv1.weight.dtype == torch.bfloat16
    assert vqgan.decoder.conv_out.weight.dtype == torch.bfloat16
    for fp32 in (
        vqgan.codebook,
        vqgan.encoder.conv_in.weight,
        vqgan.post_quant_conv.weight,  # the low-resolution head: FP32_HEAD
        vqgan.decoder.conv_in.weight,
        vqgan.decoder.mid.block_1.conv1.weight,
        vqgan.decoder.up[-1].block[0].conv1.weight,
        clip_model.visual.ln_pre.weight,  # layer norms compute in fp32
        clip_model.text_projection,  # the text tower: targets
        clip_model.token_embedding.weight,
    ):
        assert fp32.dtype == torch.float32
    assert clip_model.visual.conv1.weight.dtype == torch.bfloat16
    assert clip_model.visual.proj.dtype == torch.bfloat16
    every = [*vqgan.parameters(), *clip_model.parameters()]
    assert not any(p.requires_grad for p in every)
    assert not vqgan.training and not clip_model.training
    # the text tower ignores the image tower's dtype: the same target in either mode
    text = "a door to heaven"
    assert torch.equal(models.embed_text(text), demo_models.embed_text(text))
    # the demo models themselves are untouched, and the copy is made once
    assert demo_models.vqgan.decoder.conv_out.weight.dtype == torch.float32
    assert demo_models.for_run(demo(precision="bf16")) is models


def test_a_bf16_run_keeps_its_latent_and_adam_state_in_fp32(demo_models):
    states = []
    result = generate(
        demo(precision="bf16", steps=2, width=64, height=64, cutn=4, preview_every=1),
        models=demo_models,
        callback=lambda step, info: states.append(info.state()),
    )
    state = states[-1]
    assert state["z"].dtype == torch.float32 and result.latent.dtype == torch.float32
    moments = state["opt"]["state"][0]
    assert moments["exp_avg"].dtype == moments["exp_avg_sq"].dtype == torch.float32
    assert result.image.size == (64, 64)


def test_models_loaded_in_bf16_run_bf16_and_refuse_fp32(model_dir):
    models = load_models(demo(precision="bf16"), device="cpu", model_dir=model_dir)
    assert models.precision == "bf16"
    assert models.vqgan.decoder.conv_out.weight.dtype == torch.bfloat16
    assert models.for_run(demo(precision="bf16")) is models
    with pytest.raises(ConfigError, match="loaded again"):
        models.for_run(demo(precision="fp32"))
    result = generate(demo(precision="bf16", steps=1, width=64, height=64), models=models)
    assert result.image.size == (64, 64)


def test_fp32_and_autocast_share_the_fp32_weights(demo_models):
    autocast = demo_models.for_run(demo(precision="autocast"))
    assert autocast.vqgan is demo_models.vqgan and autocast.precision == "autocast"


def test_precision_is_part_of_which_models_a_job_needs():
    assert not demo(precision="bf16").same_models(demo(precision="fp32"))
    assert demo(precision="bf16").same_models(demo(precision="bf16"))
    assert "precision" in GenerationConfig.BATCH_KEYS


# -- recomputation ----------------------------------------------------------------------------


def test_the_decoder_runs_tamings_forward(demo_models):
    vqgan = demo_models.vqgan
    h = vqgan.post_quant_conv(torch.randn(2, 32, 3, 5, generator=torch.Generator().manual_seed(0)))
    assert torch.equal(run_decoder(vqgan.decoder, h), vqgan.decoder(h))


@pytest.mark.parametrize("mode", ["fp32", "bf16"])
def test_recomputing_gives_the_same_gradients(demo_models, mode):
    config = demo(precision=mode, seed=3, width=64, height=48, cutn=8)
    plain = latent_gradient(config.replace(recompute="off"), demo_models)
    recomputed = latent_gradient(config.replace(recompute="on"), demo_models)
    assert torch.allclose(plain, recomputed, rtol=1e-4, atol=1e-7)
    assert demo_models.for_run(config.replace(recompute="on")).recompute
    assert not demo_models.for_run(config.replace(recompute="auto")).recompute  # on a CPU


def test_recomputing_keeps_fewer_activations(demo_models):
    """What the backward pass holds, counted with saved-tensor hooks."""
    vqgan = demo_models.vqgan
    weights = {p.untyped_storage().data_ptr() for p in vqgan.parameters()}

    def saved_bytes(recompute: bool) -> int:
        seen: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            storage = t.untyped_storage()
            if storage.data_ptr() not in weights:
                seen[storage.data_ptr()] = storage.nbytes()
            return t

        z = torch.zeros(1, 32, 8, 8, requires_grad=True)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            vqgan.decode(z, recompute=recompute)
        return sum(seen.values())

    assert saved_bytes(True) < 0.4 * saved_bytes(False)
