"""Themes from a plain list: headings, sets, pasted decorations, errors with line numbers;
the settings pack and overrides; the time estimate; groups kept in the library (migration
8); the tree's folded labels."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from doorways_tui.core.text import fold_shared
from doorways_tui.store import Library
from doorways_tui.store.db import create_database
from doorways_tui.store.files import db_path
from doorways_tui.store.migrations import MIGRATIONS, known_version, migrate
from doorways_tui.themes import ThemeError, expand, load_theme, parse_list, theme_from_list
from doorways_tui.themes.estimate import CPU, H200, estimate
from doorways_tui.themes.library import queue_theme
from doorways_tui.themes.lists import DEFAULT_PACK, UNGROUPED, is_list_file
from doorways_tui.themes.models import with_models
from doorways_tui.themes.overrides import Overrides, apply_overrides, split_words
from doorways_tui.themes.request import build_request

PASTED = """\
Afterlife
Heaven / Hell
  “Valhalla” / ‘Fólkvangr’
- Fields of A’aru / Maw of Ammut

## Nature:
1. Sun / Moon
2) Sea / Dreams / Sky
---
**Other Worlds**
* Grimm’s Fairy Tales|1001 Arabian nights
• 天国 / 地獄
Nature
(3) Fire\u00a0/ Ice\u200b
Day / Night
"""


def groups_of(text: str) -> list[tuple[str, tuple[tuple[str, ...], ...]]]:
    return [(g.name, g.sets) for g in parse_list(text)]


# -- the parser --------------------------------------------------------------------------


def test_a_pasted_list_becomes_groups_of_pairs_and_triples():
    assert groups_of(PASTED) == [
        (
            "Afterlife",
            (("Heaven", "Hell"), ("Valhalla", "Fólkvangr"), ("Fields of A’aru", "Maw of Ammut")),
        ),
        ("Nature", (("Sun", "Moon"), ("Sea", "Dreams", "Sky"), ("Fire", "Ice"), ("Day", "Night"))),
        ("Other Worlds", (("Grimm’s Fairy Tales", "1001 Arabian nights"), ("天国", "地獄"))),
    ]


def test_sets_before_any_heading_and_decomposed_accents():
    decomposed = "Fo\u0301lkvangr"  # o + combining acute: the same name as "Fólkvangr"
    assert groups_of(f"Valhalla / {decomposed}\n\n\n# Later\na/b\n") == [
        (UNGROUPED, (("Valhalla", "Fólkvangr"),)),
        ("Later", (("a", "b"),)),
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("Afterlife\nHeaven / Hell / Limbo / Earth\n", 2, "is not 'left / right'"),
        ("Heaven / \n", 1, "is not 'left / right'"),
        ("Title\n\nAfterlife\nHeaven / Hell\n", 1, "heading 'Title' has no pairs under it"),
        ("Afterlife\nHeaven / Hell\nHeaven - Hell\n", 3, "heading 'Heaven - Hell' has no pairs"),
        ("a / b\nc / d\x1b[2J\n", 2, "line 2 contains a control character (U+001B"),
        ("a / b\nc / \u202ed\n", 2, "line 2 contains a control character (U+202E"),
        ("G\na / b\nH\na / b\n", 4, "a / b is listed twice (G, H)"),
    ],
)
def test_bad_lists_name_the_line(text, line, message):
    with pytest.raises(ThemeError) as info:
        theme_from_list(text, source="pairs.txt")
    assert info.value.line == line
    assert message in str(info.value)
    assert str(info.value).startswith(f"pairs.txt:{line}: ")


def test_a_side_the_engine_would_weigh_is_refused_with_its_line():
    with pytest.raises(ThemeError) as info:
        theme_from_list("G\nHeaven:2 / Hell\n", source="p.txt")
    assert info.value.line == 2 and "would split or weigh" in str(info.value)


def test_nothing_but_headings_or_rules_is_no_pairs():
    with pytest.raises(ThemeError, match="no pairs given"):
        parse_list("\n---\n***\n\n")


def test_which_files_are_lists():
    assert is_list_file("pairs.txt") and is_list_file("notes.md") and is_list_file("pairs")
    assert not is_list_file("theme.toml") and not is_list_file("THEME.TOML")


# -- settings: the pack a list borrows from, and overrides -----------------------------------


def test_a_list_is_named_after_its_file_and_takes_the_quick_packs_settings(tmp_path):
    path = tmp_path / "Norse pairs.txt"
    path.write_text("Afterlife\nSun / Moon\nBodhi / Samsara\n", encoding="utf-8")
    request = build_request(path=str(path))
    quick = load_theme(DEFAULT_PACK)
    assert request.theme.name == "Norse pairs"
    assert request.theme.source == str(path)
    assert quick.doorways == ("entrance",) and len(quick.seeds) == 1
    assert [v.prompt for v in request.variants] == [
        "entrance to Sun | entrance to Moon",  # the doorways pack's realm list is not used
        "entrance to Bodhi | entrance to Samsara",
    ]
    assert request.variants[0].config["steps"] == quick.settings["steps"]
    doorways = build_request(path=str(path), settings_pack="doorways", name="N")
    assert doorways.theme.name == "N"
    assert doorways.variants[0].prompt == "entrance to the Sun realm | entrance to the Moon realm"
    per_set = 5 * 4  # the doorways pack's doorway words x its modifiers
    assert doorways.variants[per_set].prompt.endswith("the cycle of death and rebirth")
    assert doorways.job_count == 2 * per_set * 2


def test_a_toml_file_keeps_its_own_settings(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('name = "T"\nseeds = 3\n[[groups]]\nname = "G"\npairs = [["a", "b"]]\n')
    assert build_request(path=str(path), settings_pack="doorways").job_count == 3


def test_overrides_change_settings_words_and_seeds():
    theme = theme_from_list("G\nHeaven / Hell\n", base=load_theme("doorways"))
    changed = apply_overrides(
        theme,
        Overrides(
            settings={"width": 256, "height": 128, "steps": 40},
            doorways=split_words("gate, door"),
            modifiers=("", "at dusk"),
            style="by Moebius",
            seeds=3,
        ),
    )
    variants = expand(changed)
    assert [v.prompt for v in variants] == [
        "gate to Heaven | gate to Hell",
        "gate to Heaven, at dusk | gate to Hell, at dusk",
        "door to Heaven | door to Hell",
        "door to Heaven, at dusk | door to Hell, at dusk",
    ]
    assert {(v.config["width"], v.config["steps"], v.config["style"]) for v in variants} == {
        (256, 40, "by Moebius")
    }
    assert variants[0].seeds == (0, 1, 2)
    assert changed.settings["panorama"] == "cosine"  # the rest is the pack's
    assert apply_overrides(theme, Overrides()) is theme


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (Overrides(settings={"steps": -1}), "steps"),
        (Overrides(settings={"panorama": "sideways"}), "panorama"),
        (Overrides(settings={"seed": 3}), "seed is set by the theme itself"),
        (Overrides(doorways=("gate", "gate")), "doorway words must be distinct"),
        (Overrides(doorways=("gate", "")), "doorway words must be distinct and not empty"),
        (Overrides(seeds=0), "seeds must be from 1"),
        (Overrides(style="by \x1b]0;x\x07"), "style contains a control character"),
    ],
)
def test_bad_overrides_are_one_clear_error(overrides, message):
    with pytest.raises(ThemeError, match=message.replace("(", r"\(")):
        apply_overrides(theme_from_list("a / b"), overrides)


def test_several_doorway_words_need_a_doorway_in_the_template():
    theme = theme_from_list("a / b", base=load_theme(DEFAULT_PACK))
    fixed = dataclasses.replace(theme, template="{subject}")
    with pytest.raises(ThemeError, match="has no {doorway}, so 2 doorway words"):
        apply_overrides(fixed, Overrides(doorways=("gate", "door")))


# -- the estimate ----------------------------------------------------------------------------


def test_the_step_cost_reproduces_its_measurements_and_grows_with_pixels():
    assert H200.seconds(512, 512, 1) == pytest.approx(0.0583)
    assert H200.seconds(1024, 384, 1) == pytest.approx(0.0780)
    assert CPU.seconds(512, 256, 100) > CPU.seconds(256, 256, 100) > H200.seconds(1024, 1024, 100)


def test_the_estimate_sums_every_job_at_its_size_and_steps():
    theme = theme_from_list("G\na / b\nc / d\n", base=load_theme(DEFAULT_PACK))
    theme = apply_overrides(theme, Overrides(settings={"width": 512, "height": 256}, seeds=2))
    small = apply_overrides(theme, Overrides(settings={"steps": 10}))
    result = estimate(expand(theme))
    steps = theme.settings["steps"]
    assert (result.jobs, result.steps) == (4, 4 * steps)
    assert result.seconds[H200.device] == pytest.approx(4 * H200.seconds(512, 256, steps))
    assert estimate(expand(small)).seconds[CPU.device] < result.seconds[CPU.device]
    line = result.line()
    assert line.startswith(f"estimate: 4 jobs, {4 * steps} steps: about ")
    assert "on an H200-class GPU" in line and "(full-size models, one job at a time)" in line
    demo = estimate(with_models(expand(theme), models="demo"))
    assert demo.demo and "on the demo models" in demo.line() and "GPU," not in demo.line()


# -- folded labels ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "label"),
    [
        (
            "entrance to Heaven, by James Gurney | entrance to Hell, by James Gurney",
            "Heaven | Hell",
        ),
        ("entrance to Heaven | entrance to Hell", "Heaven | Hell"),
        ("gate to Sea | gate to Dreams | gate to Sky", "Sea | Dreams | Sky"),
        ("entrance to the Sun realm | entrance to Moon", "the Sun realm | Moon"),
        ("gate to X | gate to X Y", "X | X Y"),  # each side keeps a word
        ("gate to  X |  gate to X", "gate to X | gate to X"),  # nothing tells them apart
        ("a forest at dusk", "a forest at dusk"),
        ("entrance to 天国 | entrance to 地獄", "天国 | 地獄"),
    ],
)
def test_fold_shared_keeps_what_tells_the_sides_apart(prompt, label):
    assert fold_shared(prompt) == label


# -- the library: migration 8 and groups -----------------------------------------------------


def test_groups_are_stored_with_each_variant(tmp_path):
    theme = theme_from_list(PASTED, base=load_theme("doorways"), name="Pasted")
    with Library.open(tmp_path / "lib") as lib:
        queue_theme(lib, theme)
        stored = lib.tree.variants(lib.tree.theme_by_name("Pasted").id)
        nodes = lib.tree.nodes(stored[0].theme_id)
    assert len(stored) == theme.set_count * 5 * 4  # doorway words x modifiers
    by_group = {v.group_name for v in stored}
    assert by_group == {"Afterlife", "Nature", "Other Worlds"}
    assert [n.group_name for n in nodes] == [v.group_name for v in stored]
    children = [v for v in stored if v.parent_id is not None]
    parents = {v.id: v.group_name for v in stored}
    assert all(v.group_name == parents[v.parent_id] for v in children)


def test_migration_8_keeps_old_rows_and_queueing_again_files_them(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    create_database(db_path(root), lambda db: migrate(db, [m for m in MIGRATIONS if m[0] <= 7]))
    conn = sqlite3.connect(db_path(root))
    conn.execute("INSERT INTO themes(id, name, created) VALUES (1, 'Old', 0)")
    conn.execute(
        "INSERT INTO variants(theme_id, prompt, style, edit_kind, edit_text, created)"
        " VALUES (1, 'entrance to a | entrance to b', 'by James Gurney', 'root', 'G: a / b', 0)"
    )
    conn.commit()
    columns = {row[1] for row in conn.execute("PRAGMA table_info(variants)")}
    conn.close()
    assert "group_name" not in columns
    with Library.open(root) as lib:
        (old,) = lib.tree.variants(1)
        assert old.group_name is None  # nothing guessed for an old row
        assert lib.db.scalar("PRAGMA user_version") == known_version()  # brought up to date
        report = queue_theme(lib, theme_from_list("G\na / b\nH\nc / d\n", name="Old"))
        assert report.new_variants == 1  # a / b was there: it is filed under G, not added
        assert [(v.prompt, v.group_name) for v in lib.tree.variants(1)] == [
            ("entrance to a | entrance to b", "G"),
            ("entrance to c | entrance to d", "H"),
        ]
