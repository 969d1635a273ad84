"""``doorways config path``: where the settings file is (``--config FILE`` and
``$DOORWAYS_CONFIG`` move it), so that ``$EDITOR "$(doorways config path)"`` works."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="where the settings file is")
    actions = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    path = actions.add_parser("path", help="print the settings file's path (it may not exist yet)")
    path.set_defaults(handler=run_path)


def run_path(args: argparse.Namespace) -> int:
    from doorways_tui.core.settings import config_path

    print(config_path())
    return 0
