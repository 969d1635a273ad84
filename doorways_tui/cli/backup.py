"""``doorways backup DEST``: the library (database and images) copied while it is in use.

Exit status: 0 when every file was copied or already there, 1 when some files the
library names are missing or do not match their checksum (named on stderr), 2 when the
backup cannot be made (a destination that is not a backup, a full disk).
"""

from __future__ import annotations

import argparse
import sys

from doorways_tui.cli.common import open_library
from doorways_tui.core.text import printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backup",
        help="back up the library to DEST while the app and workers run (incremental)",
        description="Copy library.db with SQLite's online backup (everything committed,"
        " even while the app or workers write), then the images and init images it names."
        " Files already in DEST with the same size and checksum are skipped, so running it"
        " again copies only what is new. DEST is a library: point --library at it to use"
        " it, or move it where the library belongs.",
    )
    p.add_argument("dest", metavar="DEST", help="the backup folder (created if missing)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress, only the summary")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from doorways_tui.store.backup import backup_library

    show = not args.quiet and sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if show and (done == total or done % 20 == 0):
            print(f"\rcopying files: {done}/{total}", end="", file=sys.stderr, flush=True)

    with open_library(args, readonly=True) as lib:
        result = backup_library(lib.root, Path(args.dest), progress=progress)
    if show and result.copied + result.already:
        print(file=sys.stderr)
    for relpath in result.missing:
        print(
            printable(f"doorways: warning: {relpath}: missing in the library; not backed up"),
            file=sys.stderr,
        )
    for relpath in result.damaged:
        print(
            printable(
                f"doorways: warning: {relpath}: its checksum is not the library's (damaged?)"
            ),
            file=sys.stderr,
        )
    print(printable(result.summary()))
    return 1 if result.missing or result.damaged else 0
