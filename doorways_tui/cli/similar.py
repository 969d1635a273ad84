"""``doorways similar ID``: the images most like image ID (nearest neighbours of its CLIP
embedding, among images embedded by the same CLIP), most similar first."""

from __future__ import annotations

import argparse
import json

from doorways_tui.cli.args import whole
from doorways_tui.cli.common import open_library
from doorways_tui.core.text import printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("similar", help="images most like image ID (CLIP nearest neighbours)")
    p.add_argument("image_id", type=whole(1), metavar="ID", help="an image id")
    p.add_argument(
        "--limit", "-n", type=whole(1, 10_000), default=10, metavar="N",
        help="how many (default %(default)s)",
    )  # fmt: skip
    p.add_argument("--theme", metavar="NAME", help="only images of this theme")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from doorways_tui.store import StoreError

    with open_library(args, readonly=True) as lib:
        theme_id = None
        if args.theme is not None:
            theme = lib.tree.theme_by_name(args.theme)
            if theme is None:
                raise StoreError(f"no theme named {args.theme!r}")
            theme_id = theme.id
        found = lib.curation.neighbours(args.image_id, limit=args.limit, theme_id=theme_id)
        rows = []
        for n in found:
            image = lib.images.image(n.image_id)
            rows.append(
                {"id": n.image_id, "similarity": round(n.similarity, 4), "path": image.path}
            )
    for row in rows:
        if args.json:
            print(json.dumps(row, sort_keys=True))
        else:
            print(printable(f"{row['id']:>7}  {row['similarity']:.3f}  {row['path']}"))
    return 0
