"""``doorways index``: judge with CLIP every finished image that has no current suggestion
(older images, images judged from other bytes, or all of them after a probe change), each
with the CLIP that made it, on the GPU if there is one (``--device``), with a progress bar.

Exit status: 0 when every image was judged, 1 when some were skipped (named on stderr:
their file or their models are missing), 2 when nothing could start.
"""

from __future__ import annotations

import argparse
import sys

from doorways_tui.cli.common import open_library
from doorways_tui.core.text import printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index",
        help="judge older images with CLIP: suggested doors, figures, prompt match",
        description="Compute what is missing or stale (embeddings and suggestions), each"
        " image with the CLIP that made it; after a change of the [curation] probes every"
        " image is judged again. Suggestions never change your own tags.",
    )
    p.add_argument("--theme", metavar="NAME", help="only this theme's images")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 (default: settings)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress, only the summary")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from doorways_tui.core.settings import load_settings
    from doorways_tui.store import StoreError

    settings = load_settings()
    with open_library(args) as lib:
        theme_id = None
        if args.theme is not None:
            theme = lib.tree.theme_by_name(args.theme)
            if theme is None:
                raise StoreError(f"no theme named {args.theme!r}")
            theme_id = theme.id
        digest = settings.curation.digest()
        total = lib.curation.pending_count(probes=digest, theme_id=theme_id)
        if not total:
            print("every image is judged already (nothing to index)")
            return 0
        from doorways_engine.models import pick_device  # torch loads here

        pick_device(args.device or settings.device)  # a bad device: one line, nothing done
        pruned = lib.curation.prune()
        result = _index(lib, args, settings, theme_id=theme_id, total=total)
    for image_id, why in sorted(result.skipped.items()):
        print(printable(f"doorways: warning: image {image_id} skipped: {why}"), file=sys.stderr)
    rate = result.judged / result.seconds if result.seconds else 0.0
    line = f"judged {result.judged} image(s) in {result.seconds:.1f} s ({rate:.1f}/s"
    line += f" on {result.device})" if result.device else ")"
    if result.skipped:
        line += f"; {len(result.skipped)} skipped"
    if pruned:
        line += f"; {pruned} row(s) of deleted images removed"
    print(printable(line))
    return 1 if result.skipped else 0


def _index(lib, args, settings, *, theme_id: int | None, total: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from doorways_tui.worker.curation import index_images  # torch loads here

    console = Console(stderr=True)
    kwargs = dict(
        probes=settings.curation,
        device=args.device or settings.device,
        model_dir=settings.model_dir,
        theme_id=theme_id,
    )
    if args.quiet or not console.is_terminal:
        return index_images(lib, **kwargs)
    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress("judging", *columns, console=console) as bar:
        task = bar.add_task("index", total=total)
        return index_images(
            lib, **kwargs, progress=lambda done, n: bar.update(task, completed=done, total=n)
        )
