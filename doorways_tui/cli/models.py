"""``doorways models list|fetch|verify``: the weights Doorways knows and where they are."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, fetch and verify model weights")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    lst = msub.add_parser("list", help="known models and whether they are downloaded")
    lst.set_defaults(handler=run_list)
    fetch = msub.add_parser("fetch", help="download a model into the cache (resumable)")
    fetch.add_argument("names", nargs="+", metavar="NAME")
    fetch.set_defaults(handler=run_fetch)
    verify = msub.add_parser("verify", help="check a downloaded model's checksum and that it loads")
    verify.add_argument("names", nargs="+", metavar="NAME")
    verify.set_defaults(handler=run_verify)


def run_list(args: argparse.Namespace) -> int:
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from doorways_engine.model_files import clip_path, demo_paths, found_clip, vqgan_paths
    from doorways_engine.registry import VQGANS, clip_entries
    from doorways_tui.core.settings import load_settings

    model_dir = load_settings().model_dir
    names = [*VQGANS, *clip_entries(), "demo"]
    table = Table(title=f"models in {model_dir}", box=box.SIMPLE_HEAD)
    # The name is what `models fetch` and --models take: a fixed width keeps rich from
    # ever cutting it; the other columns wrap and the description folds instead.
    width = max(map(len, names))
    table.add_column("name", no_wrap=True, width=width, min_width=width)
    table.add_column("kind")
    table.add_column("size")
    table.add_column("status", no_wrap=True, min_width=len("not downloaded"))
    table.add_column("about", overflow="fold")
    for name, entry in VQGANS.items():
        ok = all(p.is_file() for p in vqgan_paths(model_dir, name))
        table.add_row(name, "VQGAN", f"~{entry.approx_mb} MB", _status(ok), entry.description)
    for name, entry in clip_entries().items():
        found = found_clip(model_dir, name)
        status = _status(found is not None)
        if found is not None and found != clip_path(model_dir, name):  # another tool's
            status = f"[green]in {escape(str(found.parent))}[/]"
        size = f"~{entry.approx_mb} MB" if entry.approx_mb else ""
        table.add_row(name, "CLIP", size, status, "")
    built = all(p.is_file() for p in demo_paths(model_dir))
    table.add_row(
        "demo",
        "both",
        "~27 MB",
        "[green]built[/]" if built else "[dim]not built[/]",
        "tiny random-weight models, built on first use: no download",
    )
    Console().print(table)
    return 0


def _status(ok: bool) -> str:
    return "[green]downloaded[/]" if ok else "[dim]not downloaded[/]"


def run_fetch(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from doorways_engine.model_files import check_model_name
    from doorways_engine.models import fetch_model
    from doorways_tui.core.settings import load_settings

    for name in args.names:  # a typo fails before anything is drawn or downloaded
        check_model_name(name)
    model_dir = load_settings().model_dir
    for name in args.names:
        # The bar appears with the first bytes: an error before any (offline, dead
        # link) is not preceded by an empty "0/? bytes" bar.
        bar = Progress(
            "[bold]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn()
        )
        task = bar.add_task(name, total=None)
        started = False

        def progress(done: int, total: int | None, task=task, bar=bar) -> None:
            nonlocal started
            if not started:
                bar.start()
                started = True
            bar.update(task, completed=done, total=total)

        try:
            paths = fetch_model(name, model_dir, progress=progress)
        finally:
            if started:
                bar.stop()
        for path in paths:
            print(f"{name}: {path}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from doorways_engine.model_files import DEMO, check_model_name, demo_paths
    from doorways_tui.core.settings import load_settings

    for name in args.names:  # a typo fails before any model is hashed or loaded
        if name != DEMO:
            check_model_name(name)
    model_dir = load_settings().model_dir
    for name in args.names:
        if name == DEMO:
            # Built from fixed seeds on first use, never downloaded: no checksum to check.
            built = all(p.is_file() for p in demo_paths(model_dir))
            state = "built" if built else "not built yet (built on first use)"
            print(f"{DEMO}: {state}; tiny models made here, not downloaded: nothing to verify")
            continue
        from doorways_engine.models import verify_model

        print(verify_model(name, model_dir))
    return 0
