"""Theme packs: parsing, expansion, errors that name the line, token checks, file names."""

from __future__ import annotations

import pytest

from doorways_tui.export.naming import safe_filename
from doorways_tui.themes import (
    Theme,
    ThemeError,
    expand,
    job_count,
    load_theme,
    long_prompts,
    parse_list,
    parse_theme,
    resolve_theme,
    shipped_themes,
    summary,
    theme_from_list,
    token_count,
)

SMALL = """\
name = "Small"
doorways = ["doorway", "gate"]
modifiers = ["", "at dusk"]
style = "by James Gurney"
seeds = [3, 5]
realms = ["Dreams"]

[settings]
size = "512x256"
panorama = "linear"
edge_symmetry = 1.0

[subjects."Fólkvangr"]
describe = "Freyja's meadow"

[[groups]]
name = "Norse"
pairs = [["Valhalla", "Fólkvangr"]]

[[groups]]
name = "Elements"
pairs = [["Sea", "Dreams", "Sky"]]
"""


def small() -> Theme:
    return parse_theme(SMALL, source="small.toml")


# -- expansion --------------------------------------------------------------------------


def test_small_theme_expands_to_exact_prompts_in_file_order():
    variants = expand(small())
    assert [v.prompt for v in variants] == [
        "doorway to Valhalla | doorway to Fólkvangr, Freyja's meadow",
        "doorway to Valhalla, at dusk | doorway to Fólkvangr, Freyja's meadow, at dusk",
        "gate to Valhalla | gate to Fólkvangr, Freyja's meadow",
        "gate to Valhalla, at dusk | gate to Fólkvangr, Freyja's meadow, at dusk",
        "doorway to Sea | doorway to the Dreams realm | doorway to Sky",
        "doorway to Sea, at dusk | doorway to the Dreams realm, at dusk | doorway to Sky, at dusk",
        "gate to Sea | gate to the Dreams realm | gate to Sky",
        "gate to Sea, at dusk | gate to the Dreams realm, at dusk | gate to Sky, at dusk",
    ]
    assert [v.group for v in variants] == ["Norse"] * 4 + ["Elements"] * 4
    assert variants[5].subjects == ("Sea", "Dreams", "Sky")
    assert (variants[5].doorway, variants[5].modifier) == ("doorway", "at dusk")
    assert variants[0].label == "Valhalla / Fólkvangr"


def test_counts_and_summary():
    theme = small()
    variants = expand(theme)
    assert (len(variants), job_count(variants)) == (8, 16)
    assert summary(theme, variants) == (
        "2 groups, 2 sets x 2 doorway words x 2 modifiers = 8 variants x 2 seeds = 16 jobs"
    )
    more = expand(theme, seeds=5)
    assert job_count(more) == 40
    assert more[0].seeds == (0, 1, 2, 3, 4)


def test_variant_config_is_what_the_engine_runs():
    variant = expand(small())[0]
    config = variant.config
    assert config["prompts"] == variant.prompt
    assert config["style"] == "by James Gurney"
    assert (config["width"], config["height"], config["panorama"]) == (512, 256, "linear")
    assert config["edge_symmetry"] == 1.0
    assert [c["seed"] for c in variant.job_configs()] == [3, 5]
    assert all(c["prompts"] == variant.prompt for c in variant.job_configs())


def test_modifier_placeholder_and_subject_text():
    theme = parse_theme(
        'name = "T"\ntemplate = "{modifier} {doorway} to {subject}"\n'
        'modifiers = ["", "ornate"]\n'
        '[subjects."Luna"]\ntext = "the Moon"\n'
        '[[groups]]\nname = "G"\npairs = [["Mars", "Luna"]]\n'
    )
    assert [v.prompt for v in expand(theme)] == [
        "entrance to Mars | entrance to the Moon",
        "ornate entrance to Mars | ornate entrance to the Moon",
    ]
    assert theme.style == ""  # no style unless the theme asks for one


# -- the shipped packs ------------------------------------------------------------------


def test_doorways_pack_has_the_seeds_series():
    theme = load_theme("doorways")
    groups = {g.name: g.sets for g in theme.groups}
    assert list(groups) == ["Afterlife", "Nature", "Other Worlds", "Future"]
    assert [len(s) for s in groups.values()] == [7, 13, 9, 4]
    assert groups["Afterlife"][3] == ("Valhalla", "Fólkvangr")
    assert groups["Afterlife"][5] == ("Fields of A’aru", "Maw of Ammut")
    assert groups["Other Worlds"][7] == ("Grimm’s Fairy Tales", "1001 Arabian nights")
    assert groups["Future"][3] == ("Climate Apocalypse", "An Uncertain But Hopeful Future")
    assert theme.style == "by James Gurney"
    # The author's figure-avoiding modifiers, beside the plain prompt.
    assert theme.modifiers == (
        "",
        "secluded, empty, silent, alone",
        "in the early morning",
        "enormous",
    )
    assert theme.settings["size_weighting"] == "layout"  # the method's first pass
    variants = expand(theme)
    assert len(variants) == 33 * len(theme.doorways) * 4
    prompts = {v.prompt for v in variants}
    assert "gate to Heaven, enormous | gate to Hell, enormous" in prompts
    assert {v.config["size_weighting"] for v in variants} == {"layout"}
    # The subjects the author said CLIP misread each carry a description.
    for name in (
        "El Dorado",
        "Atlantis",
        "Valhalla",
        "Fólkvangr",
        "Fields of A’aru",
        "Maw of Ammut",
        "An Uncertain But Hopeful Future",
    ):
        assert theme.subject(name).describe, name
    assert (
        "entrance to El Dorado, a lost city of gold in the jungle"
        " | entrance to Atlantis, classical Greek ruins under the sea"
    ) in prompts
    assert (
        "entrance to Bodhi, enlightenment | entrance to Samsara, the cycle of death and rebirth"
        in prompts
    )
    assert "entrance to the Sun realm | entrance to the Moon realm" in prompts
    assert long_prompts(variants) == []


def test_every_shipped_pack_parses():
    packs = shipped_themes()
    assert {"doorways", "example-small"} <= set(packs)
    for path in packs.values():
        assert expand(load_theme(path))


def test_unknown_pack_lists_the_shipped_ones():
    with pytest.raises(ThemeError, match=r"no theme file or shipped pack named 'nope'.*doorways"):
        resolve_theme("nope")


# -- errors name the line ---------------------------------------------------------------


def broken(text: str) -> ThemeError:
    with pytest.raises(ThemeError) as info:
        parse_theme(text, source="bad.toml")
    return info.value


def test_toml_syntax_error_names_the_line():
    error = broken('name = "T"\n[[groups]]\nname = "G"\npairs = [["a", "b"],,]\n')
    assert error.line == 4
    assert str(error).startswith("bad.toml:4: not valid TOML")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            'name = "T"\ncolour = "red"\n[[groups]]\nname = "G"\npairs = [["a", "b"]]\n',
            2,
            "unknown key 'colour'",
        ),
        (
            'name = "T"\n\n[[groups]]\nname = "G"\npairs = [\n  ["a", "b"],\n  ["lonely"],\n]\n',
            7,
            "['lonely'] is not 2 or 3",
        ),
        (
            'name = "T"\n[settings]\nsteps = 10\nsharpness = 2\n[[groups]]\nname = "G"\npairs = [["a", "b"]]\n',
            4,
            "unknown setting(s): sharpness",
        ),
        (
            'name = "T"\n[settings]\nseed = 4\n[[groups]]\nname = "G"\npairs = [["a", "b"]]\n',
            3,
            "settings.seed is set by the theme",
        ),
        (
            'name = "T"\n[subjects."Hevaen"]\ndescribe = "x"\n[[groups]]\nname = "G"\npairs = [["Heaven", "Hell"]]\n',
            2,
            "'Hevaen' is not in any group",
        ),
        (
            'name = "T"\n[[groups]]\nname = "G"\npairs = [["a", "b"]]\n[[groups]]\nname = "H"\npairs = [["a", "b"]]\n',
            7,
            "a / b is listed twice (G, H)",
        ),
        (
            'name = "T"\n[[groups]]\nname = "G"\npairs = [["a | c", "b"]]\n',
            4,
            "would split or weigh",
        ),
        (
            'name = "T"\ntemplate = "door to {place}"\n[[groups]]\nname = "G"\npairs = [["a", "b"]]\n',
            2,
            "unknown placeholder {place}",
        ),
        (
            'name = "T"\nseeds = 0\n[[groups]]\nname = "G"\npairs = [["a", "b"]]\n',
            2,
            "seeds must be a count",
        ),
        (
            'name = "T"\ntemplate = "a {subject}"\ndoorways = ["x", "y"]\n[[groups]]\nname = "G"\npairs = [["a", "b"]]\n',
            2,
            "template has no {doorway}, so 2 doorway words",
        ),
    ],
)
def test_schema_errors_name_the_line(text, line, words):
    error = broken(text)
    assert (error.source, error.line) == ("bad.toml", line)
    assert str(error).startswith(f"bad.toml:{line}: ")
    assert words in str(error)


def test_missing_groups_and_name():
    assert "no [[groups]]" in str(broken('name = "T"\n'))
    error = broken('[[groups]]\nname = "G"\npairs = [["a", "b"]]\n')
    assert "name must be a non-empty string" in str(error)


def test_a_byte_order_mark_at_the_start_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SMALL.encode("utf-8"))
    assert load_theme(path).name == "Small"
    assert parse_theme("\ufeff" + SMALL).name == "Small"


@pytest.mark.parametrize(
    ("edit", "line", "words"),
    [
        (('style = "by James Gurney"', 'style = "by \\u001b[31mJames"'), 4, "style contains a"),
        (('"Valhalla"', '"Val\u202ehalla"'), 18, "(U+202E RIGHT-TO-LEFT OVERRIDE) at position 4"),
        (('describe = "Freyja', 'describe = "\\u0007Freyja'), 14, "subjects.Fólkvangr.describe"),
        (('name = "Norse"', '"\\u009b" = 1\nname = "Norse"'), 17, "key 'groups[0].\\x9b' contains"),
        (("seeds = [3, 5]", "seeds = [3, 9223372036854775808]"), 5, "seeds must be a count"),
        (("seeds = [3, 5]", "seeds = 20000"), 5, "seeds must be a count from 1 to 10000"),
        (("edge_symmetry = 1.0", "edge_symmetry = nan"), 11, "edge_symmetry must be a finite"),
        (("edge_symmetry = 1.0", 'edge_symmetry = "1"'), 11, "edge_symmetry must be a number"),
        (('size = "512x256"', 'size = "99999999999999999999x2"'), 9, "width must be from 1"),
    ],
)
def test_bad_text_and_numbers_in_a_theme_name_the_line(edit, line, words):
    text = SMALL.replace(*edit)
    assert text != SMALL
    with pytest.raises(ThemeError) as info:
        parse_theme(text, source="t.toml")
    assert info.value.line == line and words in str(info.value), str(info.value)


@pytest.mark.parametrize(
    "template", ["{subject:99999999999}", "{subject!r}", "{doorway:>9} {subject}"]
)
def test_templates_take_placeholders_plainly(template):
    text = SMALL.replace('style = "by', f'template = "{template}"\nstyle = "by')
    with pytest.raises(ThemeError, match="without a format or conversion"):
        parse_theme(text)


def test_deeply_nested_toml_is_one_error():
    with pytest.raises(ThemeError, match="nested too deeply"):
        parse_theme(SMALL + "deep = " + "[" * 10_000 + "]" * 10_000)


def test_seed_counts_beyond_the_cap_are_refused():
    with pytest.raises(ThemeError, match="seeds must be from 1 to 10000"):
        expand(small(), seeds=10**20)


# -- typed lists (more in test_theme_lists.py) ------------------------------------------


def test_typed_lists_and_their_errors():
    groups = parse_list("heaven / hell\n\n# Three\nsea/ dreams /sky\n")
    assert [(g.name, g.sets) for g in groups] == [
        ("Pairs", (("heaven", "hell"),)),
        ("Three", (("sea", "dreams", "sky"),)),
    ]
    with pytest.raises(ThemeError) as info:
        parse_list("heaven / hell\nlimbo\n")
    assert info.value.line == 2
    assert "heading 'limbo' has no pairs under it" in str(info.value)
    with pytest.raises(ThemeError, match="no pairs given"):
        parse_list("  \n---\n")
    with pytest.raises(ThemeError, match="line 2 contains a control character .U.001B.") as info:
        parse_list("heaven / hell\nsea / \x1b]52;c;aGk=\x07sky\n")
    assert info.value.line == 2


def test_typed_lists_borrow_the_base_theme():
    base = load_theme("doorways")
    theme = theme_from_list("Bodhi / Samsara\nSun / Forest", base=base)
    variants = expand(theme)
    per_set = len(base.doorways) * len(base.modifiers)
    assert len(variants) == 2 * per_set
    assert variants[0].prompt == (
        "entrance to Bodhi, enlightenment | entrance to Samsara, the cycle of death and rebirth"
    )
    assert variants[per_set].prompt == "entrance to the Sun realm | entrance to Forest"
    assert variants[0].config["width"] == 768
    lower = expand(theme_from_list("bodhi / samsara", base=base))
    assert lower[0].prompt == (
        "entrance to bodhi, enlightenment | entrance to samsara, the cycle of death and rebirth"
    )
    plain = expand(theme_from_list("a / b"))
    assert [v.prompt for v in plain] == ["entrance to a | entrance to b"]


# -- CLIP tokens ------------------------------------------------------------------------


def test_token_counts_include_start_and_end():
    assert token_count("") == 2
    assert token_count("entrance to heaven") == 5


def test_long_prompts_are_reported_with_counts():
    long_name = " ".join(["red"] * 80)  # one token each
    theme = parse_theme(
        f'name = "T"\nstyle = "by James Gurney"\n[[groups]]\nname = "G"\npairs = [["{long_name}", "Hell"]]\n'
    )
    warnings = long_prompts(expand(theme))
    assert len(warnings) == 1
    assert warnings[0].text == f"entrance to {long_name}, by James Gurney"
    # start and end, "entrance to", 80 names, ", by james gurney" (gurney is two tokens)
    assert warnings[0].tokens == 2 + 2 + 80 + 5
    assert str(warnings[0]).startswith("89 tokens (CLIP reads 77): entrance to red")


# -- file names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Fólkvangr", "Fólkvangr"),
        ("Fo\u0301lkvangr", "Fólkvangr"),  # decomposed input comes out NFC
        ("Fields of A’aru / Maw of Ammut", "Fields of A’aru - Maw of Ammut"),
        ("../etc/passwd", "etc-passwd"),
        ('a<b>c:"d"|e?f*g', "a_b_c_d-e_f_g"),
        ("tab\there\nnewline", "tab here newline"),
        ("zero\u200bwidth", "zero_width"),
        ("CON", "_CON"),
        ("com1.png", "_com1.png"),
        ("...", "untitled"),
        ("", "untitled"),
    ],
)
def test_safe_filename(text, name):
    assert safe_filename(text) == name


def test_safe_filename_length_keeps_whole_letters():
    assert safe_filename("x" * 300) == "x" * 80
    assert safe_filename("ab cd", max_len=3) == "ab"
    decomposed = "e\u0301" * 3 + "q\u0323\u0307"  # q with two marks has no composed form
    assert safe_filename(decomposed, max_len=4) == "ééé"
    assert len(safe_filename("é" * 300, max_len=200).encode("utf-8")) <= 240


# -- models -----------------------------------------------------------------------------


def test_model_overrides_apply_to_every_variant_like_generate():
    from doorways_tui.themes.models import model_overrides, with_models

    assert model_overrides() == {}
    assert model_overrides(models="demo") == {"vqgan": "demo", "clip": "demo"}
    assert model_overrides(models="demo", clip="ViT-B/16") == {"vqgan": "demo", "clip": "ViT-B/16"}
    variants = expand(small())
    assert with_models(variants) == tuple(variants)
    changed = with_models(variants, vqgan="vqgan_gumbel_f8_8192")
    assert {v.config["vqgan"] for v in changed} == {"vqgan_gumbel_f8_8192"}
    assert {v.config["clip"] for v in changed} == {"ViT-B/32"}
    assert [v.prompt for v in changed] == [v.prompt for v in variants]


def test_check_models_says_what_is_missing_and_how_to_fix_it(tmp_path):
    from doorways_tui.themes.models import check_models, with_models

    variants = expand(small())
    missing = check_models(variants, tmp_path / "empty")
    assert not missing.ready
    assert missing.line() == "models: vqgan_imagenet_f16_16384 + ViT-B/32 (not downloaded)"
    assert "doorways models fetch vqgan_imagenet_f16_16384" in missing.refusal()
    clip_missing = check_models(with_models(variants, vqgan="demo"), tmp_path / "models")
    assert clip_missing.refusal() == (
        "CLIP ViT-B/32 is not downloaded yet: run `doorways models fetch ViT-B/32`"
        " (or pass --models demo)"
    )
    demo = check_models(with_models(variants, models="demo"), tmp_path / "models")
    assert demo.ready and demo.demo
    assert demo.line().startswith("models: demo + demo (tiny random-weight demo models")


def test_build_request_checks_the_models_only_when_asked(tmp_path):
    from doorways_tui.themes.request import build_request

    assert build_request(pack="example-small").models is None
    request = build_request(pack="example-small", check=True, model_dir=tmp_path)
    assert request.models is not None and not request.models.ready
    demo = build_request(pack="example-small", models="demo", check=True, model_dir=tmp_path)
    assert demo.models is not None and demo.models.ready
    assert {v.config["vqgan"] for v in demo.variants} == {"demo"}
