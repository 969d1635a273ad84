"""``doorways`` with no subcommand: the workstation on the settings' library."""

from __future__ import annotations

import argparse

from doorways_tui.cli.common import open_library


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="open the workstation (the default with no command)")
    p.set_defaults(handler=run_app)


def run_app(args: argparse.Namespace) -> int:
    from doorways_tui.core.settings import load_settings
    from doorways_tui.tui.imaging import init_terminal_graphics

    settings = load_settings(library=getattr(args, "library", None))
    open_library(args, create=True).close()  # a library that cannot open: one line, here
    init_terminal_graphics(settings)  # before App.run(): it talks to the terminal
    from doorways_tui.tui.app import DoorwaysApp

    app = DoorwaysApp(settings)  # opens the library, checks the settings: still one line
    app.run()
    return app.return_code or 0  # a crash inside the app (a bug: Textual shows it) is 1
