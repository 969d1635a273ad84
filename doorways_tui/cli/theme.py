"""``doorways theme list|preview|queue``: explore a theme in volume from one file.

The file is a theme (``.toml``) or a plain list of pairs under group headings (any other
file: ``doorways_tui.themes.lists``), which takes its settings from a pack (``--pack``).
Flags override a file's or a pack's settings (``--size``, ``--steps``: one per engine
setting, derived from the config's fields), words and seeds.

``preview`` prints what ``queue`` would add (counts, an estimate of the time, the first
prompts, prompts too long for CLIP) and touches nothing; ``queue`` adds only what the
library does not have yet. Both say which models the jobs will use; ``queue`` refuses
models whose weights are not downloaded (the jobs would all fail) unless told
``--allow-missing-models``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from doorways_engine.config import GenerationConfig
from doorways_engine.errors import ConfigError
from doorways_tui.cli.options import (
    GenerationFlag,
    _keywords,
    add_model_options,
    generation_flags,
)
from doorways_tui.core.text import printable
from doorways_tui.store.queue import LARGE_QUEUE
from doorways_tui.themes.lists import DEFAULT_PACK
from doorways_tui.themes.model import OWN_SETTINGS, ThemeError
from doorways_tui.themes.overrides import Overrides, split_words

if TYPE_CHECKING:
    from doorways_tui.themes.models import ModelCheck
    from doorways_tui.themes.request import ThemeRequest

DEFAULT_SHOW = 8
ALLOW_MISSING_MODELS = "--allow-missing-models"
MAX_WARNINGS = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("theme", help="preview and queue theme packs (many pairs, many seeds)")
    tsub = p.add_subparsers(dest="theme_command", metavar="ACTION", required=True)
    lst = tsub.add_parser("list", help="the theme packs shipped with Doorways")
    lst.set_defaults(handler=run_list)
    preview = tsub.add_parser("preview", help="show what a theme would queue; changes nothing")
    _theme_args(preview)
    preview.add_argument(
        "--show", type=int, default=DEFAULT_SHOW, metavar="N", help="prompts to print"
    )
    preview.set_defaults(handler=run_preview)
    queue = tsub.add_parser("queue", help="add a theme to the library (only what is new)")
    _theme_args(queue)
    queue.add_argument("--dry-run", action="store_true", help="count what is new; add nothing")
    queue.add_argument(
        "--yes",
        action="store_true",
        help=f"queue more than {LARGE_QUEUE} new jobs without asking",
    )
    add_allow_missing_models(queue)
    queue.set_defaults(handler=run_queue)


def add_allow_missing_models(p: argparse.ArgumentParser) -> None:
    """The one override of the model check, the same for ``theme queue`` and ``queue add``."""
    p.add_argument(
        ALLOW_MISSING_MODELS,
        action="store_true",
        help="queue even if the models are not downloaded (fetch them before starting a worker)",
    )


def refuse_missing_models(models: ModelCheck, *, allow: bool) -> None:
    """Jobs on models whose weights are not here would all fail seconds after a worker took
    them: refuse, with the engine's fix-it line, unless told ``--allow-missing-models``."""
    from doorways_engine.errors import DoorwaysError

    if not (models.ready or allow):
        raise DoorwaysError(
            f"{models.refusal()}; nothing queued ({ALLOW_MISSING_MODELS} queues anyway)"
        )


def _theme_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "theme",
        metavar="FILE|NAME",
        help="a theme file (.toml), a list of pairs (any other file), or a shipped pack's name",
    )
    p.add_argument("--name", default="", help="the theme's name (a list: its file name)")
    p.add_argument(
        "--pack",
        metavar="NAME",
        help=f"a list's settings, words and subject notes from this pack (default {DEFAULT_PACK})",
    )
    words = p.add_argument_group("theme (override the file's or the pack's)")
    words.add_argument(
        "--seeds", type=_positive, metavar="N", help="seeds 0..N-1 for every variant"
    )
    words.add_argument("--doorways", metavar="W,W", help="doorway words, comma-separated")
    words.add_argument("--modifiers", metavar="M,M", help="modifiers, comma-separated")
    words.add_argument("--style", help='appended to every prompt, e.g. "by James Gurney"')
    settings = p.add_argument_group("engine settings (override the file's or the pack's)")
    for flag in _setting_flags():
        keywords = _keywords(flag, GenerationConfig, GenerationConfig(), show_default=False)
        settings.add_argument(flag.flag, **{**keywords, "default": None})
    add_model_options(p, title="models (applied to every variant)", show_defaults=False)


def _setting_flags() -> list[GenerationFlag]:
    """The engine options a theme's ``[settings]`` may hold (``--size``, ``--steps``...):
    derived from the config's fields, less the ones a theme supplies itself."""
    return [
        f
        for f in generation_flags()
        if not (f.positional or f.option.model or f.option.image)
        and f.names[0] not in OWN_SETTINGS
    ]


def _overrides(args: argparse.Namespace) -> Overrides:
    settings: dict = {}
    for flag in _setting_flags():
        given = getattr(args, flag.dest)
        if given is None:
            continue
        if flag.option.split is not None:
            try:
                settings.update(zip(flag.names, flag.option.split(given), strict=True))
            except ConfigError as exc:
                raise ThemeError(f"{flag.flag}: {exc}") from None
        else:
            settings[flag.names[0]] = given
    return Overrides(
        settings=settings,
        doorways=split_words(args.doorways) if args.doorways is not None else None,
        modifiers=split_words(args.modifiers) if args.modifiers is not None else None,
        style=args.style,
        seeds=args.seeds,
    )


def _request(args: argparse.Namespace) -> ThemeRequest:
    """The theme as ``preview`` and ``queue`` see it: file or pack, overrides, models."""
    from doorways_tui.cli.options import model_values
    from doorways_tui.core.settings import load_settings
    from doorways_tui.themes.lists import is_list_file
    from doorways_tui.themes.packs import resolve_theme
    from doorways_tui.themes.request import build_request

    path = resolve_theme(args.theme)
    if args.pack and not is_list_file(path):
        raise ThemeError(f"--pack gives a list its settings; {path} is a theme with its own")
    return build_request(
        path=str(path),
        settings_pack=args.pack,
        name=args.name,
        overrides=_overrides(args),
        **model_values(args),
        check=True,
        model_dir=load_settings().model_dir,
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def run_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from doorways_tui.themes import ThemeError, expand, job_count, load_theme, shipped_themes

    out = out or sys.stdout
    packs = shipped_themes()
    if not packs:
        _print("no theme packs found", out)
        return 0
    for name, path in packs.items():
        try:
            theme = load_theme(path)
        except ThemeError as exc:
            _print(f"{name:<16} (broken) {exc}", out)
            continue
        variants = expand(theme)
        counts = f"{theme.set_count} sets, {len(variants)} variants, {job_count(variants)} jobs"
        _print(f"{name:<16} {theme.name}: {counts}", out)
        if theme.description:
            _print(f"{'':<16} {theme.description}", out)
    return 0


def run_preview(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    request = _request(args)
    theme, variants, models = request.theme, request.variants, request.models
    _print(f"{theme.name} ({theme.source})", out)
    _print(request.summary, out)
    if theme.style:
        _print(f"style: {theme.style}", out)
    if theme.settings:
        _print(f"settings: {_settings_line(theme.settings)}", out)
    _print(request.estimate.line(), out)
    if models is not None:
        _print(models.line(), out)
        if not models.ready:
            _print(f"warning: {models.refusal()}", out)
    shown = variants[: max(0, args.show)]
    if shown:
        _print(f"first {len(shown)} of {len(variants)} prompts:", out)
        groups = [printable(v.group) for v in shown]
        width = max(len(g) for g in groups)
        for group, v in zip(groups, shown, strict=True):
            _print(f"  {group:<{width}}  {v.prompt}", out)
    _report_long(request.warnings, out)
    return 0


def run_queue(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from doorways_tui.cli.common import confirm_large, open_library
    from doorways_tui.themes.library import queue_theme

    out = out or sys.stdout
    request = _request(args)
    theme, variants, models = request.theme, request.variants, request.models
    if models is not None:
        refuse_missing_models(models, allow=args.allow_missing_models or args.dry_run)
    _print(f"{theme.name}: {request.summary}", out)
    if models is not None:
        _print(models.line(), out)
        if not models.ready:
            _print(f"warning: {models.refusal()}", out)
    _print(request.estimate.line(), out)
    _report_long(request.warnings, out)
    with open_library(args, create=True) as library:
        if not (args.dry_run or args.yes) and request.job_count > LARGE_QUEUE:
            planned = queue_theme(library, theme, variants, dry_run=True).new_jobs
            confirm_large(planned, yes=False)
        report = queue_theme(library, theme, variants, dry_run=args.dry_run)
    verb = "would add" if args.dry_run else "added"
    _print(
        f"{verb} {report.new_variants} new variants and {report.new_jobs} jobs"
        f" ({report.existing_jobs} already in the library)",
        out,
    )
    return 0


def _print(text: str, out: TextIO) -> None:
    """Every line shows text from a theme file (names, prompts, paths, settings): a shared
    pack must not drive the terminal, so it is printed through ``printable``."""
    print(printable(text), file=out)


def _settings_line(settings: dict) -> str:
    parts = []
    if "width" in settings or "height" in settings:
        parts.append(f"{settings.get('width', '?')}x{settings.get('height', '?')}")
    parts += [f"{k} {v}" for k, v in settings.items() if k not in ("width", "height")]
    return ", ".join(parts)


def _report_long(warnings: Sequence, out: TextIO) -> None:
    """Over-long prompts are reported, never silently cut."""
    if not warnings:
        return
    _print(f"{len(warnings)} prompts are longer than CLIP reads (the rest is cut):", out)
    for warning in warnings[:MAX_WARNINGS]:
        _print(f"  {warning}", out)
    if len(warnings) > MAX_WARNINGS:
        _print(f"  ... and {len(warnings) - MAX_WARNINGS} more", out)
