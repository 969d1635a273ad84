"""Which graphics protocol to use: the protocols, a terminal cell's size, and the choice
from the ``image_protocol`` setting and what the terminal was found to support."""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple

__all__ = [
    "DEFAULT_CELL_SIZE",
    "KITTY_PLACEHOLDERS_SINCE",
    "CellSize",
    "Protocol",
    "kitty_supports_placeholders",
    "resolve_protocol",
]


class Protocol(StrEnum):
    """How pixels reach the terminal."""

    KITTY = "kitty"
    SIXEL = "sixel"
    ITERM2 = "iterm2"
    HALFCELL = "halfcell"
    UNICODE = "unicode"

    @property
    def is_pixel(self) -> bool:
        """True for the protocols that send real pixels (the terminal scales nothing)."""
        return self in (Protocol.KITTY, Protocol.SIXEL, Protocol.ITERM2)


class CellSize(NamedTuple):
    """Size of one terminal cell in pixels."""

    width: int
    height: int


#: What textual-image assumes when the terminal will not say (a VT340's cell).
DEFAULT_CELL_SIZE = CellSize(10, 20)

#: Kitty learnt Unicode-placeholder placements (images that live in text cells) in 0.28.
KITTY_PLACEHOLDERS_SINCE = (0, 28, 0)


def resolve_protocol(
    setting: str | None, detected: Protocol, env: Mapping[str, str] | None = None
) -> Protocol:
    """The protocol to use, from the ``image_protocol`` setting and what was detected.

    ``auto`` takes textual-image's detection (Sixel, then Kitty, then half-cells on a
    terminal, unicode when output is not a terminal) and adds iTerm2, which textual-image
    does not know: chosen when a terminal that offered neither Sixel nor Kitty says it is
    iTerm2 (``TERM_PROGRAM`` locally, ``LC_TERMINAL`` which ssh forwards). Anything else
    forces that protocol.
    """
    env = os.environ if env is None else env
    value = (setting or "auto").strip().lower()
    if value == "auto":
        if detected is Protocol.HALFCELL and _looks_like_iterm2(env):
            return Protocol.ITERM2
        return detected
    try:
        return Protocol(value)
    except ValueError:
        choices = ", ".join(["auto", *(p.value for p in Protocol)])
        raise ValueError(f"image_protocol {setting!r} is not one of {choices}") from None


def _looks_like_iterm2(env: Mapping[str, str]) -> bool:
    return env.get("TERM_PROGRAM") == "iTerm.app" or env.get("LC_TERMINAL") == "iTerm2"


def kitty_supports_placeholders(version: str) -> bool:
    """Kitty >= 0.28 places images with Unicode placeholders; older kitty cannot.

    Other or unknown terminals (no XTVERSION answer) are assumed to, as textual-image
    assumes.
    """
    if not version.startswith("kitty("):
        return True
    try:
        numbers = tuple(int(p) for p in version[6:].rstrip(")").split("."))
    except ValueError:
        return True
    return numbers >= KITTY_PLACEHOLDERS_SINCE
