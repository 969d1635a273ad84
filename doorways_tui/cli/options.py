"""The generation options of the commands that make images (``generate``, ``queue add``),
derived from the config's fields.

Each field of ``GenerationConfig`` carries an ``Option`` (engine/config.py) with its flag,
``--help`` group and help; its type, range, choices and default come from the field
itself, and ``GenerationConfig.check_value`` checks every value. So this module spells no
setting: a new field with an ``Option`` is on the command line, in the mapping from the
parsed options to a config and in the displays without an edit here.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doorways_engine.config import GenerationConfig, parse_image_prompt
from doorways_engine.errors import ConfigError
from doorways_engine.options import MODELS, Option, option
from doorways_tui.cli.args import config_value

DEMO_MODELS = "demo"  # --models demo: every model name not given is the tiny random one


@dataclass(frozen=True)
class GenerationFlag:
    """One command-line option and the config fields it sets (several when they share a
    flag, such as ``--size`` for width and height)."""

    flag: str
    names: tuple[str, ...]
    option: Option  # the first field's

    @property
    def dest(self) -> str:
        """The attribute argparse stores it under."""
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def positional(self) -> bool:
        return not self.flag.startswith("-")


def generation_flags(cls: type[GenerationConfig] = GenerationConfig) -> list[GenerationFlag]:
    """The options of ``cls``'s fields that are on the command line, in field order."""
    shared: dict[str, list[tuple[str, Option]]] = {}
    for f in dataclasses.fields(cls):
        if (opt := option(f)).group:
            shared.setdefault(opt.flag or "--" + f.name.replace("_", "-"), []).append((f.name, opt))
    flags = []
    for flag, members in shared.items():
        names = tuple(name for name, _ in members)
        if len(names) > 1 and members[0][1].split is None:
            raise TypeError(f"{', '.join(names)} share {flag} but the first has no split")
        flags.append(GenerationFlag(flag, names, members[0][1]))
    return flags


def add_generation_options(
    parser: argparse.ArgumentParser, *, cls: type[GenerationConfig] = GenerationConfig
) -> None:
    """The options every command that makes images shares (generate, queue add), one per
    field with an ``Option`` group, in its group of ``--help``; the models group starts
    with ``add_model_options``. The prompt may be left out (``-p``, ``queue add
    --variant``, an image prompt alone): the config says when nothing is left to aim at."""
    groups: dict[str, Any] = {}

    def group(title: str) -> Any:
        if title not in groups:
            if title == MODELS:
                groups[title] = add_model_options(parser, cls=cls)
            else:
                groups[title] = parser.add_argument_group(title)
        return groups[title]

    defaults = cls()
    for flag in generation_flags(cls):
        if flag.positional:
            _add(parser, flag, {"nargs": "?", "default": "", "help": flag.option.help})
        elif flag.option.model:
            group(MODELS)  # add_model_options adds it
        else:
            _add(group(flag.option.group), flag, _keywords(flag, cls, defaults))


def add_model_options(
    parser: argparse.ArgumentParser,
    *,
    title: str = MODELS,
    show_defaults: bool = True,
    cls: type[GenerationConfig] = GenerationConfig,
) -> Any:
    """``--models demo`` and one option per model name field (``Option(model=True)``:
    ``--vqgan``, ``--clip``), in a group of ``--help`` named ``title``, which it returns.
    ``generate``, ``queue add`` and ``theme preview|queue`` share them; ``model_values``
    reads them back. Each is unset unless given, so that ``--models`` can fill it."""
    group = parser.add_argument_group(title)
    group.add_argument(  # the one option that is not a setting: it fills several
        "--models", choices=[DEMO_MODELS], help="demo: the tiny random-weight models (no download)"
    )
    defaults = cls()
    for flag in generation_flags(cls):
        if flag.option.model:
            _add(group, flag, _keywords(flag, cls, defaults, show_default=show_defaults))
    return group


class _Once(argparse.Action):
    """A positional that also has flags (``PROMPT`` or ``-p PROMPT``): given by either, not
    both; a positional left out does not undo its flag."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if values == self.default or values is None:
            return  # the positional, left out
        if getattr(namespace, self.dest, self.default) not in (self.default, None):
            raise argparse.ArgumentError(self, "given twice (as an argument and a flag)")
        setattr(namespace, self.dest, values)


class _Joined(argparse.Action):
    """``-s 512 288``: the parts of a ``split`` flag as separate words, joined as its text."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, "x".join(values))


def _add(container: Any, flag: GenerationFlag, kwargs: dict[str, Any]) -> None:
    """Add ``flag`` with ``kwargs`` to ``container``, and its ``aliases``: the same option
    under more names, or, for a ``split`` flag, one word per field it sets."""
    aliases = flag.option.aliases
    if flag.positional:
        container.add_argument(flag.dest, action=_Once, **kwargs)
        if aliases:
            container.add_argument(
                *aliases,
                dest=flag.dest,
                action=_Once,
                default=kwargs["default"],
                metavar=flag.dest.upper(),
                help=f"the same as {flag.dest.upper()}",
            )
    elif flag.option.split is not None:
        container.add_argument(flag.flag, **kwargs)
        if aliases:
            container.add_argument(
                *aliases,
                dest=flag.dest,
                nargs=len(flag.names),
                metavar=tuple(name.upper() for name in flag.names),
                action=_Joined,
                default=argparse.SUPPRESS,
                help=f"the same as {flag.flag} {'x'.join(n.upper() for n in flag.names)}",
            )
    else:
        container.add_argument(flag.flag, *aliases, dest=flag.dest, **kwargs)


def model_values(
    args: argparse.Namespace, *, cls: type[GenerationConfig] = GenerationConfig
) -> dict[str, str]:
    """The model fields the options name (``add_model_options``): each one given, and
    ``demo`` for those not given when ``--models demo`` is."""
    demo = getattr(args, "models", None) == DEMO_MODELS
    fill = DEMO_MODELS if demo else None
    values = {
        f.names[0]: getattr(args, f.dest) or fill for f in generation_flags(cls) if f.option.model
    }
    return {name: value for name, value in values.items() if value}


def _keywords(
    flag: GenerationFlag,
    cls: type[GenerationConfig],
    defaults: GenerationConfig,
    *,
    show_default: bool = True,
) -> dict[str, Any]:
    """``add_argument``'s keywords for ``flag``: type, choices and default from the field,
    and its help with the range and (unless not ``show_default``) the default added."""
    name, opt = flag.names[0], flag.option
    spec = {f.name: f for f in dataclasses.fields(cls)}[name]
    default = getattr(defaults, name)
    kwargs: dict[str, Any] = {"metavar": opt.metavar} if opt.metavar else {}
    notes: list[str] = []
    if opt.split is not None:  # WIDTHxHEIGHT: one text for the fields that share the flag
        default = "x".join(str(getattr(defaults, n)) for n in flag.names)
    elif typing.get_type_hints(cls)[name] == list[str]:
        kwargs["action"] = "append"
        default = []
    elif "choices" in spec.metadata:
        kwargs["choices"] = spec.metadata["choices"]
    elif (bounds := spec.metadata.get("bounds")) is not None:
        kwargs["type"] = config_value(name, cls)
        notes.append(bounds.describe())
    if opt.model:  # unset unless given, so that --models can fill it
        if show_default:
            notes.append(f"default {default}".replace("%", "%%"))
        default = None
    elif default not in (None, "", []) and show_default:
        notes.append("default %(default)s")
    kwargs["default"] = default
    help_text = opt.help.replace("%", "%%")
    if notes:
        help_text = f"{help_text} ({'; '.join(notes)})" if help_text else "; ".join(notes)
    if help_text:
        kwargs["help"] = help_text
    return kwargs


def config_from_args(
    args: argparse.Namespace, *, cls: type[GenerationConfig] = GenerationConfig, **overrides: Any
) -> GenerationConfig:
    """Build and validate a config from parsed options: each flag's value goes to its
    field(s); image paths are checked now and made absolute (workers run elsewhere)."""
    values: dict[str, Any] = model_values(args, cls=cls)
    for flag in generation_flags(cls):
        given, opt = getattr(args, flag.dest), flag.option
        if opt.split is not None:
            values.update(zip(flag.names, opt.split(given), strict=True))
            continue
        if opt.model or given is None:
            continue  # in already (model_values), or the config's default
        if opt.image:
            if isinstance(given, list):
                given = [_checked_image_prompt(spec, flag.flag) for spec in given]
            else:
                given = str(check_image_file(given, flag.flag))
        values[flag.names[0]] = given
    values.update(overrides)
    return cls(**values)


def check_image_file(path: str, option: str) -> Path:
    """The absolute path of an image a job will read, checked now (a worker would only
    find out later, in a log): it must exist and be an image PIL can open."""
    from PIL import UnidentifiedImageError

    from doorways_engine.inputs import open_image

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


def _checked_image_prompt(spec: str, option: str) -> str:
    """``[SIDE:]PATH[:WEIGHT]`` with PATH checked and made absolute."""
    image = parse_image_prompt(spec)
    return str(dataclasses.replace(image, path=str(check_image_file(image.path, option))))
