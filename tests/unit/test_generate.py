"""The generation loop end to end with the tiny models."""

import numpy as np
import pytest
import torch

from doorways_engine import Cancelled, generate, load_state, read_png_metadata, save_state
from doorways_engine.errors import ConfigError, ModelFileMissingError
from doorways_tui.cli import main
from tests.conftest import tiny_config


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_same_seed_same_image_other_seed_differs(demo_models):
    a = generate(tiny_config(seed=5), models=demo_models)
    b = generate(tiny_config(seed=5), models=demo_models)
    c = generate(tiny_config(seed=6), models=demo_models)
    assert np.array_equal(pixels(a.image), pixels(b.image))
    assert not np.array_equal(pixels(a.image), pixels(c.image))


def _fixed_view_loss(image, models, text) -> float:
    """Prompt loss of an image on one fixed set of 64 cutouts, so two images compare
    without the noise of each step's random views."""
    from doorways_engine.cutouts import make_cutouts, sample_cutouts
    from doorways_engine.images import pil_to_tensor
    from doorways_engine.losses import spherical_distance

    x = pil_to_tensor(image)
    params = sample_cutouts(
        torch.Generator().manual_seed(0),
        n=64,
        width=x.shape[3],
        height=x.shape[2],
        cut_min=0.25,
        cut_size=models.cut_size,
        cut_pow=1.0,
        rotate_deg=0,
        skew=0,
        blur_prob=0,
        mirrored=False,
    )
    with torch.no_grad():
        emb = models.encode_image(make_cutouts(x, params, cut_size=models.cut_size))
        return float(spherical_distance(emb, models.embed_text(text)[None]).mean())


def test_loss_falls_over_steps(demo_models):
    totals = []
    cfg = tiny_config(steps=40, lr=0.2, cutn=16, report_every=1, preview_every=0)
    start = generate(cfg.replace(steps=0), models=demo_models)
    end = generate(
        cfg, models=demo_models, callback=lambda step, info: totals.append(info.losses["total"])
    )
    assert len(totals) == 40
    before = _fixed_view_loss(start.image, demo_models, cfg.prompts)
    after = _fixed_view_loss(end.image, demo_models, cfg.prompts)
    assert after < before - 0.005, (before, after)
    assert np.mean(totals[-10:]) < np.mean(totals[:10])


def test_callback_cadence_and_preview(demo_models):
    seen = []
    generate(
        tiny_config(steps=7, preview_every=3, report_every=2),
        models=demo_models,
        callback=lambda step, info: seen.append(
            (step, info.preview is not None, bool(info.losses))
        ),
    )
    assert [s for s, _, _ in seen] == [1, 2, 3, 4, 5, 6, 7]
    assert [s for s, has_preview, _ in seen if has_preview] == [3, 6, 7]
    assert [s for s, _, has_losses in seen if has_losses] == [2, 3, 4, 6, 7]


def test_resume_continues_exactly(demo_models, tmp_path):
    cfg = tiny_config(steps=8, preview_every=4)
    straight = generate(cfg, models=demo_models)
    saved = {}

    def keep(step, info):
        if step == 4:
            saved["path"] = save_state(tmp_path / "state.pt", info.state())

    generate(cfg, models=demo_models, callback=keep)
    state = load_state(saved["path"])
    assert state["step"] == 4
    resumed = generate(
        cfg.replace(resume_latent=str(saved["path"]), start_step=4), models=demo_models
    )
    assert torch.allclose(resumed.latent, straight.latent, atol=1e-6)
    assert np.array_equal(pixels(resumed.image), pixels(straight.image))


def test_cancel_stops_cleanly_with_a_resumable_state(demo_models):
    calls = []

    def cancel():
        return len(calls) >= 3

    with pytest.raises(Cancelled) as info:
        generate(
            tiny_config(steps=50),
            models=demo_models,
            callback=lambda s, i: calls.append(s),
            cancel=cancel,
        )
    assert info.value.step == 3
    assert info.value.state["step"] == 3
    assert calls == [1, 2, 3]


def test_non_square_size_is_snapped_and_reported(demo_models):
    result = generate(tiny_config(width=100, height=40, steps=1), models=demo_models)
    assert result.image.size == (96, 32)
    assert (result.config.width, result.config.height) == (96, 32)
    assert "snapped to 96x32" in result.notes[0]


def test_init_image_is_used(demo_models, tmp_path):
    from PIL import Image

    target = Image.new("RGB", (64, 64), (200, 30, 30))
    target.save(tmp_path / "red.png")
    noise = generate(tiny_config(steps=0), models=demo_models)
    init = generate(
        tiny_config(steps=0, init_image=str(tmp_path / "red.png"), init_blur=2), models=demo_models
    )
    assert not np.array_equal(pixels(noise.image), pixels(init.image))
    with pytest.raises(ModelFileMissingError, match="image not found"):
        generate(tiny_config(init_image=str(tmp_path / "none.png")), models=demo_models)
    (tmp_path / "bad.png").write_text("not a png")
    with pytest.raises(ConfigError, match="not an image"):
        generate(tiny_config(init_image=str(tmp_path / "bad.png")), models=demo_models)


def test_image_prompt_and_negative_prompt(demo_models, tmp_path):
    from PIL import Image

    Image.new("RGB", (40, 40), (0, 90, 200)).save(tmp_path / "blue.png")
    cfg = tiny_config(prompts="a door | fog:-0.5", image_prompts=[f"{tmp_path / 'blue.png'}:0.5"])
    result = generate(cfg, models=demo_models)
    assert {"prompt", "global", "total"} <= set(result.losses)


def test_cli_generate_writes_png_with_parameters(tmp_path, capsys):
    out = tmp_path / "door.png"
    code = main(
        [
            "generate",
            "entrance to the forest realm",
            "--models",
            "demo",
            "--size",
            "64x32",
            "--steps",
            "3",
            "--cutn",
            "4",
            "--seed",
            "3",
            "--style",
            "by James Gurney",
            "-o",
            str(out),
            "--save-latent",
            str(tmp_path / "z.pt"),
        ]
    )
    assert code == 0
    meta = read_png_metadata(out)
    assert meta["config"]["prompts"] == "entrance to the forest realm"
    assert meta["config"]["seed"] == 3 and meta["config"]["width"] == 64
    from PIL import Image

    with Image.open(out) as im:
        assert im.size == (64, 32)
        assert "by James Gurney" in im.text["parameters"]
    assert load_state(tmp_path / "z.pt")["step"] == 3


def test_cli_reports_user_errors_without_traceback(tmp_path, capsys):
    assert (
        main(["generate", "x", "--vqgan", "nope", "--clip", "demo", "-o", str(tmp_path / "a.png")])
        == 2
    )
    assert "unknown VQGAN 'nope'" in capsys.readouterr().err
    assert (
        main(["generate", "x", "--models", "demo", "--size", "wide", "-o", str(tmp_path / "a.png")])
        == 2
    )
    assert "WIDTHxHEIGHT" in capsys.readouterr().err


def test_batched_images_equal_their_solo_runs(demo_models):
    from doorways_engine import generate_batch

    configs = [
        tiny_config(seed=1, steps=5),
        tiny_config(
            seed=2, steps=3, prompts="a gate | a cave", panorama="linear", tone_symmetry=1.0
        ),
        tiny_config(seed=3, steps=5, semantic_symmetry=0.1),
    ]
    solo = [generate(c, models=demo_models) for c in configs]
    batched = generate_batch(configs, models=demo_models)
    for s, b in zip(solo, batched, strict=True):
        assert b.steps == s.steps
        assert torch.allclose(s.latent, b.latent, atol=1e-4)
        assert np.abs(pixels(s.image) - pixels(b.image)).max() <= 2


def test_a_batch_item_fails_or_cancels_alone(demo_models, tmp_path):
    from doorways_engine import generate_batch

    good = tiny_config(seed=1, steps=4)
    missing = tiny_config(seed=2, steps=4, init_image=str(tmp_path / "gone.png"))
    stopper = tiny_config(seed=3, steps=4)
    calls = []
    results = generate_batch(
        [good, missing, stopper],
        cancels=[None, None, lambda: len(calls) >= 2],
        callbacks=[None, None, lambda s, i: calls.append(s)],
        models=demo_models,
    )
    assert results[0].steps == 4
    assert isinstance(results[1], ModelFileMissingError)
    assert isinstance(results[2], Cancelled) and results[2].step == 2
    with pytest.raises(ConfigError, match="share one size"):
        generate_batch([good, good.replace(width=128)], models=demo_models)


def test_bf16_autocast_path_runs_and_stays_close_to_fp32(demo_models):
    """The path CUDA takes by default (precision auto), exercised on the CPU."""
    cfg = tiny_config(
        steps=3,
        prompts="a | b",
        panorama="cosine",
        tone_symmetry=1.0,
        edge_symmetry=1.0,
        semantic_symmetry=0.1,
        aug_blur=1.0,
    )
    fp32 = generate(cfg.replace(precision="fp32"), models=demo_models)
    bf16 = generate(cfg.replace(precision="bf16"), models=demo_models)
    assert bf16.image.size == fp32.image.size
    assert all(np.isfinite(v) for v in bf16.losses.values())
    assert abs(bf16.losses["prompt"] - fp32.losses["prompt"]) < 0.05


def test_out_of_memory_becomes_a_clear_error(demo_models, monkeypatch):
    from doorways_engine import OutOfMemoryError

    def boom(z_q, **kw):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(demo_models.vqgan, "decode", boom)
    with pytest.raises(OutOfMemoryError, match="try fewer cutouts, a smaller size"):
        generate(tiny_config(), models=demo_models)


def test_codes_are_chosen_in_fp32_under_bf16_autocast():
    """Near-identical codes (as in a 16384-entry codebook) that bf16 cannot tell apart."""
    from types import SimpleNamespace

    from doorways_engine.loop import synth

    g = torch.Generator().manual_seed(0)
    codebook = 10 + 0.01 * torch.randn(64, 32, generator=g)
    seen = []
    vqgan = SimpleNamespace(codebook=codebook)
    models = SimpleNamespace(vqgan=vqgan, decode=lambda z_q: seen.append(z_q) or z_q[:, :3])
    z = 10 + 0.01 * torch.randn(1, 32, 4, 4, generator=g)
    synth(z, models)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        synth(z, models)
    fp32, under_autocast = seen
    assert torch.allclose(fp32, under_autocast, atol=1e-6)


def test_cli_generate_checks_image_files_before_loading_models(tmp_path, capsys, monkeypatch):
    import doorways_engine

    def no_load(*a, **kw):
        raise AssertionError("models loaded before the image files were checked")

    monkeypatch.setattr(doorways_engine, "load_models", no_load)
    out = str(tmp_path / "a.png")
    missing = str(tmp_path / "nope.png")
    assert main(["generate", "x", "--models", "demo", "--init-image", missing, "-o", out]) == 2
    assert f"--init-image {missing}: does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    assert (
        main(["generate", "x", "--models", "demo", "--image-prompt", f"{bad}:0.5", "-o", out]) == 2
    )
    assert f"--image-prompt {bad}: not a readable image" in capsys.readouterr().err


def test_a_decompression_bomb_is_refused_where_the_engine_reads_it(demo_models, tmp_path):
    """A worker reads init and prompt images itself (a job queued elsewhere, a file swapped
    since): the engine refuses a huge declared size before decoding a pixel."""
    from tests.unit.test_bad_input import png_header

    bomb = png_header(tmp_path / "bomb.png", 12_000, 12_000)
    for changes in ({"init_image": str(bomb)}, {"image_prompts": [f"{bomb}:0.5"]}):
        with pytest.raises(ConfigError, match="bomb.png: too large to read safely"):
            generate(tiny_config(**changes), models=demo_models)


def test_non_finite_losses_are_written_as_null(tmp_path):
    """A diverged run's NaN loss must not make its PNG unwritable or its JSON non-standard."""
    import json
    import math

    from PIL import Image

    from doorways_engine import save_png

    path = save_png(
        tmp_path / "x.png",
        Image.new("RGB", (8, 8)),
        tiny_config(),
        extra={"losses": {"total": math.nan, "tone": 0.5}, "seconds": math.inf},
    )
    with Image.open(path) as im:
        text = im.text["doorways"]
    meta = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the PNG"))
    assert meta["losses"] == {"total": None, "tone": 0.5} and meta["seconds"] is None
