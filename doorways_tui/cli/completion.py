"""``doorways completion bash|zsh|fish``: a completion script for the shell, written from
the command's own parser (shtab), so every subcommand and option is in it without a list
kept by hand. Install with, e.g., ``doorways completion bash > ~/.local/share/bash-completion/completions/doorways``."""

from __future__ import annotations

import argparse

SHELLS = ("bash", "zsh", "fish")
# Options whose value is a file or a folder, by their metavar: the shell completes paths.
FILE_METAVARS = {"FILE", "PATH", "PATH[:WEIGHT]", "STATE"}
DIR_METAVARS = {"DIR"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("completion", help="print a shell completion script (bash, zsh, fish)")
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import shtab

    from doorways_tui.cli import build_parser

    parser = build_parser()
    for action in _actions(parser):
        if action.metavar in FILE_METAVARS:
            action.complete = shtab.FILE  # type: ignore[attr-defined]
        elif action.metavar in DIR_METAVARS:
            action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
    print(shtab.complete(parser, shell=args.shell), end="")
    return 0


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """Every option of ``parser`` and of its subcommands, nested ones included."""
    found = list(parser._actions)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                found += _actions(child)
    return found
