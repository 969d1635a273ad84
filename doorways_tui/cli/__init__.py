"""The ``doorways`` command: the app with no arguments (in a terminal; help otherwise),
headless subcommands otherwise.

Each subcommand lives in its own module with ``register(subparsers)``; the module is only
imported when the command line is parsed, so ``doorways queue list`` never loads torch.
The options every command shares (``GLOBAL_OPTIONS``: ``--library``, ``--config``) are
accepted before the command and after it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from doorways_engine.errors import ConfigError
from doorways_tui import __version__
from doorways_tui.core.text import printable

# Modules under doorways_tui.cli, each with register(subparsers) -> None.
SUBCOMMAND_MODULES = [
    "generate",
    "models",
    "theme",
    "queue",
    "worker",
    "cluster",
    "status",
    "export",
    "config",
    "completion",
    "import_xmp",
    "backup",
    "clean",
    "seed_image",
    "rules",
    "index",
    "similar",
    "suggest",
    "app",
]

# Options of the whole command: (flag, add_argument keywords). build_parser adds them to
# the top parser and to every subcommand's, so `doorways status --library X` works too.
GLOBAL_OPTIONS: list[tuple[str, dict]] = [
    (
        "--library",
        {"metavar": "DIR", "help": "library folder (default: user data dir, or $DOORWAYS_LIBRARY)"},
    ),
    (
        "--config",
        {"metavar": "FILE", "help": "settings file to use (default: `doorways config path`)"},
    ),
]


class UsageError(Exception):
    """A command line argparse refused (an unknown option, a number out of range)."""


class _Parser(argparse.ArgumentParser):
    """Usage errors become the one line every other error is (``doorways: error: ...``,
    exit 2), pointing at the help instead of printing the whole usage. argparse quotes the
    bad value in its messages; a value pasted from a file or a script must not reach the
    terminal raw either. Subparsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")

    def _print_message(self, message: str, file=None) -> None:
        super()._print_message(printable(message, newlines=True), file)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="doorways",
        description="Make and curate CLIP-guided VQGAN art from the terminal.",
    )
    parser.add_argument("--version", action="version", version=f"doorways {__version__}")
    for flag, keywords in GLOBAL_OPTIONS:
        parser.add_argument(flag, **keywords)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"doorways_tui.cli.{name}").register(sub)
    for subparser in _subparsers(parser):
        for flag, keywords in GLOBAL_OPTIONS:  # unset unless given: the top one's value stays
            subparser.add_argument(flag, **keywords, default=argparse.SUPPRESS)
    return parser


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every subcommand's parser, nested ones (``queue add``) included."""
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # an alias: the same parser
                found += [child, *_subparsers(child)]
    return found


def interactive() -> bool:
    """Whether a person is at a terminal (stdin and stdout both TTYs): only then does
    ``doorways`` with no command open the full-screen app."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line; the one error boundary of every subcommand.

    What the user can act on (``USER_ERRORS``: a refusal, a missing library, a database
    that fails, a file that cannot be read or written) is one line and exit 2, whichever
    subcommand raised it; anything else is a bug and keeps its traceback."""
    from doorways_tui.cli.common import USER_ERRORS, error_line

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:  # quotes the bad value, which may come from a script
        print(f"doorways: error: {printable(str(exc), newlines=True)}", file=sys.stderr)
        return 2
    handler = getattr(args, "handler", None)
    if handler is None:  # no subcommand: the workstation, if a person is at a terminal
        if not interactive():
            parser.print_help()
            return 0
        from doorways_tui.cli.app import run_app as handler
    try:
        with settings_file(args.config):
            return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("doorways: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`doorways queue list --json | head`): stop quietly. Point
        # stdout at /dev/null so the interpreter's final flush cannot fail again.
        _silence_stdout()
        return 141  # 128 + SIGPIPE, as a shell reports it
    except USER_ERRORS as exc:
        print(error_line(exc), file=sys.stderr)
        return 2


@contextlib.contextmanager
def settings_file(path: str | None) -> Iterator[None]:
    """``--config FILE``: the settings come from FILE while the command runs, for it and
    for the workers it starts (through ``DOORWAYS_CONFIG``, which ``config_path`` reads).
    A FILE that is not there is an error: it was named on purpose."""
    if path is None:
        yield
        return
    if not Path(path).expanduser().exists():
        raise ConfigError(f"--config {path}: no such file")
    if Path(path).expanduser().is_dir():
        raise ConfigError(f"--config {path}: is a folder, not a settings file")
    before = os.environ.get("DOORWAYS_CONFIG")
    os.environ["DOORWAYS_CONFIG"] = path
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DOORWAYS_CONFIG", None)
        else:
            os.environ["DOORWAYS_CONFIG"] = before


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (tests, embedding)
        pass
