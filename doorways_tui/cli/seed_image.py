"""``doorways seed-image``: draw a layout sketch (soft dark door-shaped blotches) to start
a run from, where symmetry alone cannot place the doors (see docs/method.md, "Seed
images"). No library and no torch."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "seed-image",
        help="draw a layout sketch (1-3 dark door blotches) to start a run from",
        description="Draw a seed image: one, two or three soft, slightly darker door-shaped"
        " blotches on a neutral grey (or on a blurred PARENT image). Start a run from it with"
        " `--init-image seed.png --size-weighting layout`: the large cutouts then grow the"
        " doors where the blotches are.",
    )
    p.add_argument("--doors", type=int, default=2, help="how many doors, 1-3 (default 2)")
    p.add_argument("--size", default="768x384", help="WxH, the run's size (default 768x384)")
    p.add_argument(
        "--x",
        metavar="X,X",
        help="door centres as fractions of the width (default: the middle of each"
        " equal part, 0.25,0.75 for two)",
    )
    p.add_argument("--on", metavar="PARENT", help="draw on this image, blurred, not on grey")
    p.add_argument("-o", "--output", required=True, metavar="PNG", help="where to write it")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from doorways_engine.config import parse_size
    from doorways_engine.seed_image import open_parent, parse_positions, sketch
    from doorways_tui.core.text import printable
    from doorways_tui.core.triage import plural

    size = parse_size(args.size)
    positions = parse_positions(args.x) if args.x else None
    parent = open_parent(Path(args.on).expanduser()) if args.on else None
    image = sketch(size=size, doors=args.doors, positions=positions, parent=parent)
    out = Path(args.output).expanduser()
    image.save(out, format="PNG")
    print(
        printable(
            f"wrote {out} ({size[0]}x{size[1]}, {plural(args.doors, 'door')}); start a run from it"
            f" with --init-image {out} --size-weighting layout"
        )
    )
    return 0
