"""``save_setting`` writes one setting into the config file and keeps every other line;
the app saves Textual's colour theme with it."""

from __future__ import annotations

import tomllib

import pytest

from doorways_engine.errors import ConfigError
from doorways_tui.core.settings import load_settings, save_setting

KEPT = """\
# my settings
device = "cuda:1"   # the big card

[keymap]
"triage.reject" = "x,delete"
"""


def test_a_new_file_gets_the_one_line(tmp_path):
    path = tmp_path / "sub" / "config.toml"
    assert save_setting("color_theme", "nord", path) == path
    assert path.read_text() == 'color_theme = "nord"\n'
    assert load_settings(path).color_theme == "nord"


def test_comments_tables_and_other_settings_stay(tmp_path, monkeypatch):
    monkeypatch.delenv("DOORWAYS_DEVICE")
    path = tmp_path / "config.toml"
    path.write_text(KEPT)
    save_setting("color_theme", "gruvbox", path)
    text = path.read_text()
    assert text.replace('color_theme = "gruvbox"\n', "", 1) == KEPT  # only the line added
    assert text.index("color_theme") < text.index("[keymap]")  # a top-level key
    settings = load_settings(path)
    assert (settings.color_theme, settings.device) == ("gruvbox", "cuda:1")
    assert settings.keymap == {"triage.reject": "x,delete"}
    save_setting("color_theme", "dracula", path)  # the line is replaced, not repeated
    assert text.replace("gruvbox", "dracula") == path.read_text()


def test_a_file_of_comments_only_keeps_them(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("# nothing set yet")
    save_setting("color_theme", "nord", path)
    assert path.read_text() == '# nothing set yet\ncolor_theme = "nord"\n'


def test_what_cannot_be_written_safely_changes_nothing(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('"color_theme" = "nord"\n')  # a quoted key: a second line would clash
    with pytest.raises(ConfigError, match="set it by hand"):
        save_setting("color_theme", "dracula", path)
    assert path.read_text() == '"color_theme" = "nord"\n'
    with pytest.raises(ConfigError, match="unknown setting"):
        save_setting("colour", "nord", path)
    path.write_text("device = [")
    with pytest.raises(ConfigError):
        save_setting("color_theme", "nord", path)
    assert path.read_text() == "device = ["


def test_a_value_with_quotes_is_escaped(tmp_path):
    path = tmp_path / "config.toml"
    save_setting("color_theme", 'a "b" \\ c', path)
    assert tomllib.loads(path.read_text()) == {"color_theme": 'a "b" \\ c'}
