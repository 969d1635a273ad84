"""``doorways generate --dry-run``: the memory estimate, nothing loaded or written."""

from __future__ import annotations

from doorways_tui.cli import main


def test_dry_run_prints_the_estimate_and_loads_nothing(tmp_path, capsys, monkeypatch):
    import doorways_engine

    def no_load(*a, **kw):
        raise AssertionError("a dry run loaded the models")

    monkeypatch.setattr(doorways_engine, "load_models", no_load)
    out = tmp_path / "o.png"
    argv = ["generate", "a door", "--models", "demo", "-o", str(out), "--size", "512x256"]
    assert main([*argv, "--dry-run", "--recompute", "off"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "512x256" in text and "precision bf16" in text
    assert "GB for one image" in text and "recomputing the full-resolution blocks" in text
    assert "the public VQGAN-CLIP script at this size" in text
    assert "no GPU visible here" in text  # the tests run on the CPU
    assert not out.exists()


def test_dry_run_names_what_it_had_to_assume(tmp_path, capsys):
    argv = ["generate", "a door", "--clip", "RN50", "--vqgan", "vqgan_imagenet_f16_1024"]
    assert main([*argv, "--dry-run"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "vqgan_imagenet_f16_1024 is not downloaded" in text
    assert "CLIP RN50: shape not known here, sized as ViT-B/32" in text
