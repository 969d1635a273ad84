"""The image protocols, spelled once: how pixels reach the terminal.

The ``image_protocol`` setting, the preview demo's ``--protocol`` and the imaging package
all take their names from here. It lives in ``core`` because the settings check the
setting, and they must not import Textual (the imaging package is under ``tui/``).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["AUTO", "PROTOCOL_SETTINGS", "Protocol", "not_a_protocol"]


class Protocol(StrEnum):
    """How pixels reach the terminal."""

    KITTY = "kitty"  # the Kitty graphics protocol
    SIXEL = "sixel"
    ITERM2 = "iterm2"  # OSC 1337 inline images
    HALFCELL = "halfcell"  # coloured ▀ cells: two pixels per cell
    UNICODE = "unicode"  # plain text, for output that is not a terminal

    @property
    def is_pixel(self) -> bool:
        """True for the protocols that send real pixels (the terminal scales nothing)."""
        return self in (Protocol.KITTY, Protocol.SIXEL, Protocol.ITERM2)


#: The setting's value that leaves the choice to what the terminal supports.
AUTO = "auto"

#: What the ``image_protocol`` setting takes: ``auto``, then each protocol.
PROTOCOL_SETTINGS: tuple[str, ...] = (AUTO, *(p.value for p in Protocol))


def not_a_protocol(value: object) -> str:
    """The refusal of an ``image_protocol`` value that is none of ``PROTOCOL_SETTINGS``."""
    return f"image_protocol {value!r} is not one of {', '.join(PROTOCOL_SETTINGS)}"
