"""``main()`` is the one error boundary of every subcommand, and ``python -m doorways_tui``
runs it."""

from __future__ import annotations

import argparse
import importlib
import runpy
import sqlite3
import sys

import pytest

from doorways_engine.errors import DoorwaysError
from doorways_tui.cli import build_parser, main
from doorways_tui.store import StoreError

# One command line per handler the parser knows (test_every_handler_is_covered keeps the
# list complete); the handler is replaced by one that raises, so the error comes from
# inside whichever subcommand it is, as if its own code had raised it.
COMMANDS = {
    ("doorways_tui.cli.app", "run_app"): ["app"],
    ("doorways_tui.cli.generate", "run"): ["generate", "a door"],
    ("doorways_tui.cli.models", "run_list"): ["models", "list"],
    ("doorways_tui.cli.models", "run_fetch"): ["models", "fetch", "demo"],
    ("doorways_tui.cli.models", "run_verify"): ["models", "verify", "demo"],
    ("doorways_tui.cli.theme", "run_list"): ["theme", "list"],
    ("doorways_tui.cli.theme", "run_preview"): ["theme", "preview", "x.toml"],
    ("doorways_tui.cli.theme", "run_queue"): ["theme", "queue", "x.toml"],
    ("doorways_tui.cli.queue", "run_add"): ["queue", "add", "a door"],
    ("doorways_tui.cli.queue", "run_list"): ["queue", "list"],
    ("doorways_tui.cli.queue", "run_cancel"): ["queue", "cancel", "1"],
    ("doorways_tui.cli.queue", "run_retry"): ["queue", "retry", "1"],
    ("doorways_tui.cli.worker", "run"): ["worker", "--once"],
    ("doorways_tui.cli.cluster", "run"): ["cluster", "--cpu"],
    ("doorways_tui.cli.status", "run"): ["status"],
    ("doorways_tui.cli.export", "run"): ["export", "out"],
    ("doorways_tui.cli.config", "run_path"): ["config", "path"],
    ("doorways_tui.cli.completion", "run"): ["completion", "bash"],
    ("doorways_tui.cli.import_xmp", "run"): ["import-xmp", "out"],
    ("doorways_tui.cli.backup", "run"): ["backup", "dest"],
    ("doorways_tui.cli.clean", "run"): ["clean", "--rejected"],
    ("doorways_tui.cli.seed_image", "run"): ["seed-image", "-o", "seed.png"],
    ("doorways_tui.cli.rules", "run_show"): ["rules", "show"],
    ("doorways_tui.cli.rules", "run_set"): ["rules", "set", "--over-steps", "5"],
    ("doorways_tui.cli.rules", "run_off"): ["rules", "off"],
    ("doorways_tui.cli.rules", "run_reset"): ["rules", "reset", "--theme", "x"],
    ("doorways_tui.cli.rules", "run_release"): ["rules", "release"],
    ("doorways_tui.cli.index", "run"): ["index"],
    ("doorways_tui.cli.similar", "run"): ["similar", "1"],
    ("doorways_tui.cli.suggest", "run"): ["suggest", "--theme", "x"],
}

# Each error a command can meet that is the user's to act on, and what its line says.
ERRORS = [
    (DoorwaysError("no theme named 'x\x1b[31m'"), "no theme named 'x\\x1b[31m'"),
    (StoreError("no job 7"), "no job 7"),
    (sqlite3.OperationalError("disk I/O error"), "the library database failed: disk I/O error"),
    (OSError(28, "No space left on device"), "No space left on device"),
    (PermissionError(13, "Permission denied", "/srv/lib"), "/srv/lib: Permission denied"),
]


def _handlers(parser: argparse.ArgumentParser):
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for sub in action.choices.values():
            handler = sub.get_default("handler")
            if handler is not None:
                yield handler.__module__, handler.__name__
            yield from _handlers(sub)


def test_every_handler_is_covered():
    assert set(_handlers(build_parser())) == set(COMMANDS)


def _raising(monkeypatch, module: str, name: str, exc: BaseException) -> None:
    def boom(args: argparse.Namespace, *rest) -> int:
        raise exc

    monkeypatch.setattr(importlib.import_module(module), name, boom)


@pytest.mark.parametrize("exc, message", ERRORS, ids=[type(e).__name__ for e, _ in ERRORS])
@pytest.mark.parametrize("target", list(COMMANDS), ids=lambda t: " ".join(COMMANDS[t]))
def test_every_subcommand_reports_user_errors_in_one_line(
    target, exc, message, monkeypatch, capsys
):
    _raising(monkeypatch, *target, exc)
    code = main(COMMANDS[target])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == [f"doorways: error: {message}"]
    assert "Traceback" not in err and "\x1b" not in err


def test_no_subcommand_runs_the_app_inside_the_same_boundary(monkeypatch, capsys):
    monkeypatch.setattr("doorways_tui.cli.interactive", lambda: True)  # a person at a terminal
    _raising(monkeypatch, "doorways_tui.cli.app", "run_app", StoreError("no library at /x"))
    assert main([]) == 2
    assert capsys.readouterr().err == "doorways: error: no library at /x\n"


# -- `doorways theme` through its own code (it once lacked the boundary) ---------------


@pytest.mark.parametrize("exc, message", ERRORS, ids=[type(e).__name__ for e, _ in ERRORS])
@pytest.mark.parametrize("action", ["preview", "queue"])
def test_theme_errors_from_its_own_code_are_one_line(
    action, exc, message, monkeypatch, capsys, tmp_path
):
    import doorways_tui.themes.request

    def load_theme(source):
        raise exc

    monkeypatch.setattr(doorways_tui.themes.request, "load_theme", load_theme)
    code = main(["--library", str(tmp_path / "lib"), "theme", action, "example-small"])
    out, err = capsys.readouterr()
    assert (code, err.splitlines()) == (2, [f"doorways: error: {message}"])


@pytest.mark.parametrize("exc, message", ERRORS, ids=[type(e).__name__ for e, _ in ERRORS])
def test_theme_queue_errors_in_the_library_are_one_line(
    exc, message, monkeypatch, capsys, tmp_path
):
    import doorways_tui.themes.library

    def queue_theme(*args, **kwargs):
        raise exc

    monkeypatch.setattr(doorways_tui.themes.library, "queue_theme", queue_theme)
    argv = ["--library", str(tmp_path / "lib"), "theme", "queue", "example-small"]
    code = main([*argv, "--models", "demo", "--allow-missing-models"])
    out, err = capsys.readouterr()
    assert (code, err.splitlines()) == (2, [f"doorways: error: {message}"])
    assert "added" not in out


def test_a_bug_keeps_its_traceback(monkeypatch):
    """Only the user's errors become one line: a programming error is not hidden."""
    _raising(monkeypatch, "doorways_tui.cli.status", "run", KeyError("bug"))
    with pytest.raises(KeyError):
        main(["status"])


# -- python -m doorways_tui ------------------------------------------------------------


def test_python_dash_m_runs_the_command(monkeypatch, capsys):
    """``runpy`` is what ``python -m`` uses: the package's ``__main__`` runs ``main``."""
    from doorways_tui import __version__

    monkeypatch.setattr(sys, "argv", ["doorways_tui", "--version"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("doorways_tui", run_name="__main__", alter_sys=True)
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"doorways {__version__}\n"


def test_python_dash_m_passes_the_exit_code(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["doorways_tui", "queue", "--no-such-option"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("doorways_tui", run_name="__main__", alter_sys=True)
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("doorways: error: ")


def test_age_counts_from_the_now_it_is_given_even_zero():
    from doorways_tui.cli.common import age

    assert age(None) == "-"
    assert age(-65.0, now=0.0) == "1m05s ago"
    assert age(10.0, now=0.0) == "0s ago"  # a clock behind the row: never negative
