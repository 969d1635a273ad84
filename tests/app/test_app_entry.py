"""The app's entry (``doorways`` with no subcommand): settings are checked before anything
opens, and a crash inside the running app is a non-zero exit, never a quiet 0."""

from __future__ import annotations

import pytest
from textual.app import App

from doorways_engine.errors import ConfigError
from doorways_tui.cli import main
from doorways_tui.core.settings import Settings
from doorways_tui.store import Library
from doorways_tui.tui import imaging
from doorways_tui.tui.app import DoorwaysApp


def test_settings_made_in_code_are_checked_before_the_library_opens(tmp_path):
    root = tmp_path / "lib"
    with pytest.raises(ConfigError, match=r"setting keymap: 'triage.reject' = 5 is not keys"):
        DoorwaysApp(Settings(library=root, keymap={"triage.reject": 5}))  # type: ignore[dict-item]
    assert not root.exists()


def test_a_crash_inside_the_app_exits_non_zero(tmp_path, monkeypatch, capsys):
    root = tmp_path / "lib"
    Library.open(root, create=True).close()
    monkeypatch.setenv("DOORWAYS_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setattr(imaging, "init_terminal_graphics", lambda settings: None)

    def crash(self) -> None:
        raise RuntimeError("a bug in a screen")

    monkeypatch.setattr(DoorwaysApp, "on_mount", crash)
    monkeypatch.setattr(DoorwaysApp, "run", lambda self: App.run(self, headless=True))
    assert main(["--library", str(root), "app"]) == 1
    assert "a bug in a screen" in capsys.readouterr().err  # a bug keeps its traceback
