"""What the whole command shares: ``--library`` and ``--config`` before or after the
subcommand, ``doorways config path``, and help (not the full-screen app) when no person
is at a terminal."""

from __future__ import annotations

import os

import pytest

from doorways_tui.cli import build_parser, main
from doorways_tui.store import Library


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "lib"
    Library.open(root, create=True).close()
    return root


@pytest.mark.parametrize(
    "argv",
    [
        ["--library", "{lib}", "status", "--json"],
        ["status", "--json", "--library", "{lib}"],
        ["queue", "list", "--library", "{lib}"],  # a nested subcommand
        ["--library", "/elsewhere", "status", "--library", "{lib}"],  # the later one wins
    ],
    ids=["before", "after", "nested", "both"],
)
def test_library_before_or_after_the_subcommand(library, argv, capsys, monkeypatch):
    monkeypatch.setenv("DOORWAYS_LIBRARY", "/nowhere")
    argv = [a.replace("{lib}", str(library)) for a in argv]
    assert build_parser().parse_args(argv).library == str(library)
    assert main(argv) == 0, capsys.readouterr().err


def test_library_left_out_after_the_subcommand_keeps_the_one_before(library):
    args = build_parser().parse_args(["--library", str(library), "queue", "list"])
    assert args.library == str(library)
    assert build_parser().parse_args(["queue", "list"]).library is None


def test_config_path_prints_the_settings_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DOORWAYS_CONFIG", str(tmp_path / "env.toml"))
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'env.toml'}\n"
    other = tmp_path / "other.toml"
    other.write_text("")
    for argv in (
        ["--config", str(other), "config", "path"],
        ["config", "path", "--config", str(other)],
    ):
        assert main(argv) == 0
        assert capsys.readouterr().out == f"{other}\n"
    assert os.environ["DOORWAYS_CONFIG"] == str(tmp_path / "env.toml")  # restored after


def test_config_file_is_the_one_every_setting_comes_from(tmp_path, library, capsys, monkeypatch):
    monkeypatch.delenv("DOORWAYS_LIBRARY")
    config = tmp_path / "work.toml"
    config.write_text(f'library = "{library}"\n')
    assert main(["status", "--json"]) == 2  # the default library does not exist here
    capsys.readouterr()
    assert main(["--config", str(config), "status", "--json"]) == 0
    assert '"queue"' in capsys.readouterr().out


def test_a_config_file_that_is_not_there_is_one_line(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "nope.toml"), "status"]) == 2
    assert (
        capsys.readouterr().err
        == f"doorways: error: --config {tmp_path / 'nope.toml'}: no such file\n"
    )


def test_no_subcommand_without_a_terminal_prints_help(monkeypatch, capsys):
    def app(args):
        raise AssertionError("the full-screen app opened without a terminal")

    monkeypatch.setattr("doorways_tui.cli.app.run_app", app)
    monkeypatch.setattr("doorways_tui.cli.interactive", lambda: False)
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: doorways") and "generate" in out and "completion" in out


def test_no_subcommand_at_a_terminal_opens_the_app(monkeypatch):
    opened = []
    monkeypatch.setattr("doorways_tui.cli.app.run_app", lambda args: opened.append(args) or 0)
    monkeypatch.setattr("doorways_tui.cli.interactive", lambda: True)
    assert main(["--library", "/x"]) == 0
    assert opened[0].library == "/x"


def test_interactive_needs_both_stdin_and_stdout_to_be_terminals(monkeypatch):
    from doorways_tui.cli import interactive

    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    for stdin, stdout, expected in ((True, True, True), (True, False, False), (False, True, False)):
        monkeypatch.setattr("sys.stdin", Stream(stdin))
        monkeypatch.setattr("sys.stdout", Stream(stdout))
        assert interactive() is expected
