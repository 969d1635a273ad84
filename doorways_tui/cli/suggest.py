"""``doorways suggest --theme NAME``: what CLIP suggests for each image of a theme (door
count, figures, prompt match, each with its confidence) beside the artist's own tag."""

from __future__ import annotations

import argparse
import json

from doorways_tui.cli.common import open_library
from doorways_tui.core.text import printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("suggest", help="CLIP's suggestions for a theme's images, with confidences")
    p.add_argument("--theme", metavar="NAME", required=True, help="the theme")
    p.add_argument(
        "--disagree", action="store_true", help="only images whose door tag the suggestion disputes"
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from doorways_tui.store import ImageFilter, StoreError

    with open_library(args, readonly=True) as lib:
        theme = lib.tree.theme_by_name(args.theme)
        if theme is None:
            raise StoreError(f"no theme named {args.theme!r}")
        flt = ImageFilter(theme_id=theme.id, disagrees=args.disagree)
        rows, after = [], None
        while page := lib.images.images(flt, after_id=after, limit=500):
            after = page[-1].id
            suggestions = lib.curation.suggestions(i.id for i in page)
            rows += [_row(image, suggestions.get(image.id)) for image in page]
    if not args.json:
        print("     id  tag  doors (conf)  figures (conf)      match  left   right")
    for row in rows:
        print(json.dumps(row, sort_keys=True) if args.json else printable(_line(row)))
    return 0


def _row(image, s) -> dict:
    row = {"id": image.id, "door_count": image.door_count, "rejected": image.rejected}
    if s is None:
        return {**row, "suggested": False}
    return {
        **row,
        "suggested": True,
        "doors": s.doors,
        "doors_confidence": _round(s.doors_confidence),
        "figures": s.figures,
        "figures_confidence": _round(s.figures_confidence),
        "match": _round(s.match),
        "match_left": _round(s.match_left),
        "match_right": _round(s.match_right),
        "model": s.model,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _line(row: dict) -> str:
    tag = "x" if row["rejected"] else ("-" if row["door_count"] is None else row["door_count"])
    head = f"{row['id']:>7}  {tag!s:>3}"
    if not row["suggested"]:
        return f"{head}  not judged yet (doorways index)"

    def num(value: float | None) -> str:
        return "   -  " if value is None else f"{value:6.2f}"

    doors = "-" if row["doors"] is None else row["doors"]
    figures = {None: "-", True: "likely", False: "unlikely"}[row["figures"]]
    conf = row["figures_confidence"]
    return (
        f"{head}  {doors!s:>5} ({_pct(row['doors_confidence'])})"
        f"  {figures:>8} ({_pct(conf)})  {num(row['match'])} {num(row['match_left'])}"
        f" {num(row['match_right'])}"
    )


def _pct(value: float | None) -> str:
    return "  -" if value is None else f"{round(100 * value):>3}%"
