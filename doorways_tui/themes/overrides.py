"""Changing a theme's settings from outside it: the command line's flags, the dialog's fields.

``theme preview|queue --size 256x128 --steps 100 --doorways entrance`` tries a pack (or a
list) cheaply without editing a file. Engine settings are checked as a theme's own are
(``GenerationConfig``); new doorway words, modifiers or a style change the prompts, so
those are checked again too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from doorways_engine.config import GenerationConfig
from doorways_engine.errors import ConfigError
from doorways_engine.text import describe_hidden
from doorways_tui.themes.model import MAX_SEEDS, OWN_SETTINGS, Theme, ThemeError
from doorways_tui.themes.parse import _Locator, check_prompts


@dataclasses.dataclass(frozen=True)
class Overrides:
    """What to change; None (or empty) keeps the theme's own."""

    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # config fields
    doorways: Sequence[str] | None = None
    modifiers: Sequence[str] | None = None
    style: str | None = None
    seeds: int | None = None  # seeds 0..seeds-1 for every variant

    def __bool__(self) -> bool:
        return bool(self.settings) or any(
            v is not None for v in (self.doorways, self.modifiers, self.style, self.seeds)
        )


def apply_overrides(theme: Theme, overrides: Overrides) -> Theme:
    """``theme`` with ``overrides`` applied and checked; ThemeError says what is wrong."""
    if not overrides:
        return theme
    own = sorted(set(overrides.settings) & set(OWN_SETTINGS))
    if own:
        raise ThemeError(f"{own[0]} is set by the theme itself")
    settings = {**theme.settings, **overrides.settings}
    try:
        GenerationConfig.from_dict({**settings, "prompts": "a | b"})
    except ConfigError as exc:
        raise ThemeError(str(exc)) from None
    changes: dict[str, Any] = {"settings": settings}
    if overrides.doorways is not None:
        changes["doorways"] = _words("doorway words", overrides.doorways)
    if overrides.modifiers is not None:
        changes["modifiers"] = _words("modifiers", overrides.modifiers, allow_empty=True)
    if overrides.style is not None:
        if (problem := describe_hidden("style", overrides.style)) is not None:
            raise ThemeError(problem)
        changes["style"] = " ".join(overrides.style.split())
    if overrides.seeds is not None:
        if not 1 <= overrides.seeds <= MAX_SEEDS:
            raise ThemeError(f"seeds must be from 1 to {MAX_SEEDS}, got {overrides.seeds}")
        changes["seeds"] = tuple(range(overrides.seeds))
    changed = dataclasses.replace(theme, **changes)
    _check_doorways(changed)
    check_prompts(changed, _Locator("", theme.source or "<theme>"))
    return changed


def split_words(text: str) -> tuple[str, ...]:
    """``"entrance, gate"`` -> ("entrance", "gate"): how a flag or a field lists words."""
    return tuple(" ".join(w.split()) for w in text.split(","))


def _words(label: str, words: Sequence[str], *, allow_empty: bool = False) -> tuple[str, ...]:
    words = tuple(" ".join(w.split()) for w in words)
    if not words or (not allow_empty and not all(words)) or len(set(words)) != len(words):
        raise ThemeError(f"{label} must be distinct and not empty: {', '.join(words)!r}")
    for word in words:
        if (problem := describe_hidden(label, word)) is not None:
            raise ThemeError(problem)
    return words


def _check_doorways(theme: Theme) -> None:
    """Several doorway words need a {doorway} in each template in use, or they repeat."""
    if len(theme.doorways) < 2:
        return
    realms = {theme.subject(n).realm for g in theme.groups for s in g.sets for n in s}
    for realm, template in ((False, theme.template), (True, theme.realm_template)):
        if realm in realms and "{doorway}" not in template:
            raise ThemeError(
                f"the theme's template {template!r} has no {{doorway}}, so"
                f" {len(theme.doorways)} doorway words would give the same prompt"
            )
