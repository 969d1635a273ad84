"""Argument types that refuse a bad number in one line, before anything runs.

Every number a command takes ends up in SQLite (ids, seeds, priorities, limits), in a
generation config, or in a worker's timing, so each type checks that the value can be
stored and is in range. The generation options take their ranges from the config's own
field metadata (``GenerationConfig.check_value``), so the CLI and the config agree.
"""

from __future__ import annotations

import argparse
import math
import typing
from collections.abc import Callable
from typing import Any

from doorways_engine.config import SQLITE_INT_MAX, GenerationConfig
from doorways_engine.errors import ConfigError
from doorways_engine.options import Bounds


def _show(text: str) -> str:
    return repr(text) if len(text) <= 30 else repr(text[:27] + "...")


def whole(lo: int = 0, hi: int = SQLITE_INT_MAX) -> Callable[[str], int]:
    """A whole number in ``lo..hi`` (by default any that SQLite can hold, from 0)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:  # also a number of more than 4300 digits
            raise argparse.ArgumentTypeError(f"{_show(text)} is not a whole number") from None
        if value not in Bounds(lo, hi):
            raise argparse.ArgumentTypeError(f"{_show(text)} is not {Bounds(lo, hi).describe()}")
        return value

    return parse


def seconds(lo: float, hi: float) -> Callable[[str], float]:
    """A finite number of seconds in ``lo..hi``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_show(text)} is not a number") from None
        if not math.isfinite(value) or value not in Bounds(lo, hi):
            raise argparse.ArgumentTypeError(
                f"{_show(text)} is not a number of seconds {Bounds(lo, hi).describe()}"
            )
        return value

    return parse


def config_value(name: str, cls: type[GenerationConfig] = GenerationConfig) -> Callable[[str], Any]:
    """The type of the option for generation setting ``name``: parsed as its field's type,
    then checked by the config itself (finite, in range)."""
    number = int if typing.get_type_hints(cls)[name] is int else float

    def parse(text: str) -> Any:
        try:
            value = number(text)
        except ValueError:
            noun = "a whole number" if number is int else "a number"
            raise argparse.ArgumentTypeError(f"{_show(text)} is not {noun}") from None
        try:
            return cls.check_value(name, value)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse
