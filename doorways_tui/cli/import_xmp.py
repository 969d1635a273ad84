"""``doorways import-xmp DIR``: ratings, rejects and stars made in another tool (digiKam,
darktable, Lightroom) brought back from the XMP of a folder, matched by checksum.

Exit status: 0 when every XMP found was read (matched or not), 1 when the folder holds no
XMP or some could not be read (each named on stderr), 2 for a folder that is not one.
"""

from __future__ import annotations

import argparse
import sys

from doorways_tui.cli.common import open_library
from doorways_tui.core.text import printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-xmp",
        help="bring ratings, rejects and stars back from XMP sidecars (or XMP inside PNGs)",
        description="Read the XMP of the images in DIR (NAME.png.xmp or NAME.xmp sidecars,"
        " else XMP inside the PNG) and set the library's rating, rejected and starred marks"
        " of the images they describe. Images are matched by checksum, never by name, so"
        " renamed files still match. xmp:Rating -1 rejects; 1-5 rates (and un-rejects); 0"
        " clears the rating; the colour label Green (or digiKam's 'accepted' pick) stars."
        " The whole import is one undo step (u in the app).",
    )
    p.add_argument("folder", metavar="DIR", help="a folder of images and their XMP sidecars")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from doorways_engine.errors import DoorwaysError
    from doorways_tui.export.xmp_import import import_folder

    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DoorwaysError(f"{folder} {what}")
    with open_library(args) as lib:
        result = import_folder(lib, folder)
    for path, why in result.unreadable:
        print(printable(f"doorways: warning: {path.name}: {why}; skipped"), file=sys.stderr)
    if not (result.updated or result.unchanged or result.unmatched or result.unreadable):
        print(printable(f"no XMP in {folder}: nothing to import"))
        return 1
    print(printable(result.summary()))
    return 1 if result.unreadable else 0
