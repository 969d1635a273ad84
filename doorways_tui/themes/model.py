"""Theme data: what a parsed theme is, and the variants it expands into."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from doorways_engine.errors import ConfigError

CLIP_CONTEXT = 77  # CLIP's text context, start and end tokens included
DEFAULT_TEMPLATE = "{doorway} to {subject}"
DEFAULT_REALM_TEMPLATE = "{doorway} to the {subject} realm"
TEMPLATE_FIELDS = frozenset({"subject", "doorway", "modifier"})
THEME_KEYS = frozenset(
    {"name", "description", "template", "realm_template", "doorways", "modifiers", "style"}
    | {"seeds", "realms", "settings", "subjects", "groups"}
)
SUBJECT_KEYS = frozenset({"text", "describe", "realm", "note"})
OWN_SETTINGS = ("prompts", "style", "seed")  # the theme supplies these itself
MAX_SEEDS = 10_000  # seeds per variant, as `queue add --seeds` allows at once


class ThemeError(ConfigError):
    """A theme that cannot be expanded; the message starts with ``file:line:``."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        self.source, self.line, self.reason = source, line, message
        where = ":".join(str(p) for p in (source, line) if p is not None)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Subject:
    name: str  # as the theme lists it; the library shows this
    text: str  # what fills {subject} in the template
    realm: bool = False  # not a place: use the realm template
    describe: str = ""  # appended after a comma where CLIP needs help with the name
    note: str = ""


@dataclass(frozen=True)
class Group:
    name: str
    sets: tuple[tuple[str, ...], ...]  # pairs (left, right) or triples (left, centre, right)


@dataclass(frozen=True)
class Theme:
    name: str
    groups: tuple[Group, ...]
    subjects: Mapping[str, Subject] = field(default_factory=dict)
    description: str = ""
    template: str = DEFAULT_TEMPLATE
    realm_template: str = DEFAULT_REALM_TEMPLATE
    doorways: tuple[str, ...] = ("entrance",)
    modifiers: tuple[str, ...] = ("",)
    style: str = "by James Gurney"
    seeds: tuple[int, ...] = (0,)
    settings: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None

    def subject(self, name: str) -> Subject:
        return self.subjects.get(name) or Subject(name, name)

    @property
    def set_count(self) -> int:
        return sum(len(g.sets) for g in self.groups)


@dataclass(frozen=True)
class Variant:
    """One combined prompt (a set of subjects, a doorway word, a modifier) and its seeds."""

    group: str
    subjects: tuple[str, ...]
    doorway: str
    modifier: str
    prompt: str  # "entrance to Heaven | entrance to Hell": the engine's panorama syntax
    seeds: tuple[int, ...]
    config: Mapping[str, Any]  # a full GenerationConfig dict; seed filled in per job

    @property
    def label(self) -> str:
        return " / ".join(self.subjects)

    def job_configs(self) -> list[dict[str, Any]]:
        return [{**self.config, "seed": seed} for seed in self.seeds]


@dataclass(frozen=True)
class TokenWarning:
    """A prompt CLIP cannot read whole; reported, never silently cut."""

    variant: Variant
    text: str  # the prompt as the engine sends it, style included
    tokens: int

    def __str__(self) -> str:
        return f"{self.tokens} tokens (CLIP reads {CLIP_CONTEXT}): {self.text}"
