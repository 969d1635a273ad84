"""Escape sequences for the pixel protocols (built here so they can be tested without a
terminal; the widget decides when to send them)."""

from __future__ import annotations

import threading

from rich.color import Color
from rich.segment import Segment
from rich.style import Style

from doorways_tui.tui.imaging.request import ImageLoadError, Lines

__all__ = [
    "iterm2_sequence",
    "kitty_delete",
    "kitty_place",
    "kitty_placeholder_lines",
    "kitty_transmit",
    "next_kitty_image_id",
    "tmux_wrap",
]


def tmux_wrap(sequence: str) -> str:
    """Wrap a sequence in tmux's passthrough envelope (needs ``allow-passthrough on``)."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"


def _kitty_command(keys: str, payload: str = "", *, tmux: bool = False) -> str:
    sequence = f"\x1b_G{keys}{';' + payload if payload else ''}\x1b\\"
    return tmux_wrap(sequence) if tmux else sequence


def kitty_transmit(
    image_id: int,
    payload: str,
    cols: int,
    rows: int,
    *,
    placeholders: bool = True,
    tmux: bool = False,
    chunk: int = 4096,
) -> str:
    """Send a base64 PNG to the terminal as image ``image_id`` (quietly: ``q=2``, since
    any reply would arrive as keyboard input). With ``placeholders`` it also makes a
    virtual placement of ``cols`` x ``rows`` cells, shown wherever
    :func:`kitty_placeholder_lines` are drawn."""
    parts = []
    chunks = [payload[i : i + chunk] for i in range(0, len(payload), chunk)] or [""]
    for index, data in enumerate(chunks):
        more = 1 if index < len(chunks) - 1 else 0
        keys = f"a=t,f=100,i={image_id},q=2,m={more}" if index == 0 else f"q=2,m={more}"
        parts.append(_kitty_command(keys, data, tmux=tmux))
    if placeholders:
        parts.append(_kitty_command(f"a=p,U=1,i={image_id},c={cols},r={rows},q=2", tmux=tmux))
    return "".join(parts)


def kitty_place(image_id: int, x: int, y: int, *, tmux: bool = False) -> str:
    """Place image ``image_id`` with its top-left corner at screen cell (x, y), at its own
    pixel size (giving cells would stretch it to fill them), without moving the cursor
    (older kitty, without placeholders). Placement id 1 is reused: placing again moves it.

    Through tmux the whole thing, cursor moves included, goes to the outer terminal, so
    it lands right only when the pane starts at the top-left of the window.
    """
    sequence = f"\x1b7\x1b[{y + 1};{x + 1}H\x1b_Ga=p,i={image_id},p=1,C=1,q=2\x1b\\\x1b8"
    return tmux_wrap(sequence) if tmux else sequence


def kitty_delete(image_id: int, *, free: bool = True, tmux: bool = False) -> str:
    """Delete the placements of ``image_id`` (and its data when ``free``)."""
    return _kitty_command(f"a=d,d={'I' if free else 'i'},i={image_id},q=2", tmux=tmux)


def kitty_placeholder_lines(image_id: int, cols: int, rows: int) -> Lines:
    """Text cells that kitty replaces with image ``image_id`` (Unicode placeholders).

    The image id is the cells' foreground colour: a 256-colour index (ids 16-255), which
    tmux and every colour mode pass unchanged, unlike a 24-bit colour.
    """
    from doorways_tui.tui.compat.textual_image import kitty_placeholder_marks

    cell, marks = kitty_placeholder_marks()
    if cols > len(marks) or rows > len(marks):
        raise ImageLoadError("image too large for Kitty placeholders")
    style = Style(color=Color.from_ansi(image_id))
    return tuple(
        (Segment("".join(cell + marks[row] + marks[col] for col in range(cols)), style),)
        for row in range(rows)
    )


def iterm2_sequence(payload: str, cols: int, rows: int, *, tmux: bool = False) -> str:
    """iTerm2 inline image (OSC 1337) drawn at the cursor over ``cols`` x ``rows`` cells."""
    size = len(payload) * 3 // 4
    sequence = (
        f"\x1b]1337;File=inline=1;size={size};width={cols};height={rows};"
        f"preserveAspectRatio=1;doNotMoveCursor=1:{payload}\x07"
    )
    return tmux_wrap(sequence) if tmux else sequence


_kitty_ids = iter(())
_kitty_ids_lock = threading.Lock()


def next_kitty_image_id() -> int:
    """Image ids 16-255, round robin (see :func:`kitty_placeholder_lines`); an id comes
    round again only after 240 newer images, by when its first user has deleted it."""
    global _kitty_ids
    import itertools
    import random

    with _kitty_ids_lock:
        image_id = next(_kitty_ids, None)
        if image_id is None:
            start = random.randrange(16, 256)
            _kitty_ids = itertools.cycle([*range(start, 256), *range(16, start)])
            image_id = next(_kitty_ids)
        return image_id
