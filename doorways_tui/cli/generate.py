"""``doorways generate``: one image, in the foreground, with a progress bar."""

from __future__ import annotations

import argparse
from pathlib import Path

from doorways_tui.cli.args import config_value
from engine.config import (
    PANORAMA_MODES,
    SIZE_WEIGHTINGS,
    GenerationConfig,
    parse_size,
    split_image_prompt,
)
from engine.errors import ConfigError


def add_generation_options(
    parser: argparse.ArgumentParser, *, prompt_required: bool = True
) -> None:
    """The options every command that makes images shares (generate, queue add)."""
    d = GenerationConfig()
    parser.add_argument(
        "prompt",
        nargs=None if prompt_required else "?",
        help='text prompt; "a:1 | b:-0.5" for several weighted prompts (or left | right with --panorama)',
    )
    g = parser.add_argument_group("generation")
    g.add_argument(
        "--style", default=d.style, help='appended to each prompt, e.g. "by James Gurney"'
    )
    g.add_argument(
        "--size",
        default=f"{d.width}x{d.height}",
        help="WIDTHxHEIGHT, snapped to the VQGAN factor (default %(default)s)",
    )
    g.add_argument(
        "--steps",
        type=config_value("steps"),
        default=d.steps,
        help="optimisation steps (default %(default)s)",
    )
    g.add_argument(
        "--lr",
        type=config_value("lr"),
        default=d.lr,
        help="Adam learning rate (default %(default)s)",
    )
    g.add_argument(
        "--seed",
        type=config_value("seed"),
        default=d.seed,
        help="random seed (default %(default)s)",
    )
    g.add_argument(
        "--cutn",
        type=config_value("cutn"),
        default=d.cutn,
        help="cutouts per step (default %(default)s)",
    )
    g.add_argument(
        "--cut-pow",
        type=config_value("cut_pow"),
        default=d.cut_pow,
        help=">1 favours small cutouts (default %(default)s)",
    )
    g.add_argument("--image-prompt", action="append", default=[], metavar="PATH[:WEIGHT]")
    g.add_argument("--init-image", metavar="PATH", help="start from this image instead of noise")
    g.add_argument(
        "--init-blur",
        type=config_value("init_blur"),
        default=d.init_blur,
        help="blur the init image (pixels) (default %(default)s)",
    )
    g.add_argument(
        "--init-weight",
        type=config_value("init_weight"),
        default=d.init_weight,
        help="pull towards the init latent (default %(default)s)",
    )
    g.add_argument(
        "--preview-every",
        type=config_value("preview_every"),
        default=d.preview_every,
        help="steps between previews (default %(default)s)",
    )
    g.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default=d.precision,
        help="autocast precision (default %(default)s)",
    )
    m = parser.add_argument_group("the Doorways method")
    m.add_argument(
        "--panorama",
        choices=PANORAMA_MODES,
        default=d.panorama,
        help="place | prompts left to right (default %(default)s)",
    )
    m.add_argument(
        "--edge-symmetry",
        type=config_value("edge_symmetry"),
        default=d.edge_symmetry,
        metavar="W",
        help="weight of the edge symmetry loss (default %(default)s)",
    )
    m.add_argument(
        "--tone-symmetry",
        type=config_value("tone_symmetry"),
        default=d.tone_symmetry,
        metavar="W",
        help="weight of the tone symmetry loss (default %(default)s)",
    )
    m.add_argument(
        "--semantic-symmetry",
        type=config_value("semantic_symmetry"),
        default=d.semantic_symmetry,
        metavar="W",
        help="weight of the semantic symmetry loss (default %(default)s)",
    )
    m.add_argument(
        "--symmetry-blur",
        type=config_value("symmetry_blur"),
        default=d.symmetry_blur,
        metavar="SIGMA",
        help="blur before comparing the halves (default %(default)s)",
    )
    m.add_argument(
        "--size-weighting",
        choices=SIZE_WEIGHTINGS,
        default=d.size_weighting,
        help="how cutout sizes are weighted (default %(default)s)",
    )
    mo = parser.add_argument_group("models")
    mo.add_argument(
        "--models", choices=["demo"], help="demo: the tiny random-weight models (no download)"
    )
    mo.add_argument("--vqgan", default=None, help=f"registry name or folder (default {d.vqgan})")
    mo.add_argument("--clip", default=None, help=f"registry name or .pt path (default {d.clip})")
    mo.add_argument("--vqgan-config", metavar="PATH")
    mo.add_argument("--vqgan-checkpoint", metavar="PATH")


def config_from_args(args: argparse.Namespace, **overrides: object) -> GenerationConfig:
    """Build and validate a GenerationConfig from parsed options."""
    width, height = parse_size(args.size)
    vqgan = args.vqgan or ("demo" if args.models == "demo" else GenerationConfig.vqgan)
    clip = args.clip or ("demo" if args.models == "demo" else GenerationConfig.clip)
    values = dict(
        prompts=args.prompt or "",
        style=args.style,
        width=width,
        height=height,
        steps=args.steps,
        lr=args.lr,
        seed=args.seed,
        cutn=args.cutn,
        cut_pow=args.cut_pow,
        image_prompts=[_checked_image_prompt(spec) for spec in args.image_prompt],
        init_image=str(check_image_file(args.init_image, "--init-image"))
        if args.init_image
        else None,
        init_blur=args.init_blur,
        init_weight=args.init_weight,
        preview_every=args.preview_every,
        precision=args.precision,
        panorama=args.panorama,
        edge_symmetry=args.edge_symmetry,
        tone_symmetry=args.tone_symmetry,
        semantic_symmetry=args.semantic_symmetry,
        symmetry_blur=args.symmetry_blur,
        size_weighting=args.size_weighting,
        vqgan=vqgan,
        clip=clip,
        vqgan_config=args.vqgan_config,
        vqgan_checkpoint=args.vqgan_checkpoint,
    )
    values.update(overrides)
    return GenerationConfig(**values)


def check_image_file(path: str, option: str) -> Path:
    """The absolute path of an image a job will read, checked now (a worker would only
    find out later, in a log): it must exist and be an image PIL can open."""
    from PIL import UnidentifiedImageError

    from engine.inputs import open_image

    full = Path(path).expanduser().resolve()
    if not full.is_file():
        what = "is a folder, not an image" if full.is_dir() else "does not exist"
        raise ConfigError(f"{option} {path}: {what}")
    try:
        with open_image(full) as image:
            image.verify()
    except ConfigError as exc:
        raise ConfigError(f"{option} {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ConfigError(f"{option} {path}: not a readable image ({exc})") from None
    return full


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


def _checked_image_prompt(spec: str) -> str:
    """``PATH[:WEIGHT]`` with PATH checked and made absolute (workers run elsewhere)."""
    path, _ = split_image_prompt(spec)
    suffix = "" if path == spec else spec[len(path) :]
    return f"{check_image_file(path, '--image-prompt')}{suffix}"


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
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from doorways_tui.core.settings import load_settings
    from doorways_tui.core.text import printable
    from engine import generate, load_models, load_state, save_png, save_state
    from engine.errors import Cancelled

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
