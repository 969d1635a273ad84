"""``doorways export --starred DIR``: the app's export (E) from the shell.

Exit status: 0 when every chosen image was exported (or already there), 1 when no image
matched or some were skipped as missing or damaged (each named on stderr), 2 when the
folder cannot take the export (nothing is left half-written; run again to resume).
"""

from __future__ import annotations

import argparse
import sys

from doorways_tui.cli.args import whole
from doorways_tui.cli.common import open_library
from doorways_tui.core.text import printable
from doorways_tui.core.triage import DOORS_VIEW, STARRED_VIEW, VIEWS
from doorways_tui.export.xmp import XMP_MODES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="copy images (PNGs with metadata), a JSON/CSV sidecar and a contact sheet to DIR",
        description="Copy images, a JSON/CSV sidecar and a contact sheet to DIR. Images"
        " already there are skipped, so running it again resumes or adds to an export;"
        " damaged or missing images are named on stderr and skipped (exit 1).",
    )
    p.add_argument("folder", metavar="DIR", help="where to put them (created if missing)")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--starred",
        action="store_true",
        help="the starred images, except any also rejected (rejected wins)",
    )
    which.add_argument(
        "--view",
        choices=[view.name for view in VIEWS],
        help="the images of one view",
    )
    which.add_argument(
        "--doors", type=whole(0, 9), metavar="N", help="the images with N doors (0-9)"
    )
    p.add_argument("--search", metavar="TEXT", help="only images whose prompt or note has TEXT")
    p.add_argument("--theme", metavar="NAME", help="only images of this theme")
    p.add_argument("--no-sheet", action="store_true", help="skip the contact sheet")
    p.add_argument(
        "--xmp",
        choices=XMP_MODES,
        default="sidecar",
        help="ratings, picks and keywords for photo tools (digiKam, darktable, Lightroom):"
        " a NAME.png.xmp file beside each image (default; the PNG stays a byte copy),"
        " inside the PNG, both, or none",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from doorways_engine.errors import DoorwaysError
    from doorways_tui.export.folder import all_images, export_folder, export_images
    from doorways_tui.store import ImageFilter

    if not (args.starred or args.view or args.doors is not None):
        raise DoorwaysError("say which images: --starred, --view VIEW or --doors N")
    folder = export_folder(args.folder)
    view = STARRED_VIEW if args.starred else (DOORS_VIEW if args.doors is not None else args.view)
    with open_library(args, readonly=True) as lib:
        theme_id = None
        if args.theme:
            theme = lib.tree.theme_by_name(args.theme)
            if theme is None:
                raise DoorwaysError(f"no theme named {args.theme!r}")
            theme_id = theme.id
        flt = ImageFilter(view=view, door_count=args.doors, text=args.search, theme_id=theme_id)
        flt.where()  # validates (a door count outside 0-9 matches nothing, but say so)
        result = export_images(
            lib, all_images(lib, flt), folder, sheet=not args.no_sheet, xmp=args.xmp
        )
        for image_id, why in result.bad:
            where = lib.images.image(image_id).path
            print(
                printable(f"doorways: warning: image {image_id} ({where}): {why}; not exported"),
                file=sys.stderr,
            )
    if not result.files and not result.bad:
        print("nothing to export: no image matches")
        return 1
    print(printable(result.summary()))  # names the folder, which may come from a script
    for path in (result.sidecar_json, result.sidecar_csv, result.sheet):
        if path is not None:
            print(f"  {printable(path.name)}")
    return 1 if result.bad else 0
