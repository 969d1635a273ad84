"""The settings: retired settings in an old config file, and the image-protocol table that
the setting, the imaging package and the preview demo share."""

from __future__ import annotations

import pytest

from doorways_engine.errors import ConfigError
from doorways_tui.cli import main
from doorways_tui.core import settings as settings_module
from doorways_tui.core.protocols import PROTOCOL_SETTINGS, Protocol
from doorways_tui.core.settings import RETIRED, Settings, load_settings
from doorways_tui.store import Library


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    monkeypatch.setenv("DOORWAYS_CONFIG", str(path))
    monkeypatch.setattr(settings_module, "_warned", set())  # each test is a fresh process
    return path


def test_the_retired_settings_are_gone_from_the_object():
    assert not set(RETIRED) & set(Settings.__dataclass_fields__)
    assert not hasattr(Settings(), "db_path")


def test_an_old_config_file_still_works_with_one_warning_line_each(config, tmp_path, capsys):
    config.write_text('preview_every = "abc"\ndefault_models = "auto"\ndevice = "cpu"\n')
    Library.open(tmp_path / "lib", create=True).close()
    for _ in range(2):  # every command loads the settings, some more than once
        assert main(["--library", str(tmp_path / "lib"), "queue", "list"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"doorways: warning: {config}: setting default_models is no longer used"
        f" ({RETIRED['default_models']}); remove it",
        f"doorways: warning: {config}: setting preview_every is no longer used"
        f" ({RETIRED['preview_every']}); remove it",
    ]
    assert load_settings().device == "cpu"


def test_an_unknown_setting_is_still_refused(config):
    config.write_text("preview_evry = 25\n")
    with pytest.raises(ConfigError, match="unknown setting.s. preview_evry"):
        load_settings()


# -- one table of image protocols -------------------------------------------------------


def test_the_setting_takes_auto_and_every_protocol(config):
    assert ("auto", *Protocol) == PROTOCOL_SETTINGS
    for value in PROTOCOL_SETTINGS:
        config.write_text(f'image_protocol = "{value}"\n')
        assert load_settings().image_protocol == value


def test_the_setting_and_the_imaging_package_refuse_alike(config):
    from doorways_tui.tui.imaging.protocol import resolve_protocol

    config.write_text('image_protocol = "vt100"\n')
    with pytest.raises(ConfigError) as from_settings:
        load_settings()
    with pytest.raises(ValueError) as from_imaging:
        resolve_protocol("vt100", Protocol.HALFCELL, env={})
    assert str(from_settings.value) == f"{config}: {from_imaging.value}"
    assert ", ".join(PROTOCOL_SETTINGS) in str(from_imaging.value)


def test_the_preview_demo_offers_the_same_choices(capsys):
    from doorways_tui.tui import preview_demo

    with pytest.raises(SystemExit):
        preview_demo.main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "{" + ",".join(PROTOCOL_SETTINGS) + "}" in help_text


@pytest.mark.parametrize(
    ("entry", "shown"),
    [
        ("5", "5"),
        ("true", "True"),
        ('["x"]', "['x']"),
        ('""', "''"),
        ('" "', "' '"),
        ('"ctrl+"', "'ctrl+'"),
        ('"x,,z"', "'x,,z'"),
        ('"x,"', "'x,'"),
    ],
)
def test_a_keymap_entry_that_is_not_keys_is_one_line_naming_it(config, entry, shown):
    config.write_text(f'[keymap]\n"triage.star" = "s"\n"triage.reject" = {entry}\n')
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"{config}: setting keymap: 'triage.reject' = {shown} is not keys"
        ' (write them as text: "x" or "ctrl+x,f2")'
    )


def test_keymap_entries_that_name_keys_are_kept_as_written(config):
    keys = {"triage.star": "space", "triage.reject": "ctrl+x, f2", "app.help": "+"}
    config.write_text("[keymap]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in keys.items()))
    assert load_settings().keymap == keys
