"""Parsing theme TOML strictly, with errors that name the file and line."""

from __future__ import annotations

import itertools
import re
import string
import tomllib
import unicodedata
from collections.abc import Mapping
from typing import Any

from doorways_engine.config import (
    SQLITE_INT_MAX,
    GenerationConfig,
    parse_prompts,
    parse_size,
)
from doorways_engine.errors import ConfigError
from doorways_engine.text import describe_hidden, first_hidden
from doorways_tui.themes.expand import side_text
from doorways_tui.themes.model import (
    DEFAULT_REALM_TEMPLATE,
    DEFAULT_TEMPLATE,
    MAX_SEEDS,
    OWN_SETTINGS,
    SUBJECT_KEYS,
    TEMPLATE_FIELDS,
    THEME_KEYS,
    Group,
    Subject,
    Theme,
    ThemeError,
)


def parse_theme(text: str, *, source: str = "<theme>") -> Theme:
    """Parse and validate a theme; every error names ``source`` and a line.

    Text is NFC-normalised first, so "Fólkvangr" typed either way is one subject; a
    leading byte-order mark (some Windows editors write one) is dropped.
    """
    text = unicodedata.normalize("NFC", text.removeprefix("\ufeff"))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else None
        raise ThemeError(f"not valid TOML: {exc}", source=source, line=line) from exc
    except RecursionError:
        raise ThemeError("not valid TOML: nested too deeply", source=source) from None
    except ValueError as exc:  # a number of more digits than Python converts
        raise ThemeError(f"not valid TOML: {str(exc)[:120]}", source=source) from None
    return _Parser(text, source).theme(data)


class _Locator:
    """Finds the line a key or value sits on, for errors tomllib cannot place."""

    def __init__(self, text: str, source: str):
        self.lines = text.splitlines()
        self.source = source

    def key(self, key: str, *, after: int = 0) -> int | None:
        pattern = re.compile(
            rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*="""
        )
        return self._first(pattern.search, after)

    def text(self, needle: str, *, after: int = 0) -> int | None:
        return self._first(lambda line: needle in line, after)

    def name(self, *names: str, nth: int = 0) -> int | None:
        """The ``nth`` line naming all of ``names``, quoted as in TOML or bare as typed."""
        for quote in ('"', ""):
            hits = [
                i
                for i, line in enumerate(self.lines, start=1)
                if not line.lstrip().startswith("#")
                and all(f"{quote}{n}{quote}" in line for n in names)
            ]
            if len(hits) > nth:
                return hits[nth]
        return None

    def table(self, name: str, nth: int = 0) -> int | None:
        pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(name)}\s*\]\]?\s*(#.*)?$")
        hits = [i for i, line in enumerate(self.lines, start=1) if pattern.match(line)]
        return hits[nth] if nth < len(hits) else None

    def error(self, message: str, line: int | None) -> ThemeError:
        return ThemeError(message, source=self.source, line=line)

    def _first(self, test, after: int) -> int | None:
        for number, line in enumerate(self.lines[after:], start=after + 1):
            if not line.lstrip().startswith("#") and test(line):
                return number
        return None


class _Parser:
    def __init__(self, text: str, source: str):
        self.at = _Locator(text, source)

    def theme(self, data: dict[str, Any]) -> Theme:
        self.check_text(data)
        unknown = sorted(set(data) - THEME_KEYS)
        if unknown:
            raise self.at.error(
                f"unknown key {unknown[0]!r} (known: {', '.join(sorted(THEME_KEYS))})",
                self.at.key(unknown[0]),
            )
        groups = self.groups(data.get("groups"))
        names = {n for g in groups for s in g.sets for n in s}
        theme = Theme(
            name=self.string(data, "name", required=True),
            description=self.string(data, "description"),
            template=self.template(data, "template", DEFAULT_TEMPLATE),
            realm_template=self.template(data, "realm_template", DEFAULT_REALM_TEMPLATE),
            doorways=self.words(data, "doorways", ("entrance",)),
            modifiers=self.words(data, "modifiers", ("",), allow_empty=True),
            style=self.string(data, "style"),
            seeds=self.seeds(data.get("seeds", 1)),
            settings=self.settings(data.get("settings", {})),
            subjects=self.subjects(data.get("subjects", {}), data.get("realms", []), names),
            groups=groups,
            source=self.at.source,
        )
        self.check_doorways(theme)
        check_prompts(theme, self.at)
        return theme

    def check_text(self, data: dict[str, Any]) -> None:
        """No key or string anywhere carries a control or bidi character: a shared theme
        must not be able to drive the terminal that previews it."""
        stack: list[tuple[str, str, Any]] = [("", "", data)]  # (place, its key, value)
        while stack:
            place, key, value = stack.pop()
            if isinstance(value, dict):
                for name, item in value.items():
                    inner = f"{place}.{name}" if place else name
                    self.refuse_control(f"key {inner!r}", name, name)
                    stack.append((inner, name, item))
            elif isinstance(value, list):
                stack.extend((f"{place}[{i}]", key, item) for i, item in enumerate(value))
            elif isinstance(value, str):
                self.refuse_control(place, value, key)

    def refuse_control(self, label: str, text: str, key: str) -> None:
        """ThemeError at the line holding the character (or else ``key``'s line)."""
        found = first_hidden(text)
        if found is not None:
            spellings = (self.at.text(t) for t in _toml_spellings(found[1]))
            line = next((n for n in spellings if n), None) or self.at.key(key)
            raise self.at.error(str(describe_hidden(label, text)), line)

    def check_doorways(self, theme: Theme) -> None:
        """Several doorway words need a {doorway} in each template in use, or they repeat."""
        realms = {theme.subject(n).realm for g in theme.groups for s in g.sets for n in s}
        for key, realm in (("template", False), ("realm_template", True)):
            template = theme.realm_template if realm else theme.template
            if realm in realms and len(theme.doorways) > 1 and "{doorway}" not in template:
                raise self.at.error(
                    f"{key} has no {{doorway}}, so {len(theme.doorways)} doorway words"
                    " would give the same prompt",
                    self.at.key(key) or self.at.key("doorways"),
                )

    def string(self, data: Mapping[str, Any], key: str, *, required: bool = False) -> str:
        value = data.get(key, "")
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.at.error(f"{key} must be a non-empty string", self.at.key(key))
        return value.strip()

    def template(self, data: Mapping[str, Any], key: str, default: str) -> str:
        value = self.string(data, key) or default
        try:
            parts = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(value)]
        except ValueError as exc:
            raise self.at.error(f"{key} {value!r}: {exc}", self.at.key(key)) from exc
        fields = {f for f, _, _ in parts if f is not None}
        for name, spec, conversion in parts:  # "{subject:99999999999}" would fill the memory
            if name is not None and (spec or conversion):
                raise self.at.error(
                    f"{key}: write {{{name}}} plainly, without a format or conversion",
                    self.at.key(key),
                )
        bad = sorted(fields - TEMPLATE_FIELDS)
        if bad or "subject" not in fields:
            why = f"unknown placeholder {{{bad[0]}}}" if bad else "no {subject} placeholder"
            raise self.at.error(f"{key} {value!r} has {why}", self.at.key(key))
        return value

    def words(
        self,
        data: Mapping[str, Any],
        key: str,
        default: tuple[str, ...],
        *,
        allow_empty: bool = False,
    ) -> tuple[str, ...]:
        value = data.get(key, list(default))
        ok = isinstance(value, list) and value and all(isinstance(v, str) for v in value)
        words = tuple(" ".join(v.split()) for v in value) if ok else ()
        if not ok or (not allow_empty and not all(words)) or len(set(words)) != len(words):
            raise self.at.error(
                f"{key} must be a list of distinct, non-empty strings", self.at.key(key)
            )
        return words

    def seeds(self, value: Any) -> tuple[int, ...]:
        if _is_count(value) and 1 <= value <= MAX_SEEDS:
            return tuple(range(value))
        counts = isinstance(value, list) and all(
            _is_count(v) and 0 <= v <= SQLITE_INT_MAX for v in value
        )
        if counts and 0 < len(value) <= MAX_SEEDS and len(set(value)) == len(value):
            return tuple(value)
        raise self.at.error(
            f"seeds must be a count from 1 to {MAX_SEEDS} (seeds = 4) or a list of distinct"
            f" seeds from 0 to {SQLITE_INT_MAX} ([0, 7, 42])",
            self.at.key("seeds"),
        )

    def settings(self, value: Any) -> dict[str, Any]:
        header = self.at.table("settings") or self.at.key("settings")
        if not isinstance(value, dict):
            raise self.at.error("settings must be a table of engine settings", header)
        settings = dict(value)
        for key in OWN_SETTINGS:
            if key in settings:
                raise self.at.error(
                    f"settings.{key} is set by the theme itself; remove it",
                    self.at.key(key, after=header or 0),
                )
        size_line = self.at.key("size", after=header or 0)
        if "size" in settings:
            try:
                settings["width"], settings["height"] = parse_size(str(settings.pop("size")))
            except ConfigError as exc:
                raise self.at.error(str(exc), self.at.key("size", after=header or 0)) from exc
        try:
            GenerationConfig.from_dict({**settings, "prompts": "a | b"})
        except ConfigError as exc:  # at the line of the first key at fault, if one is
            known = GenerationConfig.__dataclass_fields__
            bad = [k for k in settings if k not in known or _refused(k, settings[k])]
            line = self.at.key(bad[0], after=header or 0) if bad else header
            if bad and bad[0] in ("width", "height"):
                line = line or size_line
            raise self.at.error(f"settings: {exc}", line or header) from None
        return settings

    def groups(self, value: Any) -> tuple[Group, ...]:
        if not isinstance(value, list) or not value:
            raise self.at.error(
                "no [[groups]]: add at least one group with pairs", self.at.key("groups")
            )
        return tuple(self.group(i, g) for i, g in enumerate(value))

    def group(self, index: int, value: Any) -> Group:
        header = self.at.table("groups", index) or 0
        if not isinstance(value, dict):
            raise self.at.error("each group must be a table with name and pairs", header)
        unknown = sorted(set(value) - {"name", "pairs"})
        if unknown:
            raise self.at.error(
                f"unknown group key {unknown[0]!r} (known: name, pairs)",
                self.at.key(unknown[0], after=header),
            )
        name = self.string(value, "name", required=True)
        pairs = value.get("pairs")
        if not isinstance(pairs, list) or not pairs:
            raise self.at.error(
                f"group {name!r} has no pairs", self.at.key("pairs", after=header) or header
            )
        sets = []
        for entry in pairs:
            ok = isinstance(entry, list) and len(entry) in (2, 3)
            if not ok or not all(isinstance(s, str) and s.strip() for s in entry):
                first = entry[0] if isinstance(entry, list) and entry else entry
                line = self.at.text(f'"{first}"', after=header) if isinstance(first, str) else None
                raise self.at.error(
                    f"group {name!r}: {entry!r} is not 2 or 3 subject names", line or header
                )
            sets.append(tuple(" ".join(s.split()) for s in entry))
        return Group(name, tuple(sets))

    def subjects(self, table: Any, realms: Any, names: set[str]) -> dict[str, Subject]:
        if not isinstance(realms, list) or not all(isinstance(r, str) for r in realms):
            raise self.at.error("realms must be a list of subject names", self.at.key("realms"))
        if not isinstance(table, dict):
            raise self.at.error(
                'subjects must be a table of [subjects."Name"] tables', self.at.key("subjects")
            )
        for name in [*realms, *table]:
            if name not in names:
                raise self.at.error(
                    f"subject {name!r} is not in any group (a typo?)", self.at.name(name)
                )
        subjects = {}
        for name, info in table.items():
            line = self.at.name(name)
            if not isinstance(info, dict) or set(info) - SUBJECT_KEYS:
                raise self.at.error(
                    f"subject {name!r}: keys are {', '.join(sorted(SUBJECT_KEYS))}", line
                )
            if not all(isinstance(info.get(k, ""), str) for k in ("text", "describe", "note")):
                raise self.at.error(f"subject {name!r}: text, describe and note are strings", line)
            realm = info.get("realm", name in realms)
            if not isinstance(realm, bool):
                raise self.at.error(f"subject {name!r}: realm is true or false", line)
            text, describe = info.get("text", "").strip() or name, info.get("describe", "").strip()
            subjects[name] = Subject(name, text, realm, describe, info.get("note", "").strip())
        for name in realms:
            subjects.setdefault(name, Subject(name, name, realm=True))
        return subjects


def check_prompts(theme: Theme, at: _Locator) -> None:
    """Each side must reach the engine as one prompt: no ``|``, no trailing ``:number``."""
    seen: dict[tuple[str, ...], str] = {}
    for group in theme.groups:
        for names in group.sets:
            if names in seen:
                raise at.error(
                    f"{' / '.join(names)} is listed twice ({seen[names]}, {group.name})",
                    at.name(*names, nth=1),
                )
            seen[names] = group.name
            for name in names:
                for doorway, modifier in itertools.product(theme.doorways, theme.modifiers):
                    text = side_text(theme, name, doorway=doorway, modifier=modifier)
                    if [(p.text, p.weight) for p in parse_prompts(text)] != [(text, 1.0)]:
                        raise at.error(
                            f"subject {name!r} gives {text!r}, which the engine would split"
                            " or weigh: remove '|' or a trailing ':number'",
                            at.name(name),
                        )


def _toml_spellings(char: str) -> list[str]:
    """How ``char`` can appear in a TOML file: itself, or a \\u or \\U escape."""
    code = ord(char)
    escapes = [f"\\u{code:04x}", f"\\u{code:04X}", f"\\U{code:08x}", f"\\U{code:08X}"]
    return [char, *escapes]


def _refused(key: str, value: Any) -> bool:
    try:
        GenerationConfig.check_value(key, value)
    except ConfigError:
        return True
    return False


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
