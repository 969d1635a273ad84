"""Contract tests: each private name of another library that Doorways uses (gathered in
``tui/compat/textual.py``, ``tui/compat/textual_image.py``, ``engine/compat_clip.py`` and
``engine/compat_torch.py``)
still exists and behaves as Doorways uses it. A release that moves one fails here, by
name, instead of somewhere in the app. Three Textual names need a running app: see
``tests/app/test_compat_app.py``."""

from __future__ import annotations

import re
import unicodedata

import pytest

# -- Textual ------------------------------------------------------------------------------


def test_footer_key_is_the_footers_key_widget_with_its_action():
    from textual.widget import Widget

    from doorways_tui.tui.compat.textual import FooterKey

    key = FooterKey("question_mark", "?", "Help", "app.help")
    assert isinstance(key, Widget) and key.action == "app.help"


def test_app_keymap_is_what_set_keymap_stored_normalised():
    from textual.app import App

    from doorways_tui.tui.compat.textual import app_keymap

    app = App()
    app.set_keymap({"triage.star": "space", "app.help": "?"})
    assert dict(app_keymap(app)) == {"triage.star": "space", "app.help": "question_mark"}


def test_drop_bindings_frees_keys_of_one_widget_only():
    from textual.widgets import Tree

    from doorways_tui.tui.compat.textual import drop_bindings

    tree, other = Tree("a"), Tree("b")
    assert "space" in tree._bindings.key_to_bindings
    drop_bindings(tree, ["space", "not-bound"])
    assert "space" not in tree._bindings.key_to_bindings
    assert "space" in other._bindings.key_to_bindings
    assert "space" in Tree("c")._bindings.key_to_bindings


def test_output_driver_is_none_before_the_app_runs():
    from textual.app import App

    from doorways_tui.tui.compat.textual import output_driver

    assert output_driver(App()) is None


# -- textual-image ------------------------------------------------------------------------


def test_cell_size_is_two_positive_whole_numbers():
    from doorways_tui.tui.compat.textual_image import cell_size

    width, height = cell_size()
    assert type(width) is int and type(height) is int and width > 0 and height > 0


def test_image_to_sixels_encodes_a_palette_image_as_one_sixel_sequence():
    from PIL import Image

    from doorways_tui.tui.compat.textual_image import image_to_sixels
    from doorways_tui.tui.imaging.encode import dither_to_palette

    image = dither_to_palette(Image.linear_gradient("L").convert("RGB").resize((12, 12)))
    sixels = image_to_sixels(image)
    assert sixels.startswith("\x1bP") and sixels.endswith("\x1b\\")
    assert sixels.count("\x1bP") == 1 and "#" in sixels  # colour registers are defined


def test_kitty_placeholder_marks_are_the_placeholder_and_combining_diacritics():
    from doorways_tui.tui.compat.textual_image import kitty_placeholder_marks

    cell, marks = kitty_placeholder_marks()
    assert cell == "\U0010eeee"  # kitty's placeholder character
    assert len(marks) >= 256 and len(set(marks)) == len(marks)
    assert all(unicodedata.combining(m) for m in marks)
    assert marks[:3] == ("\u0305", "\u030d", "\u030e")  # rows/columns 0, 1, 2


# -- clip ---------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_clip_releases_are_the_packages_models_with_their_sha256_urls():
    import clip

    from doorways_engine.compat_clip import clip_releases

    releases = clip_releases()
    assert list(releases) == clip.available_models()
    assert releases == clip.clip._MODELS  # read from the source, the same as imported
    for url in releases.values():
        assert re.fullmatch(r"https://\S+/([0-9a-f]{64})/[^/]+\.pt", url), url


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "cannot read clip's model list"),
        ("_MODELS = {", "no longer lists _MODELS"),
        ("_MODELS = dict(a='b')", "no longer lists _MODELS"),
        ("_MODELS = {'RN50': 1}", "no longer lists _MODELS"),
        ("MODELS = {'RN50': 'u'}", "no longer lists _MODELS"),
        (b"_MODELS = {'\xff'}", "no longer lists _MODELS"),
    ],
    ids=["missing", "syntax", "not-literal", "not-str", "renamed", "not-utf8"],
)
def test_clip_releases_from_a_missing_or_changed_file_is_one_model_error(
    tmp_path, monkeypatch, source, message
):
    import importlib.util
    from types import SimpleNamespace

    from doorways_engine import compat_clip
    from doorways_engine.errors import ModelError

    if isinstance(source, str):
        (tmp_path / "clip.py").write_text(source, encoding="utf-8")
    elif source is not None:
        (tmp_path / "clip.py").write_bytes(source)
    fake = SimpleNamespace(submodule_search_locations=[str(tmp_path)])
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: fake)
    compat_clip._models.cache_clear()
    try:
        with pytest.raises(ModelError, match=message) as caught:
            compat_clip.clip_releases()
    finally:
        monkeypatch.undo()
        compat_clip._models.cache_clear()
    assert "\n" not in str(caught.value)


# -- torch --------------------------------------------------------------------------------


def test_storage_key_is_one_int_per_storage_shared_by_its_views():
    import torch

    from doorways_engine.compat_torch import storage_key

    base = torch.arange(12.0)
    view, other = base.view(3, 4)[1:], torch.arange(12.0)
    assert type(storage_key(base)) is int
    assert storage_key(base) == storage_key(view) == storage_key(view.view(-1)[3:])
    assert storage_key(base) != storage_key(other)
    rebuilt = torch.empty(0).set_(base.untyped_storage(), 2, torch.Size([5]), (1,))
    assert storage_key(rebuilt) == storage_key(base)


@pytest.mark.parametrize(
    ("private", "home"),
    [(r"\._cdata\b", "engine/compat_torch.py"), (r"\b_MODELS\b", "engine/compat_clip.py")],
)
def test_each_private_name_is_used_only_in_its_compat_module(private, home):
    from tests.fixtures_store import ROOT

    users = {
        str(path.relative_to(ROOT))
        for top in ("engine", "doorways_tui")
        for path in (ROOT / top).rglob("*.py")
        if re.search(private, path.read_text(encoding="utf-8"))
    }
    assert users == {home}
