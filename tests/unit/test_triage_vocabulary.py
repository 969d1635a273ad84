"""The triage and view vocabulary (``core.triage``) and what is derived from it: every mark
has keys with unique ids, words and a tag; the key bindings of the main, loupe and compare
screens, the filter menu, the session's words and auto-advance, the contact sheet's caption,
the store's views and the CLI's choices follow the table. No app is run."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, fields, replace

import pytest
from textual.actions import parse

from doorways_tui.cli import build_parser
from doorways_tui.core import triage as vocab
from doorways_tui.core.triage import (
    MARK_BY_FIELD,
    MARKS,
    TRIAGE_KINDS,
    VIEWS,
    Flag,
    Scale,
    export_tags,
    triage_kind,
    triage_words,
)
from doorways_tui.export.sheet import caption
from doorways_tui.store import Image
from doorways_tui.store import images as store_images
from doorways_tui.store.sql import untriaged_where
from doorways_tui.tui.keys import MAIN_BINDINGS, MARK_BINDINGS, TRIAGE_BINDINGS
from doorways_tui.tui.screens.compare import CompareScreen
from doorways_tui.tui.screens.filter_menu import FilterMenu
from doorways_tui.tui.screens.loupe import LoupeScreen
from doorways_tui.tui.screens.main import MainScreen
from doorways_tui.workstation.browse import View
from doorways_tui.workstation.session import Session
from tests.fixtures_store import finish_fake, seed_jobs
from tests.store_shared import clock, lib  # noqa: F401  (fixtures)


@dataclass(frozen=True)
class Marks:
    door_count: int | None = None
    starred: bool = False
    rejected: bool = False
    rating: int | None = None


MARKED = Marks(door_count=3, starred=True, rejected=True, rating=4)


def test_every_mark_has_keys_with_unique_ids_a_badge_and_a_column():
    keys = [key for mark in MARKS for key in mark.keys]
    assert all(mark.keys for mark in MARKS)
    assert len({k.id for k in keys}) == len(keys)
    assert len({k.key for k in keys}) == len(keys)
    assert all(k.id.startswith("triage.") and k.kind in TRIAGE_KINDS for k in keys)
    columns = {f.name for f in fields(Image)}
    for mark in MARKS:
        assert mark.field in columns
        assert mark.badge(mark.value(MARKED))  # set: shown in the details
        assert mark.badge(mark.value(Marks())) is None  # unset: not shown
        assert mark.tag(mark.value(Marks())) is None
        if isinstance(mark, Flag | Scale):
            assert len(mark.glyph) == 1 and mark.glyph in mark.badge(mark.value(MARKED))
    digits = {k.key for k in vocab.DOORS.keys if k.kind == "doors"}
    assert digits == {str(n) for n in range(10)}
    assert [k for k in vocab.DOORS.keys if k.kind != "doors"] == [vocab.ACCEPT_SUGGESTION]
    assert vocab.MARK_BY_KIND[vocab.ACCEPT_SUGGESTION.kind] is vocab.DOORS


def test_triage_kind_accepts_only_the_tables_kinds():
    assert triage_kind("star") == "star"
    with pytest.raises(ValueError, match="no triage mark"):
        triage_kind("stars")


@pytest.mark.parametrize(
    ("kind", "image", "said"),
    [
        ("doors", Marks(door_count=1), "1 door"),
        ("doors", Marks(door_count=3), "3 doors"),
        ("star", Marks(starred=True), "★ starred"),
        ("star", Marks(), "star removed"),
        ("reject", Marks(rejected=True), "✗ rejected"),
        ("reject", Marks(), "no longer rejected"),
        ("rating_step", Marks(rating=4), "rating 4"),
        ("rating", Marks(), "rating cleared"),
    ],
)
def test_the_words_a_triage_key_leaves(kind, image, said):
    assert triage_words(kind, image) == said


def test_the_undo_words_and_the_export_tags():
    assert MARK_BY_FIELD["starred"].undone(True, "#4") == "unstar on #4"
    assert MARK_BY_FIELD["rejected"].undone(False, "#4") == "reject on #4"
    assert MARK_BY_FIELD["door_count"].undone(None, "#4") == "door count on #4 (back to none)"
    assert MARK_BY_FIELD["rating"].undone(2, "#4") == "rating on #4 (back to 2)"
    assert export_tags(MARKED) == ["doors:3", "starred", "rejected", "rating:4"]
    assert export_tags(Marks()) == []


def test_the_mark_bindings_are_the_tables_keys_on_every_screen():
    keys = [key for mark in MARKS for key in mark.keys]
    assert len(MARK_BINDINGS) == len(keys)
    for binding, key in zip(MARK_BINDINGS, keys, strict=True):
        assert (binding.key, binding.id, binding.description, binding.tooltip, binding.show) == (
            key.key,
            key.id,
            key.label,
            key.tooltip,
            key.show,
        )
        _, action, params = parse(binding.action)
        assert (action, params) == ("mark", (key.kind, key.value))
    ids = {key.id for key in keys}
    for screen in (MainScreen, LoupeScreen):
        assert ids <= {b.id for b in screen.BINDINGS}
        assert hasattr(screen, "action_mark")
    assert set(TRIAGE_BINDINGS) <= set(MAIN_BINDINGS)
    pane_ids = {key.id for mark in (vocab.DOORS, vocab.STAR, vocab.REJECT) for key in mark.keys}
    compare = {b.id: b for b in CompareScreen.BINDINGS}
    assert pane_ids <= set(compare) and hasattr(CompareScreen, "action_mark")
    assert compare["triage.star"].tooltip == "star this pane's image"


def test_the_views_and_the_filter_menu_follow_the_table():
    names = [v.name for v in VIEWS]
    assert len(set(names)) == len(names) and len({v.key for v in VIEWS}) == len(VIEWS)
    assert not any(v.key.isdigit() for v in VIEWS)  # the digits pick a door count
    menu = {b.id: b for b in FilterMenu.BINDINGS}
    for view in VIEWS:
        assert menu[f"filter.{view.name}"].key == view.key
        assert View(view.name).label() == view.name
    assert View(vocab.DOORS_VIEW, 2).label() == "2 doors"
    with pytest.raises(ValueError, match="no view"):
        View("favourites").label()
    assert vocab.views_summary() == "all / starred / untagged / rejected / by door count"


def test_the_store_and_the_cli_list_the_tables_views():
    names = [v.name for v in VIEWS]
    every = (*names, vocab.DOORS_VIEW)
    assert every == store_images.VIEWS
    assert set(store_images._VIEW_SQL) == set(names)  # each view has its SQL
    export = _subcommand(build_parser(), "export")
    (view_option,) = [a for a in export._actions if "--view" in a.option_strings]
    assert list(view_option.choices) == names
    assert vocab.STARRED_VIEW in names


def _subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices[name]


def test_the_contact_sheets_caption_follows_the_table():
    record = {"image_id": 7, "seed": 42, "prompt": "a door", **vars(MARKED)}
    assert vocab.sheet_marks(record) == ["*", "3 doors", "rejected"]
    assert caption(record)[0] == "#7  seed 42  *  3 doors  rejected"
    assert vocab.sheet_marks(vars(Marks(door_count=0))) == ["0 doors"]
    assert vocab.sheet_marks(vars(Marks(rating=5))) == []  # the rating stays in the sidecar
    for mark in MARKS:
        word = mark.caption(mark.value(MARKED))
        assert word is None or word.isascii()  # the sheet's fallback font may lack a glyph
        assert mark.caption(mark.value(Marks())) is None
    assert set(vocab.SUMMARY_ORDER) == set(MARKS)


def test_the_marks_that_advance_are_the_ones_the_untriaged_predicate_tests():
    assert vocab.ADVANCING == (vocab.DOORS, vocab.REJECT)
    tested = set(re.findall(r"(\w+) (?:IS NULL|= 0)", untriaged_where("")))
    assert tested == {mark.field for mark in vocab.ADVANCING}
    assert vocab.advancing_words() == "a door count or a reject"


@pytest.fixture
def images(lib) -> list[int]:
    seed_jobs(lib, 4)
    return [finish_fake(lib, lib.claims.claim_job("w1")) for _ in range(4)]


@pytest.mark.parametrize(("kind", "value"), [("doors", 2), ("reject", None), ("star", None)])
def test_auto_advance_moves_on_after_the_marks_that_advance(lib, images, kind, value):
    session = Session(lib)
    session.show_image(images[0])
    session.auto_advance = True
    moved = session.triage(triage_kind(kind), value).detail.image.id != images[0]
    assert moved == vocab.MARK_BY_KIND[kind].advances


def test_auto_advance_reads_the_table(lib, images, monkeypatch):
    """A star that judged the image would move on too: the session asks the table."""
    monkeypatch.setitem(vocab.MARK_BY_KIND, "star", replace(vocab.STAR, advances=True))
    session = Session(lib)
    session.show_image(images[0])
    session.auto_advance = True
    assert session.triage("star").detail.image.id == images[1]


def test_the_auto_advance_words_name_the_marks_that_advance(lib, monkeypatch):
    session = Session(lib)
    on = "auto-advance on: a door count or a reject moves to the next untriaged image"
    assert session.toggle_auto_advance().message == on
    assert session.toggle_auto_advance().message == "auto-advance off"
    monkeypatch.setattr(vocab, "ADVANCING", (vocab.DOORS,))
    assert "on: a door count moves" in session.toggle_auto_advance().message
    tooltips = {b.id: b.tooltip for b in MAIN_BINDINGS}
    assert tooltips["view.auto-advance"] == (
        "after a door count or a reject, go to the next untriaged image"
    )


def test_the_direct_rating_keys_and_g_take_no_other_bindings_key():
    """Lightroom's keys where they fit: alt+0..5 rate (the bare digits count doors), g/G
    go to the first and last image; no key of the main screen answers two bindings."""
    from doorways_tui.tui.keys import bound_keys

    keys = [k for b in MAIN_BINDINGS for k in bound_keys(b, {})]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    rating = {k.key: (k.kind, k.value) for k in vocab.RATING.keys}
    assert {f"alt+{n}": ("rating", n or None) for n in range(6)}.items() <= rating.items()
    assert {"g", "G"} <= {k for b in TRIAGE_BINDINGS for k in bound_keys(b, {})}
