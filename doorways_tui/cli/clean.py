"""``doorways clean --rejected``: rejected images out of the library, into its trash.

Exit status: 0 when done (or nothing to do), 2 when refused (no --yes without a terminal
to ask on, a damaged trash), 1 when the answer was no.
"""

from __future__ import annotations

import argparse
import sys

from doorways_tui.cli.common import open_library
from doorways_tui.core.text import printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "clean",
        help="move rejected images to the library's trash (--undo puts them back)",
        description="Delete the rejected images: their rows leave the library and their"
        " files move to a trash folder inside it (<library>/trash/<time>/), so the last"
        " clean can be put back with --undo until --empty-trash deletes the files for"
        " good. Asks first; --yes skips the question (needed without a terminal).",
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--rejected", action="store_true", help="move every rejected image to the trash"
    )
    what.add_argument("--undo", action="store_true", help="put the last clean back")
    what.add_argument(
        "--empty-trash", action="store_true", help="delete the trash's images for good"
    )
    p.add_argument("--yes", "-y", action="store_true", help="do it without asking")
    p.set_defaults(handler=run)


def _confirm(question: str, *, yes: bool) -> bool:
    """True when told --yes or answered y on a terminal; without a terminal and --yes,
    a refusal (one line, nothing changed)."""
    from doorways_engine.errors import DoorwaysError

    if yes:
        return True
    if not sys.stdin.isatty():
        raise DoorwaysError(f"{question.rstrip('?')}: add --yes to do it (no terminal to ask on)")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    from doorways_tui.core.text import human_size
    from doorways_tui.workstation import clean

    with open_library(args) as lib:
        if args.undo:
            done = clean.restore_last(lib)
            if done is None:
                print("the trash is empty: nothing to restore")
                return 0
            print(printable(f"restored {done.restored} image(s) from {done.batch}"))
            if done.left:
                print(printable(f"{done.left} could not come back and stay in {done.batch}"))
            return 0
        if args.empty_trash:
            if not clean.batches(lib):
                print("the trash is empty")
                return 0
            where = clean.trash_folder(lib)
            if not _confirm(f"delete every image in {where} for good?", yes=args.yes):
                print("nothing deleted")
                return 1
            images, size = clean.empty_trash(lib)
            print(f"deleted {images} image(s) ({human_size(size)}) from the trash for good")
            return 0
        plan = clean.plan_clean(lib)
        if not plan.rows:
            print("no rejected images: nothing to clean")
            return 0
        n = len(plan.rows)
        question = f"move {n} rejected image(s) ({human_size(plan.size)}) to the trash?"
        if not _confirm(question, yes=args.yes):
            print("nothing moved")
            return 1
        done = clean.clean_rejected(lib, plan)
    print(printable(f"moved {done.removed} rejected image(s) to {done.batch}"))
    print(
        "  `doorways clean --undo` puts them back; `doorways clean --empty-trash` frees the space"
    )
    return 0
