"""The --help texts of the commands that make images."""

from __future__ import annotations

import pytest

from doorways_tui.cli import main


@pytest.mark.parametrize("command", [("generate",), ("queue", "add")])
def test_generation_help_shows_defaults(command, capsys):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option, default in [("--steps", "300"), ("--cutn", "32"), ("--seed", "0")]:
        assert option in text
        after = text.rsplit(option, 1)[1][:120]  # the option list, after the usage line
        assert f"default {default}" in after or f"default: {default}" in after, (option, after)
