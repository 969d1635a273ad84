"""Which graphics protocol to use: a terminal cell's size, and the choice from the
``image_protocol`` setting and what the terminal was found to support. The protocols
themselves are spelled in :mod:`doorways_tui.core.protocols`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

from doorways_tui.core.protocols import AUTO, PROTOCOL_SETTINGS, Protocol, not_a_protocol

__all__ = [
    "DEFAULT_CELL_SIZE",
    "KITTY_PLACEHOLDERS_SINCE",
    "CellSize",
    "Protocol",
    "kitty_supports_placeholders",
    "resolve_protocol",
]


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
    value = (setting or AUTO).strip().lower()
    if value == AUTO:
        if detected is Protocol.HALFCELL and _looks_like_iterm2(env):
            return Protocol.ITERM2
        return detected
    if value not in PROTOCOL_SETTINGS:
        raise ValueError(not_a_protocol(setting))
    return Protocol(value)


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
