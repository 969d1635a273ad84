"""How a setting meets people: the ``Option`` each config field carries, the field
constructors that put a range, choices or a text label in a field's metadata, and the
rows the displays show (``shown_settings``).

This is the generic part; ``doorways_engine.config`` declares the fields of ``GenerationConfig``
with it and checks their values. The command line (``doorways_tui/cli/options.py``), the
details panel and the PNG's parameters line are derived from these records, so a new
setting, such as a loss term's weight (``loss_weight``), is one field. No torch here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_LOSS_WEIGHT = 100.0  # symmetry and init weights; useful values are 0.01-2


@dataclass(frozen=True)
class Bounds:
    """A number's range: ``lo``..``hi`` (None: unbounded), an open end excludes its value."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    note: str = ""  # why the limit is there, for the message

    def __contains__(self, value: float) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)

    def describe(self) -> str:
        """``from 0 to 100000``, ``more than 0 and less than 10``, ``at least 1``..."""
        if self.lo is not None and self.hi is not None and not (self.lo_open or self.hi_open):
            return f"from {_number(self.lo)} to {_number(self.hi)}"
        parts = []
        if self.lo is not None:
            parts.append(f"{'more than' if self.lo_open else 'at least'} {_number(self.lo)}")
        if self.hi is not None:
            parts.append(f"{'less than' if self.hi_open else 'at most'} {_number(self.hi)}")
        return " and ".join(parts)


def _number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


# -- how a setting meets people --------------------------------------------------------

GENERATION, METHOD, MODELS = "generation", "the Doorways method", "models"  # --help groups


@dataclass(frozen=True)
class Option:
    """How a setting meets people outside the engine: its command-line option and its row
    in the displays (the details panel, the PNG's parameters line). Everything else is
    derived from the field: the option's type, range and default, the check of its value.

    A field whose ``group`` is empty is not on the command line (theme and config files
    set it, or the engine itself); one whose ``label`` is empty is not shown. Fields that
    share a ``flag`` take one text that the first one's ``split`` parses (``--size``);
    fields that share a ``label`` share a row: their values joined by the first one's
    ``sep``, then each with a ``part`` word as ``part value`` when it is not 0 (a loss
    weight: "symmetry edge 0.5, tone 0.2"), the row left out when it has nothing to say.
    ``aliases`` are further flags for the same option."""

    group: str = ""  # its group in --help
    help: str = ""  # what it does; the range and the default are added
    flag: str = ""  # "--name-with-dashes" unless given; a bare word is positional
    metavar: str | None = None
    split: Callable[[str], tuple[Any, ...]] | None = None  # one text -> the fields sharing the flag
    image: bool = False  # path(s) of images a job reads: the command line checks them at once
    model: bool = False  # a model name: left unset by the command line, so --models can fill it
    label: str = ""  # its row in the displays
    part: str = ""  # its word in a shared row, shown when not 0
    sep: str = " · "  # between the values of a shared row
    # The public VQGAN-CLIP scripts' flags for it (``-p``, ``-i``, ``-sd``), so a command
    # line from a tutorial works; one that shares a ``split`` flag takes its parts as
    # separate words (``-s 512 288`` for ``--size 512x288``).
    aliases: tuple[str, ...] = ()


NOT_AN_OPTION = Option()  # set from theme and config files, or by the engine (a resume)


def loss_weight(default: float, *, row: str, part: str, help: str) -> Any:
    """A loss term's weight: from 0 to ``MAX_LOSS_WEIGHT``, ``--name W`` on the command
    line in the Doorways group, shown as ``part value`` in its ``row`` when not 0. A new
    loss term is its loss and one of these."""
    return number_field(
        default, 0, MAX_LOSS_WEIGHT, Option(METHOD, help, metavar="W", label=row, part=part)
    )


def number_field(default: float, lo: float | None, hi: float | None, opt: Option, **kw: Any) -> Any:
    """A numeric field with its range in the metadata (``lo_open``, ``hi_open``, ``note``)."""
    return field(default=default, metadata={"bounds": Bounds(lo, hi, **kw), "option": opt})


def choice_field(default: str, choices: tuple[str, ...], opt: Option) -> Any:
    return field(default=default, metadata={"choices": choices, "option": opt})


def text_field(default: str, label: str, opt: Option) -> Any:
    """Free text a person typed: control and bidi characters are refused (named ``label``)."""
    return field(default=default, metadata={"text": label, "option": opt})


def name_field(default: str | None, opt: Option) -> Any:
    """A model name or a path: checked when it is used (a registry, a file)."""
    return field(default=default, metadata={"option": opt})


def paths_field(opt: Option) -> Any:
    return field(default_factory=list, metadata={"option": opt})


def option(f: dataclasses.Field) -> Option:
    """The field's ``Option`` (a field that declares none is not an option and not shown)."""
    return f.metadata.get("option", NOT_AN_OPTION)


def shown_settings(config: Mapping[str, Any], *, cls: type) -> list[tuple[str, str]]:
    """The rows the displays show, ``(label, text)`` in field order, from each field's
    ``Option``, for the fields of the dataclass ``cls`` (``doorways_engine.config.shown_settings``
    binds ``GenerationConfig``). ``config`` is a config as stored: a dict that may lack
    keys (an older row, a test's partial config) or hold another writer's values, shown
    as they are."""
    rows: dict[str, list[tuple[str, Option]]] = {}
    for f in dataclasses.fields(cls):
        if (opt := option(f)).label:
            rows.setdefault(opt.label, []).append((f.name, opt))
    out: list[tuple[str, str]] = []
    for label, members in rows.items():
        heads = [(config.get(name), opt) for name, opt in members if not opt.part]
        parts = [
            f"{opt.part} {value:g}"
            for name, opt in members
            if opt.part and _nonzero(value := config.get(name))
        ]
        if heads and all(value in (None, "") for value, _ in heads):
            continue  # nothing to show it of: no init image, an old row without the key
        text = heads[0][1].sep.join(_shown(value, opt) for value, opt in heads) if heads else ""
        if parts:
            text = f"{text} ({', '.join(parts)})" if text else ", ".join(parts)
        if text:
            out.append((label, text))
    return out


def _nonzero(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value != 0


def _shown(value: Any, opt: Option) -> str:
    if value is None:
        return "?"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).rsplit("/", 1)[-1] if opt.image else str(value)
