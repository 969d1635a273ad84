"""``doorways queue add|list|cancel|retry``: the job queue from the shell.

Everything goes through the library, so these commands, the workers and the app all see
the same queue. Only ``queue add`` touches the engine's config (to validate options) and,
like ``theme queue``, refuses models whose weights are not downloaded (no torch: files and
the registry) unless told ``--allow-missing-models``.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from typing import Any

from doorways_engine.config import SQLITE_INT_MAX
from doorways_tui.cli.args import whole
from doorways_tui.cli.common import confirm_large, open_library
from doorways_tui.core.text import duration, printable
from doorways_tui.store import Library, QueueItem, StoreError
from doorways_tui.store.queue import LARGE_QUEUE

DEFAULT_THEME = "unsorted"
PRIORITY = whole(-SQLITE_INT_MAX, SQLITE_INT_MAX)  # any that SQLite holds


def parse_seeds(text: str) -> list[int]:
    """``"1-8"``, ``"1,5,9"`` or ``"0-3,10"`` -> seeds in order, without repeats."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise StoreError(f"seeds {text!r}: {part!r} is not a number or a range like 1-8")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise StoreError(f"seeds {text!r}: range {part} runs backwards")
        if hi > SQLITE_INT_MAX:
            raise StoreError(f"seeds {text!r}: {hi} is larger than {SQLITE_INT_MAX}")
        if hi - lo >= 10_000:
            raise StoreError(f"seeds {text!r}: {hi - lo + 1} seeds is more than 10000 at once")
        seeds += [s for s in range(lo, hi + 1) if s not in seeds]
    return seeds


def register(sub: argparse._SubParsersAction) -> None:
    from doorways_tui.cli.options import add_generation_options
    from doorways_tui.cli.theme import add_allow_missing_models

    q = sub.add_parser("queue", help="add, list, cancel and retry queued jobs")
    qs = q.add_subparsers(dest="queue_command", metavar="ACTION", required=True)

    add = qs.add_parser("add", help="queue one job per seed (workers pick them up)")
    add_generation_options(add)
    add.add_argument("--seeds", help="seeds to queue: 1-8, 1,5,9 or 0-3,10 (default: --seed)")
    add.add_argument(
        "--theme", default=DEFAULT_THEME, help="theme to file it under (default %(default)s)"
    )
    add.add_argument(
        "--variant", type=whole(1), metavar="ID", help="queue onto this existing prompt variant"
    )
    add.add_argument("--priority", type=PRIORITY, default=0, help="higher runs first (default 0)")
    add.add_argument(
        "--yes", action="store_true", help=f"queue more than {LARGE_QUEUE} jobs without asking"
    )
    add_allow_missing_models(add)
    add.set_defaults(handler=run_add)

    ls = qs.add_parser("list", help="running and queued jobs, and recent failures")
    ls.add_argument("--status", choices=["queued", "running", "done", "failed", "cancelled"])
    ls.add_argument("--all", action="store_true", help="the latest jobs of every status")
    ls.add_argument("--limit", type=whole(1), default=200)
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.set_defaults(handler=run_list)

    cancel = qs.add_parser("cancel", help="cancel queued or running jobs")
    cancel.add_argument("ids", type=whole(1), nargs="*", metavar="ID")
    cancel.add_argument("--all-queued", action="store_true", help="every queued job")
    cancel.set_defaults(handler=run_cancel)

    retry = qs.add_parser("retry", help="queue failed or cancelled jobs again")
    retry.add_argument("ids", type=whole(1), nargs="*", metavar="ID")
    retry.add_argument("--failed", action="store_true", help="every failed job")
    retry.set_defaults(handler=run_retry)


def run_add(args: argparse.Namespace) -> int:
    from doorways_tui.cli.options import config_from_args
    from doorways_tui.cli.theme import refuse_missing_models
    from doorways_tui.core.settings import load_settings
    from doorways_tui.themes.models import check_configs

    seeds = parse_seeds(args.seeds) if args.seeds else [args.seed]
    confirm_large(len(seeds), yes=args.yes)
    with open_library(args, create=True) as lib:
        if args.variant is not None:
            variant = lib.tree.variant(args.variant)
            config = config_from_args(args, prompts=variant.prompt, style=variant.style)
        else:
            if not (args.prompt or "").strip():
                raise StoreError("queue add needs a prompt (or --variant ID)")
            config = config_from_args(args)
        models = check_configs([config], load_settings().model_dir)
        refuse_missing_models(models, allow=args.allow_missing_models)
        if args.variant is None:
            theme = lib.tree.add_theme(args.theme)
            variant = lib.tree.root_variant(theme_id=theme.id, prompt=config.prompts, style=config.style)
        jobs = lib.queue.queue_jobs(
            variant.id, seeds, config.to_dict(), priority=args.priority, undoable=False
        )
        counts = lib.queue.counts()
        workers = sum(w.alive for w in lib.workers.all())
    ids = f"{jobs[0].id}-{jobs[-1].id}" if len(jobs) > 1 else str(jobs[0].id)
    print(
        f"queued {len(jobs)} job(s) [{ids}] for variant {variant.id}: {variant.prompt!r}"
        f" ({counts.queued} queued, {counts.running} running, {workers} worker(s) alive)"
    )
    if not models.ready:
        print(f"warning: {models.refusal()}")
    if not workers:
        print("no worker is running: start one with `doorways worker --detach`")
    return 0


# A running job whose worker's process is gone on this host: ``queue list`` and ``status``
# only look (read-only), so they say so; a writer puts the job back in the queue.
GONE_NOTE = "requeued when the app or a worker next looks"


def gone_label(worker_id: str | None, gone: Mapping[str, int]) -> str | None:
    """``running (worker ID, pid N, gone; requeued ...)`` for a job of a gone worker, else None."""
    if worker_id is None or worker_id not in gone:
        return None
    return f"running (worker {worker_id}, pid {gone[worker_id]}, gone; {GONE_NOTE})"


def run_list(args: argparse.Namespace) -> int:
    with open_library(args, readonly=True) as lib:
        if args.status or args.all:
            items = _as_items(lib, lib.queue.jobs(status=args.status, limit=args.limit))
        else:
            items = lib.queue.queue_view(queued_limit=args.limit)
        counts = lib.queue.counts()
        gone = lib.claims.gone_workers()
    if args.json:
        for item in items:
            data = _item_dict(item)
            if item.status == "running" and item.worker_id in gone:
                data["worker_gone"] = True  # status stays "running": that is what is stored
            print(json.dumps(data, sort_keys=True))
        return 0
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    console.print(queue_table(items, gone=gone))
    for item in items:
        if item.status == "running" and (label := gone_label(item.worker_id, gone)):
            console.print(f"[yellow]job {item.id}:[/] {escape(printable(label))}", soft_wrap=True)
    for item in items:
        if item.status == "failed" and item.error:
            error = escape(printable(item.error, newlines=True))
            console.print(f"[red]job {item.id} failed:[/] {error}", soft_wrap=True)
    console.print(
        f"{counts.running} running, {counts.queued} queued, {counts.done} done,"
        f" {counts.failed} failed, {counts.cancelled} cancelled"
    )
    return 0


def _as_items(lib: Library, jobs) -> list[QueueItem]:
    prompts: dict[int, str] = {}
    items = []
    for job in jobs:
        if job.variant_id not in prompts:
            prompts[job.variant_id] = lib.tree.variant(job.variant_id).prompt
        data = {k: getattr(job, k) for k in QueueItem.__dataclass_fields__ if k != "prompt"}
        items.append(QueueItem(**data, prompt=prompts[job.variant_id]))
    return items


def _item_dict(item: QueueItem) -> dict[str, Any]:
    return {k: getattr(item, k) for k in QueueItem.__dataclass_fields__}


_COLUMNS = (("ID", "right"), ("status", "left"), ("pri", "right"), ("seed", "right"))
_COLUMNS += (("progress", "right"), ("it/s", "right"), ("eta", "right"), ("worker", "left"))
_STYLE = {"running": "green", "failed": "red", "done": "dim", "cancelled": "dim"}


def queue_table(items: list[QueueItem], *, gone: Mapping[str, int] | None = None):
    """The jobs as a rich table; the prompt (or, for a failed job, its error) takes the
    width that is left and ends in an ellipsis. The other columns have fixed widths, so a
    long prompt can never squeeze the job id, status or seed out of the table. Text from
    the library goes through ``printable``: a prompt cannot drive the terminal. A running
    job whose worker is in ``gone`` (id -> pid: its process ended on this host) says
    "running (gone)"; the line under the table says more."""
    from rich.table import Table
    from rich.text import Text

    rows = []
    for it in items:
        running = it.status == "running"
        status = it.status
        if running and it.worker_id in (gone or {}):
            status, running = "running (gone)", False  # no live rate or ETA
        rows.append(
            (
                str(it.id),
                status,
                str(it.priority),
                str(it.seed),
                f"{it.step}/{it.total}" if it.total else "-",
                f"{it.it_per_s:.2f}" if it.it_per_s and running else "",
                duration(it.eta_s) if it.eta_s and running else "",
                printable(it.worker_id or ""),
            )
        )
    table = Table(box=None, header_style="bold", pad_edge=False)
    for k, (name, justify) in enumerate(_COLUMNS):
        width = max([len(name), *(len(r[k]) for r in rows)])
        # A fixed width keeps rich's collapsing off these columns; only the prompt shrinks.
        table.add_column(name, justify=justify, no_wrap=True, width=width, min_width=width)
    # Wrappable as a column (so rich shrinks it first), but each cell is one line that
    # ends in an ellipsis.
    table.add_column("prompt / error", overflow="ellipsis", min_width=10)
    for it, row in zip(items, rows, strict=True):
        gone_job = row[1] != it.status
        status = Text(row[1], style="yellow" if gone_job else _STYLE.get(it.status, ""))
        if it.status == "failed":
            text = Text(printable(it.error or ""), style="red", no_wrap=True, overflow="ellipsis")
        else:
            text = Text(printable(it.prompt), no_wrap=True, overflow="ellipsis")
        table.add_row(row[0], status, *row[2:], text)
    return table


def _each_job(args: argparse.Namespace, *, also: str | None, flag: str, act, done: str) -> int:
    """Apply ``act(lib, job_id)`` to the ids given, plus every job in status ``also``
    when ``flag`` was passed; print one line per job (or one line that there are none,
    exit 0, as ``cancel --all-queued`` with an empty queue)."""
    with open_library(args) as lib:
        ids = list(args.ids)
        if also:
            ids += [j.id for j in lib.queue.jobs(status=also, limit=1_000_000)]
            if not ids:  # asked for every such job, and there are none: nothing to do
                print(f"no {also} jobs to {args.queue_command}")
                return 0
        if not ids:
            raise StoreError(f"queue {args.queue_command} needs job ids (or {flag})")
        for job_id in ids:
            print(f"job {act(lib, job_id).id} {done}")
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    """The ids given, one line each; with --all-queued every queued job in one transaction
    (one line: a million queued jobs is one statement, not a million commits)."""
    if not args.all_queued:
        return _each_job(
            args, also=None, flag="--all-queued", act=lambda lib, i: lib.queue.cancel_job(i), done="cancelled"
        )
    with open_library(args) as lib:
        for job_id in args.ids:
            print(f"job {lib.queue.cancel_job(job_id).id} cancelled")
        print(f"cancelled {lib.queue.cancel_queued()} queued job(s)")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    also = "failed" if args.failed else None
    return _each_job(
        args, also=also, flag="--failed", act=lambda lib, i: lib.queue.retry_job(i), done="queued again"
    )
