"""The ``doorways`` command: the app with no arguments, headless subcommands otherwise.

Each subcommand lives in its own module with ``register(subparsers)``; the module is only
imported when the command line is parsed, so ``doorways queue list`` never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from doorways_tui import __version__
from doorways_tui.core.text import printable

# Modules under doorways_tui.cli, each with register(subparsers) -> None.
SUBCOMMAND_MODULES = [
    "generate",
    "models",
    "theme",
    "queue",
    "worker",
    "status",
    "export",
    "import_xmp",
    "backup",
    "clean",
    "app",
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
    parser.add_argument(
        "--library", help="library folder (default: user data dir, or $DOORWAYS_LIBRARY)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"doorways_tui.cli.{name}").register(sub)
    return parser


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
    if handler is None:  # no subcommand: the workstation
        from doorways_tui.cli.app import run_app as handler
    try:
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


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (tests, embedding)
        pass
