"""``doorways theme list|preview|queue`` end to end, and queueing into a real library."""

from __future__ import annotations

from pathlib import Path

import pytest

from doorways_tui.cli import main
from doorways_tui.export.naming import safe_filename
from doorways_tui.store import Library
from doorways_tui.themes import expand, parse_theme
from doorways_tui.themes.estimate import estimate
from doorways_tui.themes.library import queue_theme

THEME = """\
name = "Norse ∙ Egyptian"
doorways = ["doorway", "gate"]
style = "by James Gurney"
seeds = 2

[settings]
size = "256x128"
steps = 50

[[groups]]
name = "Afterlife"
pairs = [
  ["Valhalla", "Fólkvangr"],
  ["Fields of A’aru", "Maw of Ammut"],
]
"""


@pytest.fixture
def theme_file(tmp_path) -> Path:
    path = tmp_path / "norse.toml"
    path.write_text(THEME, encoding="utf-8")
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- preview and list -------------------------------------------------------------------


def test_preview_prints_counts_and_first_prompts(capsys, theme_file):
    code, out, _ = run(capsys, "theme", "preview", str(theme_file), "--show", "3")
    assert code == 0
    lines = out.splitlines()
    assert lines.pop(4) == estimate(expand(parse_theme(THEME))).line()  # see test_theme_lists
    assert lines == [
        f"Norse ∙ Egyptian ({theme_file})",
        "1 group, 2 pairs x 2 doorway words x 1 modifier = 4 variants x 2 seeds = 8 jobs",
        "style: by James Gurney",
        "settings: 256x128, steps 50",
        "models: vqgan_imagenet_f16_16384 + ViT-B/32 (not downloaded)",
        "warning: VQGAN vqgan_imagenet_f16_16384 is not downloaded yet: run"
        " `doorways models fetch vqgan_imagenet_f16_16384`"
        " (or use --models demo for the tiny random-weight demo models)",
        "first 3 of 4 prompts:",
        "  Afterlife  doorway to Valhalla | doorway to Fólkvangr",
        "  Afterlife  gate to Valhalla | gate to Fólkvangr",
        "  Afterlife  doorway to Fields of A’aru | doorway to Maw of Ammut",
    ]


def test_preview_reports_long_prompts(capsys, tmp_path):
    long_name = " ".join(["red"] * 80)
    path = tmp_path / "long.toml"
    path.write_text(f'name = "L"\n[[groups]]\nname = "G"\npairs = [["{long_name}", "b"]]\n')
    code, out, _ = run(capsys, "theme", "preview", str(path), "--show", "0")
    assert code == 0
    lines = out.splitlines()
    assert "1 prompts are longer than CLIP reads (the rest is cut):" in lines
    assert lines[-1] == f"  84 tokens (CLIP reads 77): entrance to {long_name}"


def test_preview_of_a_shipped_pack_and_seeds_override(capsys):
    code, out, _ = run(capsys, "theme", "preview", "doorways", "--seeds", "3", "--show", "1")
    assert code == 0
    assert "4 groups, 33 pairs x 5 doorway words x 4 modifiers = 660 variants" in out
    assert "x 3 seeds = 1980 jobs" in out
    assert "  Afterlife  entrance to Heaven | entrance to Hell" in out


def test_list_shows_the_shipped_packs(capsys):
    code, out, _ = run(capsys, "theme", "list")
    assert code == 0
    assert "doorways         Doorways: 33 sets, 660 variants, 1320 jobs" in out
    assert "example-small    Example: 2 sets, 8 variants, 16 jobs" in out


def test_broken_file_is_a_clear_error_naming_the_line(capsys, tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "B"\n[[groups]]\nname = "G"\npairs = [\n  ["one"],\n]\n')
    code, out, err = run(capsys, "theme", "preview", str(path))
    assert code == 2
    assert out == ""
    assert err == (f"doorways: error: {path}:5: group 'G': ['one'] is not 2 or 3 subject names\n")


def test_seeds_must_be_positive(capsys):
    """A usage error is the same one line as any other, and main returns 2 (no SystemExit)."""
    assert main(["theme", "preview", "doorways", "--seeds", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("doorways: error: argument --seeds: ") and err.count("\n") == 1
    assert "is not a whole number of at least 1" in err


# -- queue ------------------------------------------------------------------------------


def test_queue_is_idempotent_and_adds_only_what_is_new(capsys, theme_file, tmp_path):
    lib = str(tmp_path / "lib")
    code, out, _ = run(
        capsys, "--library", lib, "theme", "queue", str(theme_file), "--dry-run", "--models", "demo"
    )
    assert (code, out.splitlines()[-1]) == (
        0,
        "would add 4 new variants and 8 jobs (0 already in the library)",
    )
    demo = ("--models", "demo")
    _, out, _ = run(capsys, "--library", lib, "theme", "queue", str(theme_file), *demo)
    assert out.splitlines()[-1] == "added 4 new variants and 8 jobs (0 already in the library)"
    _, out, _ = run(capsys, "--library", lib, "theme", "queue", str(theme_file), *demo)
    assert out.splitlines()[-1] == "added 0 new variants and 0 jobs (8 already in the library)"
    _, out, _ = run(
        capsys, "--library", lib, "theme", "queue", str(theme_file), "--seeds", "3", *demo
    )
    assert out.splitlines()[-1] == "added 0 new variants and 4 jobs (8 already in the library)"
    with Library.open(lib) as library:
        assert library.queue.counts().queued == 12
        assert [t.name for t in library.tree.themes()] == ["Norse ∙ Egyptian"]


def test_theme_tree_in_the_library(tmp_path):
    theme = parse_theme(THEME)
    with Library.open(tmp_path / "lib") as library:
        report = queue_theme(library, theme)
        assert (report.new_variants, report.new_jobs, report.existing_jobs) == (4, 8, 0)
        variants = library.tree.variants(report.theme_id)
        shape = [(v.parent_id, v.edit_kind, v.edit_text, v.prompt) for v in variants]
        first, third = variants[0].id, variants[2].id
        assert shape == [
            (
                None,
                "root",
                "Afterlife: Valhalla / Fólkvangr",
                "doorway to Valhalla | doorway to Fólkvangr",
            ),
            (first, "theme", "gate", "gate to Valhalla | gate to Fólkvangr"),
            (
                None,
                "root",
                "Afterlife: Fields of A’aru / Maw of Ammut",
                "doorway to Fields of A’aru | doorway to Maw of Ammut",
            ),
            (third, "theme", "gate", "gate to Fields of A’aru | gate to Maw of Ammut"),
        ]
        assert {v.style for v in variants} == {"by James Gurney"}
        jobs = library.queue.jobs(variant_id=first)
        assert sorted(j.seed for j in jobs) == [0, 1]
        config = jobs[0].config_dict()
        assert (config["prompts"], config["width"], config["steps"]) == (
            variants[0].prompt,
            256,
            50,
        )
        assert queue_theme(library, theme).new_jobs == 0


def test_unicode_survives_the_library_and_file_names(tmp_path):
    # Decomposed input (o + combining acute) is normalised: one subject, not two.
    theme = parse_theme(THEME.replace("Fólkvangr", "Fo\u0301lkvangr"))
    root = tmp_path / "lib"
    with Library.open(root) as library:
        theme_id = queue_theme(library, theme).theme_id
    with Library.open(root) as library:  # a fresh connection reads what was written
        prompts = [v.prompt for v in library.tree.variants(theme_id)]
        assert library.tree.theme(theme_id).name == "Norse ∙ Egyptian"
        assert queue_theme(library, parse_theme(THEME)).new_variants == 0
    assert prompts[0] == "doorway to Valhalla | doorway to Fólkvangr"
    assert "Fields of A’aru" in prompts[2]
    names = [safe_filename(p) for p in prompts]
    assert names[0] == "doorway to Valhalla - doorway to Fólkvangr"
    assert names[2] == "doorway to Fields of A’aru - doorway to Maw of Ammut"
    for name in names:
        (tmp_path / f"{name}.png").write_bytes(b"")
    on_disk = sorted(p.stem for p in tmp_path.glob("*.png"))
    assert on_disk == sorted(names)


def test_undo_cancels_a_whole_theme_queue(tmp_path):
    theme = parse_theme(THEME)
    with Library.open(tmp_path / "lib") as library:
        queue_theme(library, theme, expand(theme, seeds=1))
        queue_theme(library, theme)
        result = library.history.undo()
        assert result is not None and len(result.job_ids) == 4
        assert (library.queue.counts().queued, library.queue.counts().cancelled) == (4, 4)


# -- models -----------------------------------------------------------------------------


def test_queue_refuses_models_that_are_not_downloaded(capsys, theme_file, tmp_path):
    lib = str(tmp_path / "lib")
    code, out, err = run(capsys, "--library", lib, "theme", "queue", str(theme_file))
    assert (code, out) == (2, "")
    assert err.startswith(
        "doorways: error: VQGAN vqgan_imagenet_f16_16384 is not downloaded yet: run"
        " `doorways models fetch vqgan_imagenet_f16_16384`"
    )
    assert "--models demo" in err and "--allow-missing-models" in err
    with Library.open(lib) as library:
        assert library.queue.counts().queued == 0
    code, _, err = run(
        capsys, "--library", lib, "theme", "queue", str(theme_file), "--vqgan", "demo"
    )
    assert code == 2
    assert err == (
        "doorways: error: CLIP ViT-B/32 is not downloaded yet: run"
        " `doorways models fetch ViT-B/32` (or pass --models demo); nothing queued"
        " (--allow-missing-models queues anyway)\n"
    )


def test_allow_missing_models_queues_with_a_warning(capsys, theme_file, tmp_path):
    lib = str(tmp_path / "lib")
    argv = ("--library", lib, "theme", "queue", str(theme_file), "--allow-missing-models")
    code, out, _ = run(capsys, *argv, "--clip", "ViT-B/16")
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "models: vqgan_imagenet_f16_16384 + ViT-B/16 (not downloaded)"
    assert lines[2].startswith("warning: VQGAN vqgan_imagenet_f16_16384 is not downloaded yet")
    assert lines[-1] == "added 4 new variants and 8 jobs (0 already in the library)"
    with Library.open(lib) as library:
        configs = [j.config_dict() for j in library.queue.jobs()]
    assert {(c["vqgan"], c["clip"]) for c in configs} == {("vqgan_imagenet_f16_16384", "ViT-B/16")}


def test_models_demo_applies_to_every_job(capsys, theme_file, tmp_path):
    lib = str(tmp_path / "lib")
    code, out, _ = run(
        capsys, "--library", lib, "theme", "queue", str(theme_file), "--models", "demo"
    )
    assert code == 0
    assert out.splitlines()[1] == (
        "models: demo + demo (tiny random-weight demo models: for trying Doorways out, not for art)"
    )
    with Library.open(lib) as library:
        configs = [j.config_dict() for j in library.queue.jobs()]
    assert len(configs) == 8
    assert {(c["vqgan"], c["clip"]) for c in configs} == {("demo", "demo")}


def test_preview_with_demo_models_has_no_warning(capsys, theme_file):
    code, out, _ = run(capsys, "theme", "preview", str(theme_file), "--models", "demo")
    assert code == 0
    assert "models: demo + demo (tiny random-weight" in out
    assert "warning" not in out


def test_the_model_options_are_the_configs_model_fields(capsys, theme_file):
    """``theme preview|queue`` take the model options ``generate`` takes, derived from the
    config's ``model=True`` fields: a new model field is an option of both, and it is
    applied to every variant."""
    import argparse
    import dataclasses

    from doorways_engine.config import GenerationConfig
    from doorways_engine.options import MODELS, Option
    from doorways_tui.cli import theme as theme_cli
    from doorways_tui.cli.options import add_model_options, generation_flags, model_values

    model_flags = [f.flag for f in generation_flags() if f.option.model]
    assert model_flags == ["--vqgan", "--clip"]
    for command in ("preview", "queue"):
        with pytest.raises(SystemExit):
            main(["theme", command, "--help"])
        text = capsys.readouterr().out
        group = text.split("models (applied to every variant):\n", 1)[1]
        assert [line.split()[0] for line in group.splitlines() if line.startswith("  -")] == [
            "--models",
            *model_flags,
        ]
        assert "registry name or folder" in group and "default" not in group

    @dataclasses.dataclass
    class WithUpscaler(GenerationConfig):
        upscaler: str = dataclasses.field(
            default="none", metadata={"option": Option(MODELS, "an upscaler", model=True)}
        )

    parser = argparse.ArgumentParser()
    add_model_options(parser, cls=WithUpscaler)
    args = parser.parse_args(["--models", "demo", "--clip", "ViT-B/16"])
    assert model_values(args, cls=WithUpscaler) == {
        "vqgan": "demo",
        "clip": "ViT-B/16",
        "upscaler": "demo",
    }
    unset = {f.dest: None for f in theme_cli._setting_flags()}
    args = argparse.Namespace(
        **unset, theme=str(theme_file), pack=None, name="", seeds=None, doorways=None,
        modifiers=None, style=None, models=None, vqgan=None, clip="ViT-B/16",
    )  # fmt: skip
    variants = theme_cli._request(args).variants
    assert {v.config["clip"] for v in variants} == {"ViT-B/16"}
    plain = expand(parse_theme(THEME))
    assert [v.config.get("vqgan") for v in variants] == [v.config.get("vqgan") for v in plain]


def test_one_seed_is_singular_in_the_summary(capsys, theme_file):
    code, out, _ = run(capsys, "theme", "preview", str(theme_file), "--seeds", "1")
    assert code == 0
    assert "= 4 variants x 1 seed = 4 jobs" in out and "1 seeds" not in out


# -- lists (any file that is not .toml) --------------------------------------------------

LIST = """\
## Afterlife
- “Heaven” / “Hell”
- Valhalla / Fólkvangr

Nature:
1. Sun / Moon
2. Sea / Dreams / Sky
"""


@pytest.fixture
def list_file(tmp_path) -> Path:
    path = tmp_path / "pasted pairs.txt"
    path.write_text(LIST, encoding="utf-8")
    return path


def test_preview_of_a_list_shows_its_groups_settings_and_an_estimate(capsys, list_file):
    code, out, err = run(capsys, "theme", "preview", str(list_file), "--show", "4")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"pasted pairs ({list_file})"
    assert lines[1] == (
        "2 groups, 4 sets x 1 doorway word x 1 modifier = 4 variants x 1 seed = 4 jobs"
    )
    assert lines[3].startswith("settings: 512x256, panorama cosine")  # the quick pack's
    assert lines[4].startswith("estimate: 4 jobs, 600 steps: about ")
    assert lines[-4:] == [
        "  Afterlife  entrance to Heaven | entrance to Hell",
        "  Afterlife  entrance to Valhalla | entrance to Fólkvangr",
        "  Nature     entrance to Sun | entrance to Moon",
        "  Nature     entrance to Sea | entrance to Dreams | entrance to Sky",
    ]


def test_queue_a_list_with_a_pack_and_flags(capsys, list_file, tmp_path):
    lib = str(tmp_path / "lib")
    argv = ["--library", lib, "theme", "queue", str(list_file), "--models", "demo"]
    flags = ["--pack", "doorways", "--size", "256x128", "--steps", "20", "--doorways", "gate, door"]
    code, out, _ = run(capsys, *argv, *flags, "--seeds", "1", "--name", "Mine")
    assert code == 0
    assert out.splitlines()[0] == (
        "Mine: 2 groups, 4 sets x 2 doorway words x 4 modifiers = 32 variants x 1 seed = 32 jobs"
    )  # the pack's four modifiers
    assert "estimate: 32 jobs, 640 steps on the demo models" in out
    with Library.open(lib) as library:
        theme = library.tree.theme_by_name("Mine")
        assert theme is not None
        variants = library.tree.variants(theme.id)
        configs = [j.config_dict() for j in library.queue.jobs()]
    assert [v.group_name for v in variants] == ["Afterlife"] * 16 + ["Nature"] * 16
    assert variants[16].prompt == "gate to the Sun realm | gate to the Moon realm"  # the pack's
    assert {(c["width"], c["height"], c["steps"], c["panorama"]) for c in configs} == {
        (256, 128, 20, "cosine")
    }


def test_a_bad_list_is_one_line_with_its_line_number(capsys, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("Afterlife\nHeaven / Hell\nLimbo / Purgatory / Earth / Sky\n", encoding="utf-8")
    for command in ("preview", "queue"):
        argv = ("--library", str(tmp_path / "lib"), "theme", command, str(path))
        code, out, err = run(capsys, *argv)
        assert (code, out) == (2, "")
        assert err == (
            f"doorways: error: {path}:3: 'Limbo / Purgatory / Earth / Sky' is not"
            " 'left / right' or 'left / centre / right'\n"
        )
    assert not (tmp_path / "lib").exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--pack", "doorways"], "--pack gives a list its settings;"),
        (["--size", "wide"], "--size: size 'wide' is not WIDTHxHEIGHT"),
        (["--doorways", "gate,,door"], "doorway words must be distinct and not empty"),
    ],
)
def test_bad_flags_are_one_line(capsys, theme_file, flags, message):
    code, out, err = run(capsys, "theme", "preview", str(theme_file), *flags)
    assert (code, out) == (2, "")
    assert err.startswith("doorways: error: ") and message in err and err.count("\n") == 1


def test_engine_settings_are_flags_derived_from_the_config(capsys):
    with pytest.raises(SystemExit):
        main(["theme", "preview", "--help"])
    text = capsys.readouterr().out
    title = "engine settings (override the file's or the pack's):\n"
    group = text.split(title, 1)[1].split("\n\n")[0]
    flags = [line.split()[0] for line in group.splitlines() if line.startswith("  --")]
    assert {"--size", "--steps", "--cutn", "--panorama", "--edge-symmetry"} <= set(flags)
    assert not {"--seed", "--style", "--image-prompt", "--init-image", "--vqgan"} & set(flags)
