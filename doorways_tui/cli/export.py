"""``doorways export --starred DIR``: the app's export (E) from the shell."""

from __future__ import annotations

import argparse
from pathlib import Path

from doorways_tui.cli.queue import open_library, user_errors


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="copy images (PNGs with metadata), a JSON/CSV sidecar and a contact sheet to DIR",
    )
    p.add_argument("folder", metavar="DIR", help="where to put them (created if missing)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--starred", action="store_true", help="the starred images")
    which.add_argument(
        "--view",
        choices=["all", "starred", "untagged", "rejected"],
        help="the images of one view",
    )
    which.add_argument("--doors", type=int, metavar="N", help="the images with N doors (0-9)")
    p.add_argument("--search", metavar="TEXT", help="only images whose prompt or note has TEXT")
    p.add_argument("--theme", metavar="NAME", help="only images of this theme")
    p.add_argument("--no-sheet", action="store_true", help="skip the contact sheet")
    p.set_defaults(handler=run)


@user_errors
def run(args: argparse.Namespace) -> int:
    from doorways_tui.export import all_images, export_images
    from doorways_tui.store import ImageFilter, StoreError

    if not (args.starred or args.view or args.doors is not None):
        raise StoreError("say which images: --starred, --view VIEW or --doors N")
    view = "starred" if args.starred else ("doors" if args.doors is not None else args.view)
    with open_library(args, readonly=True) as lib:
        theme_id = None
        if args.theme:
            theme = lib.theme_by_name(args.theme)
            if theme is None:
                raise StoreError(f"no theme named {args.theme!r}")
            theme_id = theme.id
        flt = ImageFilter(view=view, door_count=args.doors, text=args.search, theme_id=theme_id)
        flt.where()  # validates (a door count outside 0-9 matches nothing, but say so)
        if args.doors is not None and not 0 <= args.doors <= 9:
            raise StoreError(f"--doors {args.doors} is not 0-9")
        result = export_images(
            lib, all_images(lib, flt), Path(args.folder), sheet=not args.no_sheet
        )
    if not result.files:
        print("nothing to export: no image matches")
        return 1
    print(result.summary())
    for path in (result.sidecar_json, result.sidecar_csv, result.sheet):
        if path is not None:
            print(f"  {path.name}")
    return 0
