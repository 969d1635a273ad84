"""The probe texts CLIP judges a finished image against, as an artist may change them.

No torch here: the settings (``[curation]`` in config.toml, doorways_tui/core/settings.py)
read and check them wherever the app runs; ``doorways_engine.curation`` scores them.

- ``doors``: one text per door count ("a painting of two doorways" -> 2); the count whose
  text wins the softmax is the suggested count.
- ``figures`` against ``empty``: the probability mass on the figure texts is how likely
  figures are.

``digest`` names a probe set (and the way it is scored): a suggestion made against another
digest is stale, and ``doorways index`` judges that image again.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from doorways_engine.config import check_text
from doorways_engine.errors import ConfigError

# Bump when the scoring itself changes (crops, softmax, what a match is): every stored
# suggestion becomes stale, as after a probe change.
SCORING_VERSION = 1
DEFAULT_DUPLICATES = 0.95  # cosine similarity at which two seeds fold into one entry

_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def door_text(count: int) -> str:
    """The default probe for ``count`` doors."""
    noun = "doorway" if count == 1 else "doorways"
    return f"a painting of {_NUMBERS[count]} {noun}"


@dataclass(frozen=True)
class Probes:
    """What CLIP is asked about each image; the defaults follow the Doorways method."""

    doors: tuple[tuple[int, str], ...] = tuple((n, door_text(n)) for n in (1, 2, 3, 4))
    figures: tuple[str, ...] = ("people standing in a doorway", "a crowd")
    empty: tuple[str, ...] = ("an empty, silent landscape",)
    duplicates: float = DEFAULT_DUPLICATES  # not a probe: the app's folding threshold

    def __post_init__(self) -> None:
        counts = [n for n, _ in self.doors]
        if len(set(counts)) != len(counts):
            raise ConfigError("curation: each door count has one probe text")
        for n, text in self.doors:
            if type(n) is not int or not 0 <= n <= 9:
                raise ConfigError(f"curation: door counts are 0-9, got {n!r}")
            _check_probe(f"door probe {n}", text)
        if len(self.doors) == 1:
            raise ConfigError("curation: door probes need two counts or more (or none)")
        for text in (*self.figures, *self.empty):
            _check_probe("figure probe", text)
        if bool(self.figures) != bool(self.empty):
            raise ConfigError("curation: figures and empty probes go together (or neither)")
        if not (0.0 < self.duplicates <= 1.0) or math.isnan(self.duplicates):
            raise ConfigError(
                f"curation: duplicates is a similarity above 0 and at most 1, got {self.duplicates}"
            )

    @property
    def texts(self) -> list[str]:
        """Every probe text once, in a fixed order (what is embedded)."""
        return list(dict.fromkeys([t for _, t in self.doors] + [*self.figures, *self.empty]))

    def digest(self) -> str:
        """A short name for this probe set and how it is scored (duplicates aside)."""
        data = [SCORING_VERSION, [list(d) for d in self.doors], self.figures, self.empty]
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]

    @classmethod
    def from_table(cls, table: Mapping[str, Any], where: str = "curation") -> Probes:
        """From a ``[curation]`` TOML table: ``doors`` a list (one door first) or a table
        of count = text, ``figures``/``empty`` lists of texts, ``duplicates`` a number.
        Anything else is one ConfigError naming ``where``."""
        unknown = sorted(set(table) - {"doors", "figures", "empty", "duplicates"})
        if unknown:
            raise ConfigError(f"{where}: unknown curation setting(s) {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        if "doors" in table:
            kwargs["doors"] = _doors(table["doors"], where)
        for name in ("figures", "empty"):
            if name in table:
                value = table[name]
                if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                    raise ConfigError(f"{where}: curation {name} must be a list of texts")
                kwargs[name] = tuple(value)
        if "duplicates" in table:
            value = table["duplicates"]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{where}: curation duplicates must be a number, got {value!r}")
            kwargs["duplicates"] = float(value)
        try:
            return cls(**kwargs)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def _doors(value: Any, where: str) -> tuple[tuple[int, str], ...]:
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        if len(value) > 9:
            raise ConfigError(f"{where}: curation doors: at most 9 texts (one to nine doors)")
        return tuple((n + 1, text) for n, text in enumerate(value))
    if isinstance(value, dict) and all(isinstance(t, str) for t in value.values()):
        pairs = []
        for key, text in value.items():
            if not str(key).isdigit() or len(str(key)) != 1:
                raise ConfigError(f"{where}: curation doors: {key!r} is not a door count 0-9")
            pairs.append((int(key), text))
        return tuple(sorted(pairs))
    raise ConfigError(
        f"{where}: curation doors must be a list of texts (one door first) or a table"
        ' of count = "text"'
    )


def _check_probe(label: str, text: Any) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"curation: {label} must be some text")
    check_text(label, text)
