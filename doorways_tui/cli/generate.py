"""``doorways generate``: one image, in the foreground, with a progress bar."""

from __future__ import annotations

import argparse
from pathlib import Path

from doorways_engine.config import GenerationConfig
from doorways_engine.errors import ConfigError
from doorways_tui.cli.options import add_generation_options, config_from_args


def check_outputs(output: Path, *, previews: str | None, save_latent: str | None) -> None:
    """Refuse output paths that cannot be written before the models load, not after the
    run: a folder named as the image, a file where a folder must be."""
    if output.suffix.lower() != ".png":
        raise ConfigError(f"output {output} must end in .png")
    for path, option in ((output, "-o"), (save_latent, "--save-latent")):
        if path is not None and Path(path).is_dir():
            raise ConfigError(f"{option} {path} is a folder; name a file in it")
        _check_parent(path, option)
    if previews is not None and Path(previews).exists() and not Path(previews).is_dir():
        raise ConfigError(f"--previews {previews} is a file, not a folder")


def _check_parent(path: Path | str | None, option: str) -> None:
    """The nearest existing folder above ``path`` must be a folder (it is made if missing)."""
    if path is None:
        return
    for parent in Path(path).absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{option} {path}: {parent} is a file, not a folder")
            return


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="make one image now, with a progress bar")
    add_generation_options(p)
    p.add_argument("-o", "--output", default="out.png", help="PNG to write (default %(default)s)")
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 (default: settings)")
    p.add_argument(
        "--save-latent", metavar="PATH", help="also save the final latent to continue later"
    )
    p.add_argument(
        "--resume", metavar="STATE", help="continue from a state saved with --save-latent"
    )
    p.add_argument(
        "--previews", metavar="DIR", help="write a preview PNG every --preview-every steps"
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the GPU memory estimate per image and the batch that fits on the"
        " visible GPU; load and write nothing",
    )
    p.set_defaults(handler=run)


BATCH_LIMIT = 64  # the most images a dry run considers for one batch


def dry_run(config: GenerationConfig, *, device: str | None, model_dir: Path | None) -> int:
    """Print the memory estimate of ``config``'s run and the batch that would fit."""
    from rich.console import Console
    from rich.markup import escape

    from doorways_engine.config import resolve_precision
    from doorways_engine.memory import (
        GB,
        describe,
        estimate,
        fits,
        free_bytes,
        pick_batch,
        reference_estimate,
    )
    from doorways_engine.models import pick_device, spec_for
    from doorways_tui.core.text import printable

    console = Console()
    spec, notes = spec_for(config, model_dir)
    mode = resolve_precision(config.precision, "cuda")
    size = f"{config.width}x{config.height}"
    console.print(
        f"memory estimate on a GPU: {escape(printable(spec.label))}, {size},"
        f" {config.cutn} cutouts, precision {mode}"
    )
    plain = estimate(config, spec=spec, recompute=False)
    recomputed = estimate(config, spec=spec, recompute=True)
    console.print(f"  {describe(plain)}")
    console.print(f"  recomputing the full-resolution blocks: {describe(recomputed)}")
    ref = reference_estimate(spec, width=config.width, height=config.height, cutn=config.cutn)
    console.print(f"  the public VQGAN-CLIP script at this size: {ref.total(1) / GB:.1f} GB")
    for note in notes:
        console.print(f"  [yellow]note:[/] {escape(printable(note))}")
    target = pick_device(device)
    free = free_bytes(target)
    if free is None:
        console.print("no GPU visible here: nothing to fit a batch to")
        return 0
    batch = pick_batch(config, free_bytes=free, limit=BATCH_LIMIT, spec=spec)
    how = (
        "" if fits(config, spec=spec, batch=batch, free=free, recompute=False) else ", recomputing"
    )
    console.print(
        f"{target}: {free / GB:.1f} GB free -> a batch of {batch} fits{how}"
        f" (of at most {BATCH_LIMIT})"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from doorways_engine import generate, load_models, load_state, save_png, save_state
    from doorways_engine.errors import Cancelled
    from doorways_tui.core.settings import load_settings
    from doorways_tui.core.text import printable

    settings = load_settings()
    console = Console(stderr=True)
    overrides: dict[str, object] = {}
    if args.resume:
        state = load_state(Path(args.resume))
        overrides = {
            "resume_latent": str(Path(args.resume).resolve()),
            "start_step": int(state["step"]),
        }
    config = config_from_args(args, **overrides)
    if args.dry_run:
        return dry_run(config, device=args.device or settings.device, model_dir=settings.model_dir)
    output = Path(args.output)
    check_outputs(output, previews=args.previews, save_latent=args.save_latent)
    with console.status("loading models…"):
        models = load_models(
            config, device=args.device or settings.device, model_dir=settings.model_dir
        )
    label = escape(printable(models.files.label))  # names and paths from files and config
    console.print(f"[dim]models: {label} on {models.device}[/]")
    columns = (
        TextColumn("step {task.completed}/{task.total}"),
        BarColumn(),
        TextColumn("{task.fields[rate]:.2f} it/s"),
        TimeRemainingColumn(),
        TextColumn("loss {task.fields[loss]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(
            "generate", total=config.steps, completed=config.start_step, rate=0.0, loss="…"
        )

        def callback(step: int, info) -> None:
            fields = {"rate": info.it_per_s}
            if info.losses:
                fields["loss"] = f"{info.losses['total']:.4f}"
            bar.update(task, completed=step, **fields)
            if args.previews and info.preview is not None:
                save_png(Path(args.previews) / f"step{step:05d}.png", info.preview, config)
            if args.save_latent and info.preview is not None:
                save_state(Path(args.save_latent), info.state())

        try:
            result = generate(config, callback=callback, models=models)
        except Cancelled:  # pragma: no cover - no cancel hook from the CLI
            return 1
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(printable(note))}")
    save_png(
        output,
        result.image,
        result.config,
        extra={"losses": result.losses, "seconds": result.seconds},
    )
    size = f"{result.image.width}x{result.image.height}"
    console.print(f"wrote {escape(printable(str(output)))} ({size}, {result.seconds:.1f} s)")
    return 0
